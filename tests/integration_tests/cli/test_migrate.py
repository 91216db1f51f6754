"""`scripts/migrate_llm_config.py` run as a process of its own: the script's smoke test.

Its other cases, and `llm-wrappers migrate`, run in-process: cli/test_migrate.py in the unit tier.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "tests" / "data" / "legacy_configs"


@pytest.fixture
def legacy_dir(tmp_path: Path) -> Path:
    """A fresh copy of the `global_chain` legacy example."""
    return Path(shutil.copytree(EXAMPLES / "global_chain", tmp_path / "llms"))


# The id the case had beside the in-process ones (options1-1, options2-0).
@pytest.mark.parametrize(("options", "status"), [pytest.param((), 0, id="options0-0")])
def test_the_script_is_the_same_command(
    legacy_dir: Path, options: tuple[str, ...], status: int
) -> None:
    before = (legacy_dir / "groups" / "chat.yaml").read_bytes()
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "migrate_llm_config.py"),
            "--config-dir",
            str(legacy_dir),
            *options,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == status, result.stdout + result.stderr
    after = (legacy_dir / "groups" / "chat.yaml").read_bytes()
    assert (after != before) == (options == ())
    assert "legacy global fallback, inherited" not in result.stderr  # no loader warning
