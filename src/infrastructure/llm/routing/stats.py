"""Call statistics of one router (one wrapper), with a bounded latency window."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from langchain_core.messages.ai import UsageMetadata

from infrastructure.llm.routing.call_record import CallRecord


def _percentile(ordered: list[float], fraction: float) -> float | None:
    if not ordered:
        return None
    index = min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))
    return ordered[index]


def _ratio(total: float, count: int) -> float | None:
    return total / count if count else None


class CallStats:
    """Counts requests, outcomes, retries, hops and tokens; latencies keep the last `window`.

    Averages (as seed 001 names them: `avg_latency_ms`, `avg_tokens_per_request`) are over
    every successful call since the last reset; each instance also gets its `error_rate`.
    """

    def __init__(self, window: int = 1000) -> None:
        self._lock = threading.Lock()
        self._window = window
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.total_requests = 0
            self.successful_requests = 0
            self.failed_requests = 0
            self.fallbacks = 0
            self.retries = 0
            self.hedges = 0
            self.input_tokens = 0
            self.output_tokens = 0
            self.latency_sum = 0.0
            self.latencies: deque[float] = deque(maxlen=self._window)
            self.per_instance: dict[str, dict[str, int]] = {}

    def record(
        self, record: CallRecord, *, ok: bool, latency: float, usage: UsageMetadata | None
    ) -> None:
        """Fold one finished call into the totals."""
        with self._lock:
            self.total_requests += 1
            if ok:
                self.successful_requests += 1
                self.latency_sum += latency
                self.latencies.append(latency)
            else:
                self.failed_requests += 1
            self.fallbacks += record.fallbacks
            self.retries += record.retries
            self.hedges += record.hedges
            if usage:
                self.input_tokens += usage.get("input_tokens", 0)
                self.output_tokens += usage.get("output_tokens", 0)
            for instance_id, succeeded in record.instance_outcomes:
                counts = self.per_instance.get(instance_id)
                if counts is None:
                    counts = self.per_instance[instance_id] = {"requests": 0, "failures": 0}
                counts["requests"] += 1
                if not succeeded:
                    counts["failures"] += 1

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
                    instance: {**counts, "error_rate": counts["failures"] / counts["requests"]}
                    for instance, counts in self.per_instance.items()
                },
            }
