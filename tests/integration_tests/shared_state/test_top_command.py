"""`llm-wrappers top --once` from the shared state in Redis, under a test's own key prefix:
a dead instance's open breaker, a stream's slot in flight and the rpm log's admissions, read
by --redis URL --key-prefix and from a config directory's state.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from infrastructure.llm.wrappers.factory import LLMWrapperFactory

from conftest import RunCli, StartSim, openai_model, write_config

pytest.importorskip("rich", reason="the top extra is missing")


def fleet(root: Path, dead_url: str, good_url: str, redis_url: str, key_prefix: str) -> Path:
    models = {"dead": openai_model(dead_url), "good": openai_model(good_url)}
    groups = {
        "g": {
            "echelon1": {"models": ["dead"], "max_retries": 0},
            "echelon2": {"models": ["good"], "concurrency_limit": 4, "rpm_limit": 600},
            "fallback_config": {"circuit_breaker": {"failure_threshold": 1, "recovery_time": 60}},
        }
    }
    directory = write_config(root / "llms", models, groups)
    state = {"backend": "redis", "url": redis_url, "key_prefix": key_prefix}
    (directory / "state.yaml").write_text(yaml.safe_dump(state))
    return directory


def table(frame: str, first: str) -> dict[str, list[str]]:
    """The rows of the table whose first header is `first`: name -> cells after it."""
    lines = frame.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(first + " "))
    found = {}
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        name, *cells = line.split()
        found[name] = cells
    return found


def test_top_shows_what_redis_holds(
    tmp_path: Path,
    start_sim: StartSim,
    dead_url: str,
    redis_url: str,
    key_prefix: str,
    cli: RunCli,
) -> None:
    directory = fleet(tmp_path, dead_url, start_sim().base_url, redis_url, key_prefix)
    with LLMWrapperFactory.from_config_dir(directory) as replica:
        llm = replica.get_wrapper("g_wrapper")
        for prompt in ("one", "two", "three"):  # dead#0 fails once, then its breaker is open
            llm.invoke(prompt)
        stream = llm.stream("held open")
        next(stream)  # the stream holds a slot of g.echelon2 until it is closed
        try:
            by_url = cli("top", "--once", "--redis", redis_url, "--key-prefix", key_prefix)
            by_config = cli("--config-dir", str(directory), "top", "--once")
        finally:
            stream.close()
    for outcome in (by_url, by_config):
        assert outcome.code == 0, outcome.err
        assert f"key prefix {key_prefix!r}" in outcome.out
        instances = table(outcome.out, "INSTANCE")
        # BREAKER FAILURES COOL-DOWN HEALTH, then in flight, calls, calls/s, p95, errors,
        # err/s, kind: unknown
        assert instances["dead#0"] == ["open", "1", *["–"] * 9]
        targets = table(outcome.out, "TARGET")
        # IN FLIGHT, CALLS, CALLS/S: four admissions in the 60 s window, P95, ERRORS, ERR/S
        assert targets["g.echelon2"] == ["1", "–", f"{4 / 60:.2f}", "–", "–", "–"]
    # Redis holds nothing for good#0 (closed, no failures); the config directory names it.
    assert "good#0" not in table(by_url.out, "INSTANCE")
    assert table(by_config.out, "INSTANCE")["good#0"][:2] == ["closed", "0"]


def test_top_of_a_redis_nobody_serves_is_one_line_of_error(cli: RunCli, dead_url: str) -> None:
    port = dead_url.split(":")[2].split("/")[0]
    outcome = cli("top", "--once", "--redis", f"redis://:hunter2-password@127.0.0.1:{port}/0")
    assert outcome.code == 1
    [error] = [line for line in outcome.err.splitlines() if line.startswith("error:")]
    assert error.startswith("error: Redis is out of reach")
    assert "hunter2" not in outcome.err and "Traceback" not in outcome.err
