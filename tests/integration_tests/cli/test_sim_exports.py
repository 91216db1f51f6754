"""`llm-wrappers sim`: the export lines it prints point the example config at its instances,
and a port in use is a one-line error."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import pytest

from infrastructure.llm import LLMWrapperFactory
from infrastructure.llm.example_config import ENDPOINT_VARIABLES, EXAMPLE_CONFIG_DIR

from conftest import RunCli

SIM = "from infrastructure.llm.cli import main; raise SystemExit(main(['sim', *{args!r}]))"


def test_the_printed_exports_route_the_example_config_to_the_simulator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", SIM.format(args=["--instances", "healthy"])],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        mode, url = process.stdout.readline().rstrip("\n").split("\t")
        assert mode == "healthy"
        assert process.stdout.readline().startswith("# In another shell")
        exports = [process.stdout.readline().rstrip("\n") for _ in ENDPOINT_VARIABLES]
        assert exports == [f"export {name}={url}" for name in ENDPOINT_VARIABLES]
        for line in exports:
            name, value = line.removeprefix("export ").split("=", 1)
            monkeypatch.setenv(name, value)
        factory = LLMWrapperFactory.from_config_dir(EXAMPLE_CONFIG_DIR)
        answer = factory.get_wrapper("fast_group_wrapper").invoke("ping")
        assert answer.content == "Simulated reply to: ping"
        assert answer.response_metadata["routing"]["instance"] == "openai-gpt4#0"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        process.wait()


def test_a_port_in_use_is_one_line_not_a_traceback(cli: RunCli) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        outcome = cli("sim", "--port", str(port))
    assert outcome.code == 1
    assert outcome.err == (
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use "
        "(pick another --port, or 0 for free ones)\n"
    )
    assert outcome.out == ""
