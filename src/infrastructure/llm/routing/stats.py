"""Call statistics of one router (one wrapper), with a bounded latency window, and what the
metrics endpoint reads: attempts by outcome, latency histograms (of calls, and of attempts per
instance) and calls in flight."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from langchain_core.messages.ai import UsageMetadata

from infrastructure.llm.routing.call_record import CallRecord
from infrastructure.llm.routing.histogram import Histogram


def _percentile(ordered: list[float], fraction: float) -> float | None:
    if not ordered:
        return None
    index = min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))
    return ordered[index]


def _ratio(total: float, count: int) -> float | None:
    return total / count if count else None


class _InstanceTally:
    """One instance's attempts: how many ended each way ("ok" or the error kind), and the
    seconds of those that answered and of those that failed."""

    __slots__ = ("answered", "failed", "outcomes")

    def __init__(self) -> None:
        self.outcomes: dict[str, int] = {}
        self.answered = Histogram()
        self.failed = Histogram()

    def counts(self) -> dict[str, Any]:
        """Attempts, failed attempts and their share, as `get_stats()` shows them."""
        failures = self.failed.count
        requests = self.answered.count + failures
        return {"requests": requests, "failures": failures, "error_rate": failures / requests}

    def timings(self) -> dict[str, Histogram]:
        """The histograms holding an attempt, by outcome: "ok" or "error"."""
        found = {"ok": self.answered, "error": self.failed}
        return {outcome: histogram for outcome, histogram in found.items() if histogram.count}


class CallStats:
    """Counts requests, outcomes, retries, hops and tokens; latencies keep the last `window`.

    Averages (as seed 001 names them: `avg_latency_ms`, `avg_tokens_per_request`) are over
    every successful call since the last reset; each instance also gets its `error_rate`.
    """

    def __init__(self, window: int = 1000) -> None:
        self._lock = threading.Lock()
        self._window = window
        self.in_flight = 0  # calls started and not ended; a reset leaves it
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.total_requests = 0
            self.successful_requests = 0
            self.failed_requests = 0
            self.fallbacks = 0
            self.retries = 0
            self.hedges = 0
            self.offline_answers = 0  # calls no instance answered, answered by the mock
            self.input_tokens = 0
            self.output_tokens = 0
            self.latency_sum = 0.0
            self.latencies: deque[float] = deque(maxlen=self._window)
            self.per_instance: dict[str, _InstanceTally] = {}
            self.call_seconds = Histogram()
            self.first_chunk_seconds = Histogram()

    def started(self) -> None:
        """A call began (it ends in `record`, or `abandoned` if it was cancelled)."""
        with self._lock:
            self.in_flight += 1

    def abandoned(self) -> None:
        """A call was cancelled before it ended."""
        with self._lock:
            self.in_flight -= 1

    def answered_offline(self) -> None:
        """A call no instance answered was answered by the offline fallback (the call itself
        was already counted as failed)."""
        with self._lock:
            self.offline_answers += 1

    def record(
        self,
        record: CallRecord,
        *,
        ok: bool,
        latency: float,
        usage: UsageMetadata | None,
        first_chunk: float | None = None,
    ) -> None:
        """Fold one finished call into the totals; a stream's `first_chunk` is its seconds to
        the first chunk."""
        with self._lock:
            self.in_flight -= 1
            self.total_requests += 1
            if ok:
                self.successful_requests += 1
                self.latency_sum += latency
                self.latencies.append(latency)
                self.call_seconds.observe(latency)
                if first_chunk is not None:
                    self.first_chunk_seconds.observe(first_chunk)
            else:
                self.failed_requests += 1
            self.fallbacks += record.fallbacks
            self.retries += record.retries
            self.hedges += record.hedges
            if usage:
                self.input_tokens += usage.get("input_tokens", 0)
                self.output_tokens += usage.get("output_tokens", 0)
            tallies = self.per_instance
            for instance_id, outcome, seconds in record.instance_outcomes:
                tally = tallies.get(instance_id)
                if tally is None:
                    tally = tallies[instance_id] = _InstanceTally()
                outcomes = tally.outcomes
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
                if outcome == "ok":
                    tally.answered.observe(seconds)
                else:
                    tally.failed.observe(seconds)

    def for_metrics(self) -> dict[str, Any]:
        """A consistent copy of what the metrics endpoint exposes."""
        with self._lock:
            return {
                "ok": self.successful_requests,
                "error": self.failed_requests,
                "fallbacks": self.fallbacks,
                "retries": self.retries,
                "hedges": self.hedges,
                "offline_answers": self.offline_answers,
                "in_flight": self.in_flight,
                "attempts": {
                    (instance, outcome): count
                    for instance, tally in self.per_instance.items()
                    for outcome, count in tally.outcomes.items()
                },
                "call_seconds": (self.call_seconds.cumulative(), self.call_seconds.total),
                "first_chunk_seconds": (
                    self.first_chunk_seconds.cumulative(),
                    self.first_chunk_seconds.total,
                ),
                "attempt_seconds": {
                    (instance, outcome): (histogram.cumulative(), histogram.total)
                    for instance, tally in self.per_instance.items()
                    for outcome, histogram in tally.timings().items()
                },
            }

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            ordered = sorted(self.latencies)
            tokens = self.input_tokens + self.output_tokens
            return {
                "total_requests": self.total_requests,
                "successful_requests": self.successful_requests,
                "failed_requests": self.failed_requests,
                "success_rate": (
                    self.successful_requests / self.total_requests if self.total_requests else None
                ),
                "fallbacks": self.fallbacks,
                "retries": self.retries,
                "hedges": self.hedges,
                "offline_answers": self.offline_answers,
                "latency_p50": _percentile(ordered, 0.50),
                "latency_p95": _percentile(ordered, 0.95),
                "avg_latency_ms": _ratio(self.latency_sum * 1000, self.successful_requests),
                "tokens": {
                    "input": self.input_tokens,
                    "output": self.output_tokens,
                    "total": tokens,
                },
                "avg_tokens_per_request": _ratio(tokens, self.successful_requests),
                "per_instance": {
                    instance: tally.counts() for instance, tally in self.per_instance.items()
                },
            }
