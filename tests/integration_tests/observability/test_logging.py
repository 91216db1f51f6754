"""The routing's log records over real HTTP: each attempt at DEBUG, breaker changes at INFO,
a call no target answered at WARNING; one line each, named after the wrapper and instance,
never holding a secret; and `llm-wrappers --log-level` shows them."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from infrastructure.llm import LLMWrapperFactory
from infrastructure.llm.errors import AllTargetsFailedError

from conftest import StartSim, openai_model, write_config

SECRET = "sk-test-secret"  # the api_key openai_model() configures


def failover_dir(root: Path, failing: str, healthy: str) -> Path:
    models = {"bad": openai_model(failing), "good": openai_model(healthy)}
    groups = {
        "g": {
            "echelon1": {"models": ["bad"], "max_retries": 0},
            "echelon2": {"models": ["good"]},
            "fallback_config": {"circuit_breaker": {"failure_threshold": 1}},
        }
    }
    return write_config(root / "llms", models, groups)


def records(caplog: pytest.LogCaptureFixture) -> list[tuple[str, int, str]]:
    return [
        (r.name, r.levelno, r.getMessage())
        for r in caplog.records
        if r.name.startswith("infrastructure.llm")
    ]


def test_a_failover_is_logged_attempt_by_attempt(
    tmp_path: Path, start_sim: StartSim, caplog: pytest.LogCaptureFixture
) -> None:
    failing, healthy = start_sim("echo_auth"), start_sim("healthy")
    directory = failover_dir(tmp_path, failing.base_url, healthy.base_url)
    with (
        LLMWrapperFactory.from_config_dir(directory) as factory,
        caplog.at_level(logging.DEBUG, logger="infrastructure.llm"),
    ):
        factory.get_wrapper("g_wrapper").invoke("hi")
    found = records(caplog)
    engine = "infrastructure.llm.routing.engine"
    failed = [(lvl, m) for n, lvl, m in found if n == engine and " failed after " in m]
    assert len(failed) == 1 and failed[0][0] == logging.DEBUG
    failed_message = failed[0][1]
    assert failed_message.startswith("g_wrapper: attempt 1 on bad#0 failed after ")
    assert "(misconfigured): " in failed_message
    assert (engine, logging.DEBUG) in {(n, lvl) for n, lvl, m in found if "falling back" in m}
    answered = [m for n, _, m in found if " answered in " in m]
    assert len(answered) == 1 and answered[0].startswith("g_wrapper: attempt 2 on good#0")
    assert (
        "infrastructure.llm.routing.drivers",
        logging.INFO,
        "breaker g:bad#0: closed -> open",
    ) in found
    assert all("\n" not in m for _, _, m in found)
    assert SECRET not in caplog.text  # the server echoed the key in its 401


def test_a_call_no_target_answered_is_one_warning(
    tmp_path: Path, start_sim: StartSim, caplog: pytest.LogCaptureFixture
) -> None:
    directory = failover_dir(
        tmp_path, start_sim("error_rate:1.0").base_url, start_sim("error_rate:1.0").base_url
    )
    with (
        LLMWrapperFactory.from_config_dir(directory) as factory,
        caplog.at_level(logging.INFO, logger="infrastructure.llm"),
        pytest.raises(AllTargetsFailedError),
    ):
        factory.get_wrapper("g_wrapper").invoke("hi")
    warnings = [(n, m) for n, lvl, m in records(caplog) if lvl == logging.WARNING]
    assert len(warnings) == 1
    name, message = warnings[0]
    assert name == "infrastructure.llm.routing.router"
    assert message.startswith("g_wrapper: g: no target answered in ")
    assert "bad#0" in message and "good#0" in message and "\n" not in message


def test_the_command_line_takes_a_log_level(tmp_path: Path, start_sim: StartSim) -> None:
    directory = failover_dir(
        tmp_path, start_sim("error_rate:1.0").base_url, start_sim("healthy").base_url
    )
    command = [sys.executable, "-m", "infrastructure.llm.cli", "--config-dir", str(directory)]
    quiet = subprocess.run(
        [*command, "chat", "g_wrapper", "hi"], capture_output=True, text=True, timeout=60
    )
    loud = subprocess.run(
        [*command, "--log-level", "debug", "chat", "g_wrapper", "hi"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert quiet.returncode == loud.returncode == 0, loud.stderr
    assert "attempt 1 on bad#0 failed" not in quiet.stderr
    assert (
        "DEBUG infrastructure.llm.routing.engine: g_wrapper: attempt 1 on bad#0 failed"
        in loud.stderr
    )
    assert "INFO infrastructure.llm.routing.drivers: breaker g:bad#0: closed -> open" in loud.stderr
