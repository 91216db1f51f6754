"""Read an instance's load out of vLLM's Prometheus text (`GET /metrics`), without I/O.

Only the few samples the load-aware rotation uses are read: requests running and waiting,
KV-cache usage, and the prefix-cache counters. Lines that do not parse are skipped, so a
server adding metrics or a slightly odd exposition never breaks the reading.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

from infrastructure.llm.resilience.records import LoadRecord

RUNNING = "vllm:num_requests_running"
WAITING = "vllm:num_requests_waiting"
KV_CACHE_USAGE = ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc")
"""The KV-cache gauge under its current name, then the name older vLLM releases use."""
PREFIX_QUERIES = "vllm:prefix_cache_queries_total"
PREFIX_HITS = "vllm:prefix_cache_hits_total"
_WANTED = frozenset({RUNNING, WAITING, *KV_CACHE_USAGE, PREFIX_QUERIES, PREFIX_HITS})

# `name{labels} value [timestamp]` or `name value [timestamp]`.
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?\s*$")
# One `key="value"` label; a value may hold escaped quotes and backslashes.
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


def parse_load(text: str, model: str) -> LoadRecord | None:
    """The load `text` reports for `model` (samples labelled `model_name=<model>`; when no
    sample carries that label, every sample of a metric is summed). None when the text
    reports neither requests running nor waiting: it is no vLLM metrics page."""
    matching: dict[str, float] = {}
    overall: dict[str, float] = {}
    for name, labels, value in _samples(text):
        overall[name] = overall.get(name, 0.0) + value
        if labels.get("model_name") == model:
            matching[name] = matching.get(name, 0.0) + value
    found = matching if RUNNING in matching or WAITING in matching else overall
    if RUNNING not in found and WAITING not in found:
        return None
    usage = next((found[name] for name in KV_CACHE_USAGE if name in found), None)
    queries = found.get(PREFIX_QUERIES)
    hit_rate = None
    if queries and PREFIX_HITS in found:
        hit_rate = min(max(found[PREFIX_HITS] / queries, 0.0), 1.0)
    return LoadRecord(
        running=max(found.get(RUNNING, 0.0), 0.0),
        waiting=max(found.get(WAITING, 0.0), 0.0),
        kv_cache_usage=None if usage is None else min(max(usage, 0.0), 1.0),
        prefix_cache_hit_rate=hit_rate,
    )


def _samples(text: str) -> Iterator[tuple[str, dict[str, str], float]]:
    """(name, labels, value) of each finite sample of a wanted metric."""
    for line in text.splitlines():
        if not line.startswith("vllm:"):
            continue  # comments, blank lines and other metrics
        match = _SAMPLE.match(line)
        if match is None or match.group(1) not in _WANTED:
            continue
        try:
            value = float(match.group(3))
        except ValueError:
            continue
        if math.isfinite(value):
            yield match.group(1), _labels(match.group(2) or ""), value


def _labels(text: str) -> dict[str, str]:
    """`key="value",...` as a dict; escapes in values are undone."""
    return {
        key: value.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
        for key, value in _LABEL.findall(text)
    }
