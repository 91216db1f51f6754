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


@pytest.mark.parametrize(
    "statement",
    ["import infrastructure.llm", "from infrastructure.llm import ConfigError", HELP],
    ids=["import", "an error class", "llm-wrappers --help"],
)
def test_nothing_heavy_is_imported(statement: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(statement=statement, heavy=HEAVY)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.splitlines()[-1] == ""


def test_a_wrapper_class_brings_its_client_when_asked_for() -> None:
    """The check above can fail: the same probe sees openai once the factory is used."""
    statement = "from infrastructure.llm import LLMWrapperFactory"
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(statement=statement, heavy=HEAVY)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "openai" in result.stdout.split()
