"""Counters of what a simulator did with chat-completion (and embeddings) requests, readable
from any thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

Outcome = Literal["completed", "junk", "errors_sent", "cancelled", "cut", "bad_requests"]


@dataclass(frozen=True)
class SimStats:
    """A snapshot of chat-completion counters.

    `requests` counts requests received; each one ends in at most one outcome: `completed`
    (a valid completion fully written, dripped ones included), `junk` (a 200 that is no
    usable completion: the html, no_choices, bad_json and empty_stream faults), `errors_sent`
    (an error status the fault chose: 500, 429, the status fault's code, echo_auth's 401),
    `cancelled` (the client went away before the answer was finished), `cut` (the
    cut_stream fault dropped the connection) or `bad_requests` (4xx for invalid input).
    `peak_in_flight` is the most requests that were in flight at once since the last reset.
    `embeddings` counts `/embeddings` requests received, whatever their answer; no other
    counter includes them.
    """

    requests: int = 0
    completed: int = 0
    junk: int = 0
    errors_sent: int = 0
    cancelled: int = 0
    cut: int = 0
    bad_requests: int = 0
    peak_in_flight: int = 0
    embeddings: int = 0

    @property
    def in_flight(self) -> int:
        """Requests received that have no outcome yet (e.g. hung or still streaming)."""
        finished = (
            self.completed
            + self.junk
            + self.errors_sent
            + self.cancelled
            + self.cut
            + self.bad_requests
        )
        return self.requests - finished


class StatsRecorder:
    """Thread-safe counters: the server loop records, tests read and wait."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._stats = SimStats()

    def received(self) -> None:
        """Count one chat-completion request."""
        with self._changed:
            stats = replace(self._stats, requests=self._stats.requests + 1)
            self._stats = replace(stats, peak_in_flight=max(stats.peak_in_flight, stats.in_flight))
            self._changed.notify_all()

    def embeddings_received(self) -> None:
        """Count one embeddings request."""
        with self._changed:
            self._stats = replace(self._stats, embeddings=self._stats.embeddings + 1)
            self._changed.notify_all()

    def finished(self, outcome: Outcome) -> None:
        """Count how one request ended."""
        with self._changed:
            self._stats = replace(self._stats, **{outcome: getattr(self._stats, outcome) + 1})
            self._changed.notify_all()

    def snapshot(self) -> SimStats:
        """The current counters."""
        with self._changed:
            return self._stats

    def reset(self) -> None:
        """Zero all counters."""
        with self._changed:
            self._stats = SimStats()
            self._changed.notify_all()

    def wait_for(self, condition: Callable[[SimStats], bool], timeout: float) -> SimStats:
        """Block until `condition(stats)` holds; raise TimeoutError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition(self._stats):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"simulator stats never matched; last seen {self._stats}")
                self._changed.wait(remaining)
            return self._stats
