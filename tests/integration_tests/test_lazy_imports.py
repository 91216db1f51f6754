"""Start-up stays light: `import infrastructure.llm` and `llm-wrappers --help`, each in a fresh
interpreter, import none of the client and graph libraries (they load when a call needs them)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("openai", "langchain_openai", "langgraph")

PROBE = """
import sys
{statement}
print(" ".join(name for name in {heavy!r} if name in sys.modules))
"""

HELP = """
from infrastructure.llm.cli import main
try:
    main(["--help"])
except SystemExit:
    pass
"""


def heavy_modules_after(statement: str) -> list[str]:
    """Which of HEAVY a fresh interpreter has imported once it ran `statement`."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(statement=statement, heavy=HEAVY)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.splitlines()[-1].split()


@pytest.mark.parametrize(
    "statement",
    ["import infrastructure.llm", "from infrastructure.llm import ConfigError", HELP],
    ids=["import", "an error class", "llm-wrappers --help"],
)
def test_nothing_heavy_is_imported(statement: str) -> None:
    assert heavy_modules_after(statement) == []


def test_a_wrapper_class_brings_its_client_when_asked_for() -> None:
    """The check above can fail: the same probe sees openai once the factory is used."""
    assert "openai" in heavy_modules_after("from infrastructure.llm import LLMWrapperFactory")
