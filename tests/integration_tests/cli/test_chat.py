"""`llm-wrappers chat`: the answer on stdout, what served it on stderr, clean failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import API_KEY, RunCli, StartSim, openai_model, write_config


def _served(err: str) -> dict[str, str]:
    """The `served by: key=value ...` line as a dict."""
    line = next(line for line in err.splitlines() if line.startswith("served by: "))
    return dict(field.split("=", 1) for field in line.removeprefix("served by: ").split())


@pytest.fixture
def config_dir(tmp_path: Path, start_sim: StartSim) -> str:
    """Group `fast`: a simulator, then a mock; pool `fast_pool` over the simulator."""
    directory = write_config(
        tmp_path / "llms",
        {"sim": openai_model(start_sim().base_url), "echo": {"provider": "mock", "model": "e"}},
        {"fast": {"echelon1": {"models": ["sim"]}, "echelon2": {"models": ["echo"]}}},
        {"fast_pool": {"task_groups": ["fast.echelon1"]}},
    )
    return str(directory)


def test_invoke_prints_the_answer_and_what_served_it(cli: RunCli, config_dir: str) -> None:
    outcome = cli("chat", "fast_wrapper", "hello there", "--config-dir", config_dir)
    assert outcome.code == 0, outcome.err
    assert outcome.out == "Simulated reply to: hello there\n"
    served = _served(outcome.err)
    assert served["wrapper"] == "fast_wrapper"
    assert served["target"] == "fast.echelon1"
    assert served["instance"] == "sim#0"
    assert (served["attempts"], served["fallbacks"], served["hedged"]) == ("1", "0", "no")
    assert served["latency"].endswith("s")
    assert API_KEY not in outcome.out + outcome.err


def test_stream_prints_the_answer_and_what_served_it(cli: RunCli, config_dir: str) -> None:
    argv = ["chat", "fast_wrapper", "hi", "--stream", "--system", "Be brief."]
    outcome = cli("--config-dir", config_dir, *argv)
    assert outcome.code == 0, outcome.err
    assert outcome.out == "Simulated reply to: hi\n"
    served = _served(outcome.err)
    assert served["instance"] == "sim#0"
    assert "first_token" in served


def test_a_bare_group_name_means_its_wrapper(cli: RunCli, config_dir: str) -> None:
    outcome = cli("--config-dir", config_dir, "chat", "fast", "hi")
    assert outcome.code == 0, outcome.err
    assert _served(outcome.err)["wrapper"] == "fast_wrapper"


def test_a_pool_name_means_its_wrapper(cli: RunCli, config_dir: str) -> None:
    outcome = cli("--config-dir", config_dir, "chat", "fast_pool", "hi")
    assert outcome.code == 0, outcome.err
    served = _served(outcome.err)
    assert (served["wrapper"], served["pool"], served["instance"]) == (
        "fast_pool_wrapper",
        "fast_pool",
        "sim#0",
    )


def test_one_echelon_gets_a_wrapper_of_its_own(cli: RunCli, config_dir: str) -> None:
    outcome = cli("--config-dir", config_dir, "chat", "fast.echelon2", "hi")
    assert outcome.code == 0, outcome.err
    assert outcome.out == "Mock reply to: hi\n"
    served = _served(outcome.err)
    assert (served["wrapper"], served["target"]) == ("fast.echelon2_wrapper", "fast.echelon2")


def test_an_unknown_name_lists_the_known_wrappers(cli: RunCli, config_dir: str) -> None:
    outcome = cli("--config-dir", config_dir, "chat", "slow", "hi")
    assert outcome.code == 1
    assert outcome.out == ""
    assert "no wrapper, task group or polling pool named 'slow'" in outcome.err
    assert "known wrappers: fast_pool_wrapper, fast_wrapper" in outcome.err


def test_an_unknown_echelon_is_named(cli: RunCli, config_dir: str) -> None:
    outcome = cli("--config-dir", config_dir, "chat", "fast.echelon7", "hi")
    assert outcome.code == 1
    assert "has no echelon7" in outcome.err


def test_no_instance_answering_exits_one(cli: RunCli, tmp_path: Path, dead_url: str) -> None:
    directory = write_config(
        tmp_path / "llms",
        {"sim": openai_model(dead_url)},
        {"down": {"echelon1": {"models": ["sim"], "max_retries": 0}}},
    )
    for extra in ([], ["--stream"]):
        outcome = cli("--config-dir", str(directory), "chat", "down", "hi", *extra)
        assert outcome.code == 1
        assert outcome.out == ""
        assert outcome.err.startswith("error: AllTargetsFailedError: ")
        assert "sim#0" in outcome.err
        assert API_KEY not in outcome.err


def test_a_broken_stream_keeps_its_partial_answer(
    cli: RunCli, tmp_path: Path, start_sim: StartSim
) -> None:
    directory = write_config(
        tmp_path / "llms",
        {"sim": openai_model(start_sim("cut_stream:3").base_url)},
        {"cut": {"echelon1": {"models": ["sim"], "max_retries": 0}}},
    )
    outcome = cli("--config-dir", str(directory), "chat", "cut", "hello", "--stream")
    assert outcome.code == 1
    partial = outcome.out.rstrip("\n")
    assert partial
    assert "Simulated reply to: hello".startswith(partial)
    assert partial != "Simulated reply to: hello"
    assert "error: cut: stream from sim#0 broke" in outcome.err
    assert "cause: " in outcome.err
