"""The runnable examples run and say what they promise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_quickstart_answers_every_call_despite_failing_instances() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "11/11 calls answered" in result.stdout
    assert "Simulated reply to: What does a circuit breaker do?" in result.stdout
    assert "fleet#dead     open" in result.stdout
