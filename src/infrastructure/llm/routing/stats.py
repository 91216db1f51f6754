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


class CallStats:
    """Counts requests, outcomes, retries, hops and tokens; latencies keep the last `window`."""

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
                "tokens": {
                    "input": self.input_tokens,
                    "output": self.output_tokens,
                    "total": self.input_tokens + self.output_tokens,
                },
                "per_instance": {k: dict(v) for k, v in self.per_instance.items()},
            }
