"""vLLM's Prometheus metrics of a simulated instance, in the Prometheus text exposition format."""

from __future__ import annotations

from infrastructure.llm.sim.vllm.engine import EngineSnapshot

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def render_metrics(snapshot: EngineSnapshot, model_name: str) -> bytes:
    """The exposition text of one scrape, every sample labelled `model_name="<served model>"`."""
    label = 'model_name="' + _escape(model_name) + '"'
    lines: list[str] = []

    def family(name: str, kind: str, help_text: str, value: float) -> None:
        lines.extend(
            (f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f"{name}{{{label}}} {value!r}")
        )

    family(
        "vllm:num_requests_running",
        "gauge",
        "Number of requests in model execution batches.",
        float(snapshot.running),
    )
    family(
        "vllm:num_requests_waiting",
        "gauge",
        "Number of requests waiting to be processed.",
        float(snapshot.waiting),
    )
    family(
        "vllm:gpu_cache_usage_perc",
        "gauge",
        "GPU KV-cache usage. 1 means 100 percent usage.",
        snapshot.kv_cache_usage,
    )
    family(
        "vllm:kv_cache_usage_perc",
        "gauge",
        "KV-cache usage. 1 means 100 percent usage.",
        snapshot.kv_cache_usage,
    )
    family(
        "vllm:prefix_cache_queries_total",
        "counter",
        "Prefix cache queries, in terms of number of queried tokens.",
        float(snapshot.prefix_cache_queries),
    )
    family(
        "vllm:prefix_cache_hits_total",
        "counter",
        "Prefix cache hits, in terms of number of cached tokens.",
        float(snapshot.prefix_cache_hits),
    )
    ttft = snapshot.time_to_first_token
    name = "vllm:time_to_first_token_seconds"
    lines += [
        f"# HELP {name} Histogram of time to first token in seconds.",
        f"# TYPE {name} histogram",
    ]
    for bound, count in zip(ttft.bounds, ttft.cumulative, strict=True):
        le = "+Inf" if bound == float("inf") else repr(bound)
        lines.append(f'{name}_bucket{{le="{le}",{label}}} {float(count)!r}')
    lines.append(f"{name}_sum{{{label}}} {ttft.total!r}")
    lines.append(f"{name}_count{{{label}}} {float(ttft.count)!r}")
    return ("\n".join(lines) + "\n").encode()


def _escape(value: str) -> str:
    """A label value with backslash, quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
