"""Fleet: which pool rotation serves a fleet of vLLM instances best, on the simulator's vLLM
model (request slots with a FIFO queue, a bounded prefix cache, prefill and decode times).

Eight simulated vLLM instances serve a polling pool; each contender is the pool's
`rotation_strategy`: round_robin, least_busy, least_loaded and prefix_affinity. Every
contender meets fresh instances (a new simulator process, cold caches) and the same seeded
workload, streamed through the pool (`astream`), so the time to first token (TTFT) is the
first content chunk's arrival, as the caller sees it:

(a) multi-turn sessions: 16 apps, each with its own long system prompt (1,200 tokens); 24
    sessions of 6 turns (two apps' worth of sessions for each instance's 4 slots, so the
    fleet is busy but not saturated), each turn resending the whole conversation. An
    instance's prefix cache (320 blocks of 16 tokens) holds about four apps' system prompts,
    so a rotation that keeps an app on the same instances skips most prefills. Goal:
    prefix_affinity's mean TTFT <= 0.6x round robin's.
(b) skewed load: two of the eight instances are 5x slower (prefill and decode), and every
    instance runs 2 requests at once; independent calls with unique 200-token prompts
    arrive as a Poisson stream at 32 a second for 10 s. Round robin's share (4 a second)
    overloads the slow two (about 2.6 a second each), whose queues grow. Goal:
    least_loaded's p99 latency <= 0.7x round robin's.

Neither may be worse than round robin on the other workload by more than 5% (same figure).
Printed per contender: mean and p99 TTFT, mean and p99 latency (whole answer), throughput
(answers a second over the workload's span), the share of prompt tokens served from a prefix
cache (the `cached_tokens` the simulator reports), errors. With `--repeat N` the contenders
run N times, in a rotated order each time; the tables show the median over the runs and the
goals list every run's ratio (the spread). `--chart PATH` draws the TTFT CDFs of (a) and the
latency CDFs of (b), all runs' calls pooled.

    python bench/fleet.py [--repeat 2] [--only a|b] [--contenders round_robin,...]
                          [--metrics-interval 0.5] [--chart PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import charts
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from infrastructure.llm import PollingPoolManager, PollingPoolWrapper, TaskGroupManager
from infrastructure.llm.config.schema import PollingPoolConfig
from infrastructure.llm.config.strategies import RotationStrategy

from bench_config import write_config_dir
from sim_process import simulator_process

CONTENDERS = ("round_robin", "least_busy", "least_loaded", "prefix_affinity")
INSTANCES = 8
OUTPUT_TOKENS = 4  # max_tokens of every call
SEED = 16

# The simulated instances: vLLM's names, simulator-only speeds.
MAX_NUM_SEQS = 4
BLOCK_SIZE = 16
NUM_GPU_BLOCKS = 320  # 5,120 tokens: about four of (a)'s system prompts
PREFILL_MS_PER_TOKEN = 0.4
DECODE_MS_PER_TOKEN = 25.0

# (a) multi-turn sessions with long shared system prompts
APPS = 16
SYSTEM_TOKENS = 1200
SESSIONS = 24
TURNS = 6
QUESTION_TOKENS = 24
SESSION_STAGGER = 0.05  # seconds between session starts

# (b) skewed load
SLOW = (2, 5)  # instances 5x slower
SLOWDOWN = 5.0
SKEWED_SEQS = 2
RATE = 32.0  # calls a second
DURATION = 10.0  # seconds of arrivals
PROMPT_TOKENS = 200

GOALS = (  # (contender, workload, figure, most allowed ratio to round robin)
    ("prefix_affinity", "a", "ttft_mean", 0.6),
    ("least_loaded", "b", "latency_p99", 0.7),
    ("prefix_affinity", "b", "latency_p99", 1.05),
    ("least_loaded", "a", "ttft_mean", 1.05),
)
FIGURES = {
    "ttft_mean": "mean TTFT",
    "ttft_p99": "p99 TTFT",
    "latency_mean": "mean latency",
    "latency_p99": "p99 latency",
}


@dataclass(frozen=True)
class Call:
    """One streamed call as the caller saw it; seconds from its start (NaN when it failed)."""

    ttft: float
    latency: float
    started: float
    ended: float
    prompt_tokens: int
    cached_tokens: int
    reply: str

    @property
    def ok(self) -> bool:
        return not math.isnan(self.latency)


@dataclass(frozen=True)
class Run:
    """One contender on one workload."""

    contender: str
    workload: str
    calls: list[Call]

    @property
    def done(self) -> list[Call]:
        return [call for call in self.calls if call.ok]

    def figure(self, name: str) -> float:
        """`ttft_mean`, `ttft_p99`, `latency_mean` or `latency_p99`, in seconds."""
        kind, _, statistic = name.partition("_")
        values = [getattr(call, kind) for call in self.done]
        if statistic == "mean":
            return statistics.fmean(values)
        return charts.quantile(values, 0.99)

    @property
    def throughput(self) -> float:
        """Answers a second from the first call's start to the last answer's end."""
        done = self.done
        span = max(call.ended for call in done) - min(call.started for call in done)
        return len(done) / span

    @property
    def cached_share(self) -> float:
        """The share of prompt tokens an instance found in its prefix cache."""
        done = self.done
        return sum(c.cached_tokens for c in done) / max(1, sum(c.prompt_tokens for c in done))


Drive = Callable[[PollingPoolWrapper], Awaitable[list[Call]]]


@dataclass(frozen=True)
class Workload:
    """A workload: its simulator flags and the coroutine that sends its calls."""

    key: str
    title: str
    options: tuple[str, ...]
    drive: Drive


def vllm_flags(max_num_seqs: int) -> list[str]:
    """The simulator flags every instance shares."""
    return [
        "--max-num-seqs",
        str(max_num_seqs),
        "--block-size",
        str(BLOCK_SIZE),
        "--num-gpu-blocks-override",
        str(NUM_GPU_BLOCKS),
        "--prefill-ms-per-token",
        str(PREFILL_MS_PER_TOKEN),
        "--decode-ms-per-token",
        str(DECODE_MS_PER_TOKEN),
    ]


def words(rng: random.Random, count: int) -> str:
    """`count` random words: unique prompts whose tokens are these words."""
    return " ".join(f"w{rng.randrange(1_000_000)}" for _ in range(count))


async def timed_call(pool: PollingPoolWrapper, messages: list[BaseMessage], zero: float) -> Call:
    """Stream one call; its TTFT, latency, usage and reply (a failed call has NaN times)."""
    began = time.perf_counter()
    first = math.nan
    usage: dict[str, Any] = {}
    parts: list[str] = []
    try:
        async for chunk in pool.astream(messages):
            if chunk.content and math.isnan(first):
                first = time.perf_counter()
            parts.append(str(chunk.content))
            if chunk.usage_metadata:
                usage = dict(chunk.usage_metadata)
    except Exception as error:  # a failed call is counted, not fatal
        print(f"    call failed: {type(error).__name__}: {error}", file=sys.stderr)
        return Call(math.nan, math.nan, began - zero, began - zero, 0, 0, "")
    ended = time.perf_counter()
    details = usage.get("input_token_details") or {}
    return Call(
        ttft=first - began,
        latency=ended - began,
        started=began - zero,
        ended=ended - zero,
        prompt_tokens=int(usage.get("input_tokens", 0)),
        cached_tokens=int(details.get("cache_read", 0)),
        reply="".join(parts),
    )


async def sessions(pool: PollingPoolWrapper) -> list[Call]:
    """(a): every session resends its app's system prompt and its whole history each turn."""
    rng = random.Random(SEED)
    systems = [words(rng, SYSTEM_TOKENS) for _ in range(APPS)]
    questions = [[words(rng, QUESTION_TOKENS) for _ in range(TURNS)] for _ in range(SESSIONS)]
    calls: list[Call] = []
    zero = time.perf_counter()

    async def session(number: int) -> None:
        await asyncio.sleep(number * SESSION_STAGGER)
        messages: list[BaseMessage] = [SystemMessage(systems[number % APPS])]
        for question in questions[number]:
            messages.append(HumanMessage(question))
            call = await timed_call(pool, messages, zero)
            calls.append(call)
            messages.append(AIMessage(call.reply))

    await asyncio.gather(*(session(number) for number in range(SESSIONS)))
    return calls


async def skewed(pool: PollingPoolWrapper) -> list[Call]:
    """(b): independent calls with unique prompts, Poisson arrivals at RATE for DURATION."""
    rng = random.Random(SEED)
    schedule, at = [], 0.0
    while at < DURATION:
        schedule.append((at, words(rng, PROMPT_TOKENS)))
        at += rng.expovariate(RATE)
    zero = time.perf_counter()
    loop = asyncio.get_running_loop()
    start = loop.time()
    tasks = []
    for offset, prompt in schedule:
        await asyncio.sleep(max(0.0, start + offset - loop.time()))
        tasks.append(asyncio.create_task(timed_call(pool, [HumanMessage(prompt)], zero)))
    return list(await asyncio.gather(*tasks))


WORKLOADS = {
    "a": Workload(
        "a",
        f"(a) multi-turn sessions: {APPS} apps with {SYSTEM_TOKENS:,}-token system prompts, "
        f"{SESSIONS} sessions x {TURNS} turns",
        tuple(vllm_flags(MAX_NUM_SEQS)),
        sessions,
    ),
    "b": Workload(
        "b",
        f"(b) skewed load: instances {', '.join(map(str, SLOW))} {SLOWDOWN:g}x slower, "
        f"{RATE:g} calls/s of {PROMPT_TOKENS}-token prompts for {DURATION:g} s",
        (
            *vllm_flags(SKEWED_SEQS),
            *(
                option
                for index in SLOW
                for option in (
                    "--vllm-instance",
                    f"{index}:prefill_ms_per_token={PREFILL_MS_PER_TOKEN * SLOWDOWN},"
                    f"decode_ms_per_token={DECODE_MS_PER_TOKEN * SLOWDOWN}",
                )
            ),
        ),
        skewed,
    ),
}


def pool_over(root: Path, urls: Sequence[str], contender: str, metrics_interval: float) -> Any:
    """A polling pool with rotation `contender` over the instances at `urls`."""
    model = {
        "provider": "openai",
        "model": "sim-model",
        "api_key": "sk-bench",
        "params": {"max_tokens": OUTPUT_TOKENS},
        "endpoints": [{"base_url": url} for url in urls],
    }
    pool: dict[str, Any] = {"task_groups": ["fleet"], "rotation_strategy": contender}
    if contender == "least_loaded":
        pool["metrics_interval"] = metrics_interval
    groups = {"fleet": {"echelon1": {"models": ["m"], "timeout": 60}}}
    manager = TaskGroupManager.from_config_dir(
        write_config_dir(root, {"m": model}, groups, {"fleet_pool": pool})
    )
    return PollingPoolWrapper(
        name="fleet_pool_wrapper", polling_pool_manager=PollingPoolManager(manager)
    )


async def warm_up(pool: PollingPoolWrapper) -> None:
    """Open connections to the instances: a few short calls (no full KV block, so no cache)."""
    for round_ in range(2):
        await asyncio.gather(*(pool.ainvoke(f"warm up {round_} {n}") for n in range(INSTANCES)))


def run_one(workload: Workload, contender: str, root: Path, metrics_interval: float) -> Run:
    """Fresh instances and a fresh pool; the workload once."""
    with simulator_process(*["healthy"] * INSTANCES, options=workload.options) as urls:
        pool = pool_over(root, urls, contender, metrics_interval)
        pool.start_health_checks()
        try:

            async def measured() -> list[Call]:
                await warm_up(pool)
                return await workload.drive(pool)

            calls = asyncio.run(measured())
        finally:
            pool.stop_health_checks()
    return Run(contender, workload.key, calls)


def available(names: Sequence[str]) -> list[str]:
    """The contenders this build knows; a line for each one it does not."""
    known = {strategy.value for strategy in RotationStrategy}
    for name in names:
        if name not in known:
            print(f"skipped: rotation {name!r} is not in this build (known: {sorted(known)})")
    return [name for name in names if name in known]


def print_table(workload: Workload, runs: dict[str, list[Run]]) -> None:
    """Median over the repeats of every figure, per contender."""
    print(f"\n{workload.title}")
    header = (
        f"  {'contender':<16} {'TTFT mean':>9} {'TTFT p99':>9} {'lat mean':>9} {'lat p99':>9}"
        f" {'answers/s':>9} {'cached':>7} {'calls':>6} {'errors':>6}"
    )
    print(header)
    print(f"  {'':<16} {'ms':>9} {'ms':>9} {'ms':>9} {'ms':>9}")
    for contender, repeats in runs.items():

        def median(figure: Callable[[Run], float], repeats: list[Run] = repeats) -> float:
            return statistics.median(figure(run) for run in repeats)

        ms = [median(lambda run, name=name: run.figure(name)) * 1000 for name in FIGURES]
        calls = sum(len(run.calls) for run in repeats) // len(repeats)
        errors = sum(len(run.calls) - len(run.done) for run in repeats)
        print(
            f"  {contender:<16} {ms[0]:9.1f} {ms[1]:9.1f} {ms[2]:9.1f} {ms[3]:9.1f}"
            f" {median(lambda run: run.throughput):9.1f}"
            f" {median(lambda run: run.cached_share):7.0%} {calls:6d} {errors:6d}"
        )


def print_goals(results: dict[str, dict[str, list[Run]]]) -> None:
    """Each goal's ratio to round robin, per repeat, with the median and the verdict."""
    print("\ngoals (ratio to round_robin, run by run; the verdict on the median)")
    for contender, workload, figure, limit in GOALS:
        runs = results.get(workload, {})
        if contender not in runs or "round_robin" not in runs:
            print(f"  {contender} {FIGURES[figure]} on ({workload}): not measured")
            continue
        ratios = [
            mine.figure(figure) / base.figure(figure)
            for mine, base in zip(runs[contender], runs["round_robin"], strict=True)
        ]
        middle = statistics.median(ratios)
        spread = ", ".join(f"{ratio:.2f}" for ratio in ratios)
        verdict = "met" if middle <= limit else "NOT met"
        print(
            f"  {contender} {FIGURES[figure]} on ({workload}) <= {limit:g}x: {verdict}"
            f" (median {middle:.2f}; runs {spread})"
        )


def chart_panels(results: dict[str, dict[str, list[Run]]]) -> list[charts.Panel]:
    """TTFT CDFs of (a), latency CDFs of (b), every run's calls pooled, in ms."""
    panels: list[charts.Panel] = []
    for key, figure, title, xlabel in (
        ("a", "ttft", "(a) sessions: time to first token", "time to first token, ms"),
        ("b", "latency", "(b) skewed load: latency", "latency (whole answer), ms"),
    ):
        if key in results:
            series = {
                contender: [getattr(c, figure) * 1000 for run in repeats for c in run.done]
                for contender, repeats in results[key].items()
            }
            panels.append(charts.CdfPanel(title, series, xlabel=xlabel))
    return panels


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="runs of every contender")
    parser.add_argument("--only", choices=sorted(WORKLOADS), help="one workload")
    parser.add_argument(
        "--contenders", default=",".join(CONTENDERS), help="comma-separated rotation names"
    )
    parser.add_argument(
        "--metrics-interval",
        type=float,
        default=0.5,
        help="least_loaded's seconds between /metrics scrapes",
    )
    charts.add_options(parser)
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    contenders = available([name for name in args.contenders.split(",") if name])
    if not contenders:
        parser.error("no known contender to run")
    if "least_loaded" in contenders and "metrics_interval" not in PollingPoolConfig.model_fields:
        parser.error("this build's pools have no metrics_interval for least_loaded")
    chosen = [WORKLOADS[args.only]] if args.only else list(WORKLOADS.values())

    print(
        f"{INSTANCES} simulated vLLM instances: max_num_seqs {MAX_NUM_SEQS} ((b): "
        f"{SKEWED_SEQS}), block_size {BLOCK_SIZE}, num_gpu_blocks_override {NUM_GPU_BLOCKS}, "
        f"prefill {PREFILL_MS_PER_TOKEN:g} ms/token, decode {DECODE_MS_PER_TOKEN:g} ms/token, "
        f"{OUTPUT_TOKENS} output tokens a call"
    )
    print(
        f"contenders: {', '.join(contenders)}; {args.repeat} run(s) each; least_loaded "
        f"scrapes /metrics every {args.metrics_interval:g} s"
    )
    results: dict[str, dict[str, list[Run]]] = {}
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for workload in chosen:
            runs: dict[str, list[Run]] = {name: [] for name in contenders}
            for repeat in range(args.repeat):
                order = (
                    contenders[repeat % len(contenders) :] + contenders[: repeat % len(contenders)]
                )
                for contender in order:
                    root = Path(tmp) / f"{workload.key}-{contender}-{repeat}"
                    runs[contender].append(
                        run_one(workload, contender, root, args.metrics_interval)
                    )
            results[workload.key] = runs
            print_table(workload, runs)
    print_goals(results)
    print(f"\nwhole run: {time.perf_counter() - began:.0f} s")
    charts.write(args, "Pool rotations over 8 simulated vLLM instances", chart_panels(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
