"""The simulator CLI, `python -m infrastructure.llm.sim`: real instances started as a subprocess
serve until terminated."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest


def test_instances_serve_until_terminated() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "infrastructure.llm.sim", "--instances", "healthy,error_rate:1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().split() for _ in range(2)]
        assert [mode for mode, _ in lines] == ["healthy", "error_rate"]
        healthy_url, failing_url = (url for _, url in lines)
        with urllib.request.urlopen(f"{healthy_url}/models", timeout=5) as response:
            assert json.loads(response.read())["data"][0]["id"] == "sim-model"
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"{failing_url}/models", timeout=5)
        assert info.value.code == 500
        process.send_signal(signal.SIGTERM)  # SIGINT may be ignored in background jobs
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        process.wait()
