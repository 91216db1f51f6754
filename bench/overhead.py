"""Routing overhead: TaskGroupWrapper vs direct ChatOpenAI on the same simulator, same run.

Prints sequential p50 latency and 100-concurrent throughput for both, and their ratios.
Goal: sequential p50 ratio at most 1.05.

    python bench/overhead.py [--calls 1000] [--concurrent-calls 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml
from langchain_core.language_models import BaseChatModel
from langchain_openai import ChatOpenAI

sys.path.insert(0, str(Path(__file__).resolve().parent))
from infrastructure.llm import TaskGroupManager, TaskGroupWrapper

from sim_process import simulator_process

PROMPT = "Say something short."


def build_wrapper(base_url: str, config_root: Path) -> TaskGroupWrapper:
    """One group, one echelon, one instance: the simulator."""
    (config_root / "models").mkdir()
    (config_root / "groups").mkdir()
    models = {"sim": {"provider": "openai", "model": "sim-model", "base_url": base_url}}
    group = {"name": "bench", "echelon1": {"models": ["sim"], "timeout": 30}}
    (config_root / "models" / "registry.yaml").write_text(yaml.safe_dump({"models": models}))
    (config_root / "groups" / "bench.yaml").write_text(yaml.safe_dump(group))
    manager = TaskGroupManager.from_config_dir(config_root)
    return TaskGroupWrapper(target="bench", task_group_manager=manager)


def sequential_latencies(
    models: dict[str, BaseChatModel], calls: int, warmup: int
) -> dict[str, list[float]]:
    """Per-call latencies, the models interleaved call by call so drift hits both alike."""
    for model in models.values():
        for _ in range(warmup):
            model.invoke(PROMPT)
    samples: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(calls):
        for name, model in models.items():
            started = time.perf_counter()
            model.invoke(PROMPT)
            samples[name].append(time.perf_counter() - started)
    return samples


async def throughput(model: BaseChatModel, calls: int, concurrency: int) -> float:
    """Calls per second with `concurrency` calls in flight."""
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            await model.ainvoke(PROMPT)

    await asyncio.gather(*(one() for _ in range(concurrency)))  # warm the connection pool
    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(calls)))
    return calls / (time.perf_counter() - started)


async def all_throughputs(
    models: dict[str, BaseChatModel], calls: int, concurrency: int
) -> dict[str, float]:
    """Throughput of each model, in one event loop (pooled connections belong to a loop)."""
    return {name: await throughput(model, calls, concurrency) for name, model in models.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="sequential calls per model")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--concurrent-calls", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=100)
    args = parser.parse_args()

    with simulator_process("healthy") as (url,), tempfile.TemporaryDirectory() as tmp:
        direct = ChatOpenAI(model="sim-model", base_url=url, api_key="sk-bench", max_retries=0)
        models: dict[str, BaseChatModel] = {
            "direct ChatOpenAI": direct,
            "TaskGroupWrapper": build_wrapper(url, Path(tmp)),
        }
        samples = sequential_latencies(models, args.calls, args.warmup)
        rates = asyncio.run(all_throughputs(models, args.concurrent_calls, args.concurrency))

    p50 = {name: statistics.median(values) * 1000 for name, values in samples.items()}
    print(f"sequential calls: {args.calls} per model; concurrent: {args.concurrent_calls} calls,")
    print(f"{args.concurrency} in flight; simulator in a child process on loopback\n")
    print(f"{'':20} {'p50 ms':>8} {'mean ms':>8} {'calls/s @' + str(args.concurrency):>14}")
    for name, values in samples.items():
        mean = statistics.fmean(values) * 1000
        print(f"{name:20} {p50[name]:8.3f} {mean:8.3f} {rates[name]:14.1f}")
    ratio = p50["TaskGroupWrapper"] / p50["direct ChatOpenAI"]
    rate_ratio = rates["TaskGroupWrapper"] / rates["direct ChatOpenAI"]
    print(f"\np50 ratio (wrapper / direct): {ratio:.3f}  (goal <= 1.05)")
    print(f"throughput ratio (wrapper / direct): {rate_ratio:.3f}  (higher is better)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
