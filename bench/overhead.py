"""Routing overhead, against baselines measured in the same run.

1. HTTP, sequential: TaskGroupWrapper vs direct ChatOpenAI on the same simulator (in a child
   process), calls interleaved one by one; p50 of each, and their ratio. Goal: at most 1.02.
2. HTTP, 100 calls in flight: calls a second and p99 of ChatOpenAI (default settings),
   LiteLLM's Router (from the `bench` extra, when installed), the bare openai SDK on aiohttp
   (the limit of this stack), a minimal LangChain chat model on that SDK client (the most
   any LangChain chat model gets here) and TaskGroupWrapper. Goals: at least 1.15x LiteLLM's
   calls a second with a p99 no higher, and at least 0.75x the bare SDK's.
3. The routing's own cost: TaskGroupWrapper and PollingPoolWrapper over the in-process mock
   provider against the bare mock model, interleaved; the p50 difference in microseconds is
   what routing adds to a call. Goal: at most 25 µs for both.

Each measurement is repeated (`--rounds`) and every round is printed, then the median and
the spread (min to max) across rounds: this machine is noisy.

`--observed` turns on everything operators may watch for the whole run: Prometheus metrics
(scraped once a second) and OpenTelemetry spans (the SDK, spans batched to an exporter that
drops them; `--sample-ratio` traces that share of calls, default all). Goal with it on: HTTP
p50 ratio at most 1.05. `--sequential-only` runs part 1.

    python bench/overhead.py [--rounds 5] [--calls 1000] [--concurrent-calls 3000]
                             [--observed [--sample-ratio R]] [--sequential-only]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # LiteLLM: fetch nothing

import openai
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_openai import ChatOpenAI

sys.path.insert(0, str(Path(__file__).resolve().parent))
from infrastructure.llm import (
    PollingPoolManager,
    PollingPoolWrapper,
    TaskGroupManager,
    TaskGroupWrapper,
)
from infrastructure.llm.chat_signatures import signatures_computed_once
from infrastructure.llm.providers.mock import MockChatModel

from bench_config import write_config_dir
from sim_process import simulator_process

PROMPT = "Say something short."
HTTP_GOAL = 1.02
OBSERVED_GOAL = 1.05
COST_GOAL_US = 25.0
THROUGHPUT_GOALS = {"LiteLLM Router": 1.15, "openai SDK + aiohttp": 0.75}
MINIMAL = "minimal LangChain model"
"""A `MinimalChatModel` on the bare SDK's client: the most any LangChain chat model gets."""


@signatures_computed_once
class MinimalChatModel(BaseChatModel):
    """The least a LangChain chat model can do over the SDK: send the prompt's text and wrap
    the answer's. Its rate is what LangChain's own per-call machinery leaves of the SDK's."""

    client: Any

    @property
    def _llm_type(self) -> str:
        return "minimal"

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        raise NotImplementedError("this benchmark calls it async only")

    async def _agenerate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        answer = await self.client.chat.completions.create(
            model="sim-model", messages=[{"role": "user", "content": m.text} for m in messages]
        )
        text = answer.choices[0].message.content or ""
        return ChatResult(generations=[ChatGeneration(message=AIMessage(text))])


def http_wrapper(base_url: str, root: Path) -> TaskGroupWrapper:
    """One group, one echelon, one instance: the simulator."""
    models = {"sim": {"provider": "openai", "model": "sim-model", "base_url": base_url}}
    groups = {"bench": {"echelon1": {"models": ["sim"], "timeout": 30}}}
    manager = TaskGroupManager.from_config_dir(write_config_dir(root, models, groups))
    return TaskGroupWrapper(target="bench", task_group_manager=manager)


def mock_wrappers(root: Path) -> dict[str, BaseChatModel]:
    """The bare mock model, and a group and a pool whose one instance is that mock."""
    models = {"m": {"provider": "mock", "model": "echo"}}
    groups = {"g": {"echelon1": {"models": ["m"]}}}
    pools = {"p": {"task_groups": ["g"]}}
    manager = TaskGroupManager.from_config_dir(write_config_dir(root, models, groups, pools))
    pool_manager = PollingPoolManager(manager)
    return {
        "bare mock model": MockChatModel(model="echo"),
        "TaskGroupWrapper": TaskGroupWrapper(target="g", task_group_manager=manager),
        "PollingPoolWrapper": PollingPoolWrapper(
            name="p_wrapper", polling_pool_manager=pool_manager
        ),
    }


def interleaved_p50(models: dict[str, BaseChatModel], calls: int, warmup: int) -> dict[str, float]:
    """p50 seconds per model, the models called in turn so drift hits all alike."""
    for model in models.values():
        for _ in range(warmup):
            model.invoke(PROMPT)
    samples: dict[str, list[float]] = {name: [] for name in models}
    order = list(models.items())
    for number in range(calls):
        shift = number % len(order)
        for name, model in order[shift:] + order[:shift]:
            started = time.perf_counter()
            model.invoke(PROMPT)
            samples[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in samples.items()}


Call = Callable[[], Awaitable[Any]]


async def under_load(call: Call, calls: int, concurrency: int) -> tuple[float, float]:
    """Calls per second and p99 latency (ms) with `concurrency` calls in flight."""
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one() -> None:
        async with gate:
            began = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - began)

    await asyncio.gather(*(one() for _ in range(concurrency)))  # warm the connections
    latencies.clear()
    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(calls)))
    rate = calls / (time.perf_counter() - started)
    latencies.sort()
    return rate, latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1000


def contenders(url: str, wrapper: BaseChatModel) -> tuple[dict[str, Call], Call]:
    """The ways to call the simulator at 100 in flight, built on the running loop, and what
    closes the clients built here."""
    messages = [{"role": "user", "content": PROMPT}]
    chat_openai = ChatOpenAI(model="sim-model", base_url=url, api_key="sk-bench", max_retries=0)
    sdk = openai.AsyncOpenAI(
        base_url=url, api_key="sk-bench", max_retries=0, http_client=openai.DefaultAioHttpClient()
    )
    minimal = MinimalChatModel(client=sdk)
    calls: dict[str, Call] = {
        "ChatOpenAI (default)": lambda: chat_openai.ainvoke(PROMPT),
        "openai SDK + aiohttp": lambda: sdk.chat.completions.create(
            model="sim-model",
            messages=messages,  # type: ignore[arg-type]
        ),
        MINIMAL: lambda: minimal.ainvoke(PROMPT),
        "TaskGroupWrapper": lambda: wrapper.ainvoke(PROMPT),
    }
    try:
        from litellm import Router
    except ImportError:
        print("  (LiteLLM is not installed: pip install -e '.[bench]' adds it)")
        return calls, sdk.close
    router = Router(
        model_list=[
            {
                "model_name": "sim",
                "litellm_params": {"model": "openai/sim-model", "api_base": url, "api_key": "x"},
            }
        ]
    )
    calls["LiteLLM Router"] = lambda: router.acompletion(model="sim", messages=messages)
    return calls, sdk.close


async def load_rounds(
    url: str, wrapper: BaseChatModel, rounds: int, calls: int, concurrency: int
) -> list[dict[str, tuple[float, float]]]:
    """Each contender under load, round after round, in one event loop."""
    contending, close = contenders(url, wrapper)
    results = []
    for number in range(1, rounds + 1):
        result = {name: await under_load(c, calls, concurrency) for name, c in contending.items()}
        line = ", ".join(f"{k} {rate:.0f}/s p99 {p99:.0f} ms" for k, (rate, p99) in result.items())
        print(f"  round {number}: {line}")
        results.append(result)
    await close()
    return results


def spread(values: list[float], digits: int) -> str:
    """`median (min-max)` of one figure across rounds."""
    return (
        f"{statistics.median(values):.{digits}f} "
        f"({min(values):.{digits}f}-{max(values):.{digits}f})"
    )


def rounds_of(rounds: int, measure: Callable[[], dict[str, float]]) -> list[dict[str, float]]:
    results = []
    for number in range(1, rounds + 1):
        result = measure()
        print(f"  round {number}: " + ", ".join(f"{k} {v:.3f}" for k, v in result.items()))
        results.append(result)
    return results


def observe(wrapper: BaseChatModel, sample_ratio: float) -> None:
    """Metrics served and scraped every second, and spans recorded (for the share
    `sample_ratio` of calls: `enable_tracing`'s own sampling), for `wrapper`'s calls."""
    import threading
    import urllib.request

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
    from prometheus_client import CollectorRegistry, start_http_server

    from infrastructure.llm.observability.metrics import FleetCollector
    from infrastructure.llm.observability.tracing import enable_tracing

    class Dropped(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Dropped()))
    enable_tracing(provider, sample_ratio=sample_ratio)
    registry = CollectorRegistry()
    registry.register(FleetCollector(lambda: [wrapper]))  # type: ignore[list-item]
    server, _ = start_http_server(0, "127.0.0.1", registry)

    def scrape() -> None:
        while True:
            urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/metrics").read()
            time.sleep(1.0)

    threading.Thread(target=scrape, daemon=True).start()


def summarize_sequential(sequential: list[dict[str, float]], goal: float) -> int:
    print(f"\nsummary over {len(sequential)} rounds: median (min-max)")
    p50_ratios = [r["TaskGroupWrapper"] / r["direct ChatOpenAI"] for r in sequential]
    verdict = "met" if statistics.median(p50_ratios) <= goal else "NOT met"
    print(f"  HTTP p50 ratio, wrapper / ChatOpenAI: {spread(p50_ratios, 3)}")
    print(f"    goal <= {goal}: {verdict}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="repetitions of each measurement")
    parser.add_argument("--calls", type=int, default=1000, help="sequential HTTP calls per model")
    parser.add_argument("--mock-calls", type=int, default=5000, help="mock calls per model")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--concurrent-calls", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--observed", action="store_true", help="metrics and tracing on")
    parser.add_argument(
        "--sample-ratio",
        type=float,
        default=1.0,
        help="with --observed: the share of traces recorded (default 1.0: every call)",
    )
    parser.add_argument("--sequential-only", action="store_true", help="part 1 only")
    args = parser.parse_args()
    goal = OBSERVED_GOAL if args.observed else HTTP_GOAL

    with simulator_process("healthy") as (url,), tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        direct = ChatOpenAI(model="sim-model", base_url=url, api_key="sk-bench", max_retries=0)
        http: dict[str, BaseChatModel] = {
            "direct ChatOpenAI": direct,
            "TaskGroupWrapper": http_wrapper(url, root / "http"),
        }
        if args.observed:
            observe(http["TaskGroupWrapper"], args.sample_ratio)
        mock = mock_wrappers(root / "mock")

        print(f"1. HTTP, sequential: {args.calls} interleaved calls per model, p50 ms")
        sequential = rounds_of(
            args.rounds,
            lambda: {
                k: v * 1000 for k, v in interleaved_p50(http, args.calls, args.warmup).items()
            },
        )
        if args.sequential_only:
            return summarize_sequential(sequential, goal)
        print(f"\n2. HTTP, {args.concurrency} in flight: {args.concurrent_calls} calls each")
        loads = asyncio.run(
            load_rounds(
                url, http["TaskGroupWrapper"], args.rounds, args.concurrent_calls, args.concurrency
            )
        )
        print(f"\n3. routing cost, mock provider: {args.mock_calls} interleaved calls, p50 µs")
        costs = rounds_of(
            args.rounds,
            lambda: {
                k: v * 1e6
                for k, v in interleaved_p50(mock, args.mock_calls, args.warmup * 10).items()
            },
        )

    summarize_sequential(sequential, goal)
    print(f"  at {args.concurrency} in flight, calls/s of TaskGroupWrapper against:")
    for name, goal in (
        ("ChatOpenAI (default)", None),
        (MINIMAL, None),
        ("LiteLLM Router", THROUGHPUT_GOALS["LiteLLM Router"]),
        ("openai SDK + aiohttp", THROUGHPUT_GOALS["openai SDK + aiohttp"]),
    ):
        if name not in loads[0]:
            continue
        ratios = [r["TaskGroupWrapper"][0] / r[name][0] for r in loads]
        verdict = (
            ""
            if goal is None
            else f"  goal >= {goal}: " + ("met" if statistics.median(ratios) >= goal else "NOT met")
        )
        print(f"    {name}: {spread(ratios, 3)}{verdict}")
    floor = [r[MINIMAL][0] / r["openai SDK + aiohttp"][0] for r in loads]
    print(f"    (calls/s of the {MINIMAL} against the bare SDK: {spread(floor, 3)})")
    if "LiteLLM Router" in loads[0]:
        ours = [r["TaskGroupWrapper"][1] for r in loads]
        theirs = [r["LiteLLM Router"][1] for r in loads]
        verdict = "met" if statistics.median(ours) <= statistics.median(theirs) else "NOT met"
        print(
            f"    p99 ms, TaskGroupWrapper {spread(ours, 0)} against LiteLLM Router "
            f"{spread(theirs, 0)}  goal <=: {verdict}"
        )
    for name in ("TaskGroupWrapper", "PollingPoolWrapper"):
        added = [r[name] - r["bare mock model"] for r in costs]
        verdict = "met" if statistics.median(added) <= COST_GOAL_US else "NOT met"
        print(f"  routing cost, {name} - bare mock: {spread(added, 1)} µs")
        print(f"    goal <= {COST_GOAL_US:g} µs: {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
