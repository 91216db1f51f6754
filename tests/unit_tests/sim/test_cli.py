"""The simulator CLI: argument errors. Real instances, started as a subprocess, are tested in
the integration tier (sim/test_cli.py)."""

from __future__ import annotations

import pytest

from infrastructure.llm.sim.cli import main


def test_bad_mode_exits_with_the_parse_message(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--mode", "slow:fast"])
    assert info.value.code == 2
    assert "expected a number in fault 'slow:fast'" in capsys.readouterr().err


def test_mode_and_instances_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--mode", "hang", "--instances", "healthy"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_bad_status_fault_exits_with_the_parse_message(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--instances", "healthy,status:200:fine"])
    assert info.value.code == 2
    assert "got 200 (in fault 'status:200:fine')" in capsys.readouterr().err


def test_help_lists_the_new_modes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for syntax in ("drip:0.05", "html", "no_choices", "bad_json", "empty_stream", "hang_chat"):
        assert syntax in help_text
    assert "status:400:No connected db." in help_text
    assert "echo_auth" in help_text
