"""The sync transport's watchdog: it cuts responses whose attempt outlived its limit, leaves
ended attempts alone, and forgets them so its table stays small (no sockets: fake streams)."""

from __future__ import annotations

import threading

from infrastructure.llm.providers.transport import Watchdog
from infrastructure.llm.resilience.time_limits import AttemptLimit


class FakeSocket:
    def __init__(self) -> None:
        self.shut = threading.Event()

    def shutdown(self, how: int) -> None:
        self.shut.set()


class FakeStream:
    def __init__(self) -> None:
        self.socket = FakeSocket()

    def get_extra_info(self, name: str) -> FakeSocket | None:
        return self.socket if name == "socket" else None


def started(timeout: float) -> AttemptLimit:
    limit = AttemptLimit(timeout)
    limit.start()
    return limit


def test_a_response_past_its_limit_is_cut_and_an_ended_one_is_not() -> None:
    watchdog = Watchdog()
    late, done = FakeStream(), FakeStream()
    ended = started(0.0)
    ended.end()
    watchdog.watch(ended, done)
    overdue = started(0.01)
    watchdog.watch(overdue, late)
    assert late.socket.shut.wait(5.0)
    assert overdue.cut and not ended.cut and not done.socket.shut.is_set()


def test_an_earlier_limit_wakes_a_watchdog_sleeping_until_a_later_one() -> None:
    watchdog = Watchdog()
    watchdog.watch(started(3600.0), FakeStream())
    soon = FakeStream()
    watchdog.watch(started(0.01), soon)
    assert soon.socket.shut.wait(5.0)


def test_entries_of_ended_attempts_do_not_pile_up() -> None:
    watchdog = Watchdog()
    for _ in range(10_000):
        limit = started(3600.0)
        watchdog.watch(limit, FakeStream())
        limit.end()
    assert len(watchdog._active) <= 2 * Watchdog._KEEP
