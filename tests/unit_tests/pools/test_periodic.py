"""Periodic rounds on a daemon thread: they repeat, a failing round is logged, stop ends them."""

from __future__ import annotations

import logging
import threading

import pytest

from infrastructure.llm.fleet.periodic import Periodic


def test_rounds_repeat_survive_a_failure_and_stop(caplog: pytest.LogCaptureFixture) -> None:
    rounds: list[int] = []
    third = threading.Event()

    def run_round(stop: threading.Event) -> None:
        rounds.append(len(rounds))
        if len(rounds) >= 3:
            third.set()
        if len(rounds) == 1:
            raise RuntimeError("first round breaks")

    log = logging.getLogger("test.periodic")
    periodic = Periodic("test-rounds", 0.001, run_round, "test round", log)
    with caplog.at_level(logging.ERROR, logger="test.periodic"):
        periodic.start()
        periodic.start()  # idempotent: still one thread
        assert third.wait(10)
        assert periodic.running
        assert periodic.stop()
    assert not periodic.running
    assert periodic.stop()  # idempotent
    assert "test round failed" in caplog.text
    assert [t for t in threading.enumerate() if t.name == "test-rounds"] == []


def test_wait_first_leaves_the_first_round_an_interval_away() -> None:
    rounds: list[int] = []
    periodic = Periodic(
        "test-wait", 60.0, lambda stop: rounds.append(1), "test", logging.getLogger()
    )
    periodic.start(wait_first=True)
    assert periodic.running
    assert periodic.stop()
    assert rounds == []
