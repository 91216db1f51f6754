"""Secrets stay out of errors even when a server echoes them back: the error a caller
catches, its attempts, its traceback, what callbacks see, histories, reprs and CLI lines."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler

from infrastructure.llm.cli.app import main
from infrastructure.llm.errors import AllTargetsFailedError, ConfigError
from infrastructure.llm.fleet.task_group_manager import TaskGroupManager
from infrastructure.llm.wrappers.task_group import TaskGroupWrapper

from conftest import StartSim, write_config
from routing_helpers import CALL_MODES, answer

# Not shaped like an OpenAI key, so only the remembered value can mask it.
KEY = "plainvalue-7Hq2xZ9LmK4"
PASSWORD = "hunter2-but-longer"


class ErrorSeen(BaseCallbackHandler):
    def __init__(self) -> None:
        self.errors: list[str] = []

    def on_llm_error(self, error: BaseException, **_: Any) -> None:
        self.errors.append(f"{error!r} {error}")


def echoing_config(tmp_path: Path, url: str) -> Path:
    models = {"m": {"provider": "openai", "model": "m", "api_key": KEY, "base_url": url}}
    return write_config(tmp_path / "llms", models, {"g": {"echelon1": {"models": ["m"]}}})


def everything_shown(failed: AllTargetsFailedError) -> str:
    return "\n".join(
        [
            str(failed),
            repr(failed),
            *failed.attempts,
            str(failed.last_error),
            repr(failed.last_error),
            "".join(traceback.format_exception(failed)),
        ]
    )


@pytest.mark.parametrize("mode", CALL_MODES)
def test_a_key_echoed_by_a_401_is_masked_everywhere(
    mode: str, start_sim: StartSim, tmp_path: Path
) -> None:
    echoing = start_sim("echo_auth")
    manager = TaskGroupManager.from_config_dir(echoing_config(tmp_path, echoing.base_url))
    wrapper = TaskGroupWrapper(target="g", task_group_manager=manager)
    seen = ErrorSeen()
    with pytest.raises(AllTargetsFailedError) as failed:
        answer(wrapper.with_config(callbacks=[seen]), mode, "hi")
    assert echoing.stats.errors_sent >= 1  # the server did echo the key back
    shown = everything_shown(failed.value) + "".join(seen.errors)
    assert "Authorization header" in shown
    assert KEY not in shown
    assert KEY not in repr(wrapper) and KEY not in str(wrapper.get_stats())


def test_the_cli_never_prints_the_echoed_key(
    start_sim: StartSim, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    echoing = start_sim("echo_auth")
    directory = echoing_config(tmp_path, echoing.base_url)
    status = main(["chat", "g_wrapper", "hi", "--config-dir", str(directory)])
    captured = capsys.readouterr()
    assert status == 1
    assert "401" in captured.err or "Authentication" in captured.err
    assert KEY not in captured.out + captured.err


def test_a_password_in_a_url_is_never_shown(
    start_sim: StartSim, tmp_path: Path, dead_url: str
) -> None:
    url = dead_url.replace("http://", f"http://user:{PASSWORD}@")
    models = {"m": {"provider": "openai", "model": "m", "base_url": url}}
    directory = write_config(tmp_path / "llms", models, {"g": {"echelon1": {"models": ["m"]}}})
    wrapper = TaskGroupWrapper(
        target="g", task_group_manager=TaskGroupManager.from_config_dir(directory)
    )
    with pytest.raises(AllTargetsFailedError) as failed:
        wrapper.invoke("hi")
    instance = wrapper.routed_instances()[0]
    shown = everything_shown(failed.value) + repr(instance) + str(instance.describe())
    assert PASSWORD not in shown
    assert PASSWORD not in str(wrapper.health_check(timeout=0.5))


def test_a_key_pasted_into_base_url_is_not_echoed_by_the_config_error(tmp_path: Path) -> None:
    models = {"m": {"provider": "openai", "model": "m", "base_url": KEY}}
    directory = write_config(tmp_path / "llms", models, {"g": {"echelon1": {"models": ["m"]}}})
    with pytest.raises(ConfigError) as failed:
        TaskGroupManager.from_config_dir(directory)
    assert "models.m.base_url" in str(failed.value)
    assert KEY not in str(failed.value)
