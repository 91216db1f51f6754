"""Replicas sharing one fleet through Redis: what the shared state costs a call, and whether
limits and breakers hold across processes (issue 12, items 3 and 4).

Needs the `redis` extra and a Redis server (default the machine's, redis://127.0.0.1:6379/0).
Every key this run writes is under one prefix of its own, `llm-wrappers-bench:<uuid>:`, and
is deleted at the end.

1. Hot path cost. Two factories over one config directory, one given an `InMemoryState`, the
   other using the directory's `state.yaml` (Redis): one group whose echelon has a
   `concurrency_limit` and an `rpm_limit` too high ever to refuse, over the in-process `mock`
   provider (no HTTP), so a call's cost is the wrapper, the routing and the state.
   Sequential calls, interleaved call by call between the two, by `invoke` and by `ainvoke`
   (one event loop a round). Per round: p50 and p90 of each, the difference of the p50s, and
   for reference the p50 of a bare PING with redis-py (sync and asyncio): what one round trip
   to this Redis costs on this machine. Goal: Redis adds at most +0.3 ms to the p50, sync
   and async.
2. Four replica processes (spawned with multiprocessing) each build one factory from a
   config directory whose `state.yaml` names the Redis and the run's prefix, and keep it and
   one event loop for the whole part, as a server's workers would. They first warm up (a few
   concurrent calls on a group of their own: HTTP and Redis connections, clients per event
   loop), then run the jobs below with async callers over real HTTP (the factory's `openai`
   provider, i.e. ChatOpenAI) against simulators that run in this process, which only
   watches them, so they share no GIL with the callers. For each job the processes report
   calls answered, errors, the worst event-loop stall their callers saw and how many times
   their state fell back to local because Redis failed an operation (then limits hold per
   process only).
   a. rpm: a shared `rpm_limit` R (300) with 4 x 25 callers that want far more, for 70 s:
      the first R go at once, the next ones as those leave the 60-s window, so a run past
      60 s tests the window's edge. The arrival time of every request at the simulator is
      recorded (the simulator counts requests; a thread here waits on its counters and stamps
      each new one, about a millisecond late), and the most requests in any 60-s window is
      printed. Goal: at most 1.02 R. For comparison, the admissions Redis recorded (the
      window's sorted set, read every second) are counted the same way, by the server's
      clock. `--quick` shortens the run to 5 s: the first burst only, not the window's edge.
   b. concurrency: a shared `concurrency_limit` N (8), a simulator answering in 50-100 ms,
      4 x 16 callers, 4 s a round. Goal: the simulator's `peak_in_flight` at most N. Calls
      done are printed against what N slots could do at that latency, and the slots still
      taken in Redis after the round (0 expected).
   c. breaker: two instances, one failing every request (`error_rate:1.0`), one healthy;
      `failure_threshold` 3, `recovery_time` 1 s, `half_open_requests` 2 (a group of its own
      each round, so each round starts closed). Process 0 calls until its calls have opened
      the failing instance's breaker; processes 1-3 poll the breaker's shared record about
      every millisecond and note when they first see it open (the record's `opened_at` is in
      each reader's clock). Goal: within 1 s. Then all four call with 8 callers each for two
      recoveries, and the requests reaching the failing instance after it opened are grouped
      by recovery (each a burst of half-open probes). Goal: at most `half_open_requests`
      probes a recovery.

Part 1 is repeated `--rounds` times (5), 2b and 2c `--fleet-rounds` times (3); every round
is printed, then the median and the spread (min-max). Each goal is printed MET or NOT MET;
the exit code is 0 either way (1 only when no Redis answers). The full run takes about 2.5
minutes; `--quick` under one: 300 calls a round in part 1, the rpm run cut to 5 s, 2 rounds
of 2b (2 s each) and 2c.

With `--chart PATH` the run also draws a PNG (matplotlib, the `bench` extra): the latency
CDFs of part 1 (every call of every round, memory against Redis, sync and async), and the
requests at the simulator in the trailing 60 s through the rpm run of 2a, against its goal.

    python bench/replicas.py [--quick] [--rounds 5] [--calls 2000] [--fleet-rounds 3]
                             [--chart PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

import redis
import redis.asyncio
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import charts

from infrastructure.llm import BaseLLMWrapper, LLMWrapperFactory
from infrastructure.llm.resilience.limits import RPM_WINDOW
from infrastructure.llm.resilience.redis import RedisState
from infrastructure.llm.resilience.state import BreakerRecord, CircuitState, InMemoryState
from infrastructure.llm.sim import FaultMode, SimServer, SimStats

from bench_config import write_config_dir

T = TypeVar("T")

PROMPT = "Say something short."
REDIS_URL = "redis://127.0.0.1:6379/0"
PROCESSES = 4

HOT_PATH_GOAL_MS = 0.3
HOT_RPM = 10_000_000  # never refuses: every call pays the window's bookkeeping, never waits
PING_SAMPLES = 500

RPM_LIMIT = 300
RPM_GOAL = 1.02
RPM_CALLERS = 25
RPM_TIMEOUT = 90.0  # longer than the window, so callers wait for room rather than fail

CONCURRENCY_LIMIT = 8
CONCURRENCY_CALLERS = 16
CONCURRENCY_LATENCY = (0.05, 0.1)

BREAKER = {"failure_threshold": 3, "recovery_time": 1.0, "half_open_requests": 2}
BREAKER_CALLERS = 8
BREAKER_RECOVERIES = 2
SEEN_GOAL = 1.0
FAILING_INSTANCE = "m#0"

WARM_STEPS = (1, 2, 4, 8, 16, RPM_CALLERS)  # concurrent calls, up to as many as any job makes
SHARED_WAIT = 15.0  # seconds the replicas may take to share again after warming up
START_DELAY = 0.3  # seconds between sending a job and its common start
ERROR_PAUSE = 0.05  # a caller whose call failed waits this long before the next one
LAG_TICK = 0.01  # the event-loop stall monitor's sleep
JOB_MARGIN = 60.0  # seconds a job may overrun its planned length before it counts as hung
OUTAGE_LOGGER = "infrastructure.llm.resilience.redis.outage"


# -- figures ----------------------------------------------------------------------------------


def percentile(values: Iterable[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def spread(values: list[float], digits: int) -> str:
    """`median (min-max)` of one figure across rounds."""
    return (
        f"{statistics.median(values):.{digits}f} "
        f"({min(values):.{digits}f}-{max(values):.{digits}f})"
    )


def verdict(met: bool) -> str:
    return "MET" if met else "NOT MET"


def trailing_counts(times: Iterable[float], window: float = RPM_WINDOW) -> list[tuple[float, int]]:
    """At each of `times` t (sorted), how many of them fall in the half-open window
    (t - window, t]."""
    ordered = sorted(times)
    counts, first = [], 0
    for last, moment in enumerate(ordered):
        while ordered[first] <= moment - window:
            first += 1
        counts.append((moment, last - first + 1))
    return counts


def most_in_window(times: Iterable[float], window: float = RPM_WINDOW) -> tuple[int, float]:
    """The most of `times` in any half-open window (t - window, t], and that window's t."""
    best, at = 0, 0.0
    for moment, count in trailing_counts(times, window):
        if count > best:
            best, at = count, moment
    return best, at


def bursts(times: Iterable[float], gap: float) -> list[list[float]]:
    """`times` grouped into bursts: a new one starts after a pause longer than `gap`."""
    groups: list[list[float]] = []
    for moment in sorted(times):
        if groups and moment - groups[-1][-1] <= gap:
            groups[-1].append(moment)
        else:
            groups.append([moment])
    return groups


# -- config directories -----------------------------------------------------------------------


def config_dir(
    root: Path,
    models: dict[str, dict[str, Any]],
    groups: dict[str, dict[str, Any]],
    redis_url: str,
    key_prefix: str,
) -> Path:
    """A config directory whose `state.yaml` puts the state in Redis under `key_prefix`."""
    directory = write_config_dir(root, models, groups)
    state = {"backend": "redis", "url": redis_url, "key_prefix": key_prefix}
    (directory / "state.yaml").write_text(yaml.safe_dump(state))
    return directory


def sim_model(*urls: str) -> dict[str, Any]:
    """An OpenAI-compatible model with one instance per URL (`<name>#0`, `<name>#1`, ...)."""
    endpoints = [{"base_url": url} for url in urls]
    return {
        "provider": "openai",
        "model": "sim-model",
        "api_key": "sk-bench",
        "endpoints": endpoints,
    }


# -- 1. hot path cost -------------------------------------------------------------------------

Samples = dict[str, list[float]]


def hot_path_wrappers(
    root: Path, redis_url: str, key_prefix: str
) -> tuple[dict[str, BaseLLMWrapper], list[LLMWrapperFactory]]:
    """The same mock group, once over an `InMemoryState` and once over Redis (`state.yaml`)."""
    models = {"m": {"provider": "mock", "model": "echo"}}
    echelon = {"models": ["m"], "concurrency_limit": 64, "rpm_limit": HOT_RPM}
    directory = config_dir(root, models, {"hot": {"echelon1": echelon}}, redis_url, key_prefix)
    memory = LLMWrapperFactory.from_config_dir(directory, state=InMemoryState())
    shared = LLMWrapperFactory.from_config_dir(directory)
    wrappers = {
        "memory": memory.get_wrapper("hot_wrapper"),
        "Redis": shared.get_wrapper("hot_wrapper"),
    }
    return wrappers, [memory, shared]


def rotations(
    wrappers: dict[str, BaseLLMWrapper], calls: int
) -> Iterable[list[tuple[str, BaseLLMWrapper]]]:
    """For each call number, the wrappers in turn, starting with another one each time."""
    order = list(wrappers.items())
    for number in range(calls):
        shift = number % len(order)
        yield order[shift:] + order[:shift]


def sync_samples(wrappers: dict[str, BaseLLMWrapper], calls: int, warmup: int) -> Samples:
    """Seconds per `invoke`, the wrappers interleaved call by call."""
    for wrapper in wrappers.values():
        for _ in range(warmup):
            wrapper.invoke(PROMPT)
    samples: Samples = {name: [] for name in wrappers}
    for turn in rotations(wrappers, calls):
        for name, wrapper in turn:
            began = time.perf_counter()
            wrapper.invoke(PROMPT)
            samples[name].append(time.perf_counter() - began)
    return samples


async def async_samples(wrappers: dict[str, BaseLLMWrapper], calls: int, warmup: int) -> Samples:
    """Seconds per `ainvoke`, one call in flight, the wrappers interleaved call by call."""
    for wrapper in wrappers.values():
        for _ in range(warmup):
            await wrapper.ainvoke(PROMPT)
    samples: Samples = {name: [] for name in wrappers}
    for turn in rotations(wrappers, calls):
        for name, wrapper in turn:
            began = time.perf_counter()
            await wrapper.ainvoke(PROMPT)
            samples[name].append(time.perf_counter() - began)
    return samples


def ping_p50(redis_url: str) -> float:
    """p50 seconds of a bare PING with the sync redis-py client."""
    client = redis.Redis.from_url(redis_url)
    try:
        times = []
        for _ in range(PING_SAMPLES):
            began = time.perf_counter()
            client.ping()
            times.append(time.perf_counter() - began)
        return percentile(times, 0.5)
    finally:
        client.close()


async def aping_p50(redis_url: str) -> float:
    """p50 seconds of a bare PING with the asyncio redis-py client."""
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        times = []
        for _ in range(PING_SAMPLES):
            began = time.perf_counter()
            await client.ping()
            times.append(time.perf_counter() - began)
        return percentile(times, 0.5)
    finally:
        await client.aclose()


@dataclass
class HotRound:
    """p50 and p90 in ms per mode (sync, async) and state (memory, Redis); PING p50 in ms."""

    p50: dict[tuple[str, str], float] = field(default_factory=dict)
    p90: dict[tuple[str, str], float] = field(default_factory=dict)
    ping: dict[str, float] = field(default_factory=dict)

    def add(self, mode: str, samples: Samples, ping: float) -> None:
        for state, values in samples.items():
            self.p50[mode, state] = percentile(values, 0.5) * 1000
            self.p90[mode, state] = percentile(values, 0.9) * 1000
        self.ping[mode] = ping * 1000

    def added(self, mode: str, figure: str = "p50") -> float:
        table = self.p50 if figure == "p50" else self.p90
        return table[mode, "Redis"] - table[mode, "memory"]

    def line(self, mode: str) -> str:
        p50, p90 = self.p50, self.p90
        return (
            f"{mode:5} p50 memory {p50[mode, 'memory']:.3f} Redis {p50[mode, 'Redis']:.3f} "
            f"({self.added(mode):+.3f}); p90 memory {p90[mode, 'memory']:.3f} "
            f"Redis {p90[mode, 'Redis']:.3f} ({self.added(mode, 'p90'):+.3f}); "
            f"PING {self.ping[mode]:.3f}"
        )


async def async_round(wrappers: dict[str, BaseLLMWrapper], args: argparse.Namespace) -> Samples:
    """The async half of a round, in its own event loop; the PING p50 under key `ping`."""
    samples = await async_samples(wrappers, args.calls, args.warmup)
    samples["ping"] = [await aping_p50(args.redis_url)]
    return samples


def hot_path(args: argparse.Namespace, root: Path, key_prefix: str) -> dict[str, list[float]]:
    """Part 1: rounds of interleaved sync then async calls, and the summary against the goal.
    Every call's latency in ms, by `<mode>, <state>` (e.g. `sync, Redis`)."""
    print(
        f"1. hot path cost: mock provider, echelon with concurrency_limit and rpm_limit; "
        f"{args.calls} interleaved sequential calls per state and mode a round; ms"
    )
    wrappers, factories = hot_path_wrappers(root, args.redis_url, key_prefix)
    try:
        states = ", ".join(f"{name} ({w.get_stats()['state']})" for name, w in wrappers.items())
        print(f"  states: {states}; PING: a bare redis-py round trip to the same Redis, p50")
        rounds = []
        every: dict[str, list[float]] = {}
        for number in range(1, args.rounds + 1):
            result = HotRound()
            sync = sync_samples(wrappers, args.calls, args.warmup)
            result.add("sync", sync, ping_p50(args.redis_url))
            async_ = asyncio.run(async_round(wrappers, args))
            result.add("async", async_, async_.pop("ping")[0])
            for mode, samples in (("sync", sync), ("async", async_)):
                for state, values in samples.items():
                    every.setdefault(f"{mode}, {state}", []).extend(v * 1000 for v in values)
            print(f"  round {number}: {result.line('sync')}")
            print(f"  {'':9}{result.line('async')}")
            rounds.append(result)
    finally:
        for factory in factories:
            factory.close()
    print(f"  summary over {args.rounds} rounds: median (min-max), ms")
    for mode in ("sync", "async"):
        added = [r.added(mode) for r in rounds]
        print(
            f"    {mode:5} p50 memory {spread([r.p50[mode, 'memory'] for r in rounds], 3)}, "
            f"Redis {spread([r.p50[mode, 'Redis'] for r in rounds], 3)}; p90 added "
            f"{spread([r.added(mode, 'p90') for r in rounds], 3)}; "
            f"PING {spread([r.ping[mode] for r in rounds], 3)}"
        )
        met = statistics.median(added) <= HOT_PATH_GOAL_MS
        print(
            f"    {mode:5} p50 added by Redis: {spread(added, 3)} ms  "
            f"goal <= +{HOT_PATH_GOAL_MS} ms: {verdict(met)}"
        )
    return every


# -- the replica processes (this code runs in them) ---------------------------------------------


class FallbackCounter(logging.Handler):
    """Counts the WARNINGs a state logs when Redis fails it and it goes local."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


class Replica:
    """What one replica process keeps for its whole life: a factory over the fleet's config
    directory (its state in Redis) and one event loop, as a server's worker would."""

    def __init__(self, directory: str) -> None:
        self.factory = LLMWrapperFactory.from_config_dir(directory)
        self.state = self.factory.task_group_manager.state
        self.loop = asyncio.new_event_loop()
        self.fallbacks = FallbackCounter()
        logging.getLogger(OUTAGE_LOGGER).addHandler(self.fallbacks)

    def wrapper(self, group: str) -> BaseLLMWrapper:
        return self.factory.get_wrapper(f"{group}_wrapper")

    def run(self, work: Awaitable[T]) -> T:
        return self.loop.run_until_complete(work)

    def close(self) -> None:
        """Close the factory (its Redis state), then the loop and its clients."""
        self.factory.close()
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()


@dataclass
class Tally:
    """What one process's callers got: answers, failures by message, and the longest the
    event loop was stalled meanwhile (seconds)."""

    ok: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    stall: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "errors": dict(self.errors), "stall": self.stall}


async def watch_stalls(tally: Tally) -> None:
    """Note in `tally` the longest a short sleep overslept: the loop's worst stall."""
    while True:
        began = time.monotonic()
        await asyncio.sleep(LAG_TICK)
        tally.stall = max(tally.stall, time.monotonic() - began - LAG_TICK)


async def drive(
    wrapper: BaseLLMWrapper, callers: int, start_at: float, end_at: float, cancel: bool
) -> Tally:
    """`callers` tasks call `ainvoke` one after another from `start_at` until `end_at`; with
    `cancel`, calls still waiting (for rpm room) at `end_at` are cancelled, else they finish."""
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    tally = Tally()

    async def caller() -> None:
        while time.monotonic() < end_at:
            try:
                await wrapper.ainvoke(PROMPT)
            except Exception as exc:
                tally.errors[f"{type(exc).__name__}: {exc}"[:160]] += 1
                await asyncio.sleep(ERROR_PAUSE)
            else:
                tally.ok += 1

    monitor = asyncio.create_task(watch_stalls(tally))
    tasks = [asyncio.create_task(caller()) for _ in range(callers)]
    if cancel:
        _, pending = await asyncio.wait(tasks, timeout=max(0.0, end_at - time.monotonic()))
        for task in pending:
            task.cancel()
    await asyncio.gather(*tasks, return_exceptions=cancel)
    monitor.cancel()
    return tally


def warm_job(replica: Replica, index: int, job: dict[str, Any]) -> dict[str, Any]:
    """Job `warm`: rounds of concurrent calls on the warm-up group, more each round (`steps`),
    so the event loop's HTTP and Redis clients and their connections exist before anything
    is measured, opened a few at a time."""

    async def warm() -> None:
        wrapper = replica.wrapper("warm")
        for callers in job["steps"]:
            await asyncio.gather(*(wrapper.ainvoke(PROMPT) for _ in range(callers)))

    replica.run(warm())
    return status_job(replica, index, job)


def status_job(replica: Replica, index: int, job: dict[str, Any]) -> dict[str, Any]:
    """Job `status`: where the state lives now, and the fallbacks to local state so far."""
    return {"status": replica.state.status(), "fallbacks": replica.fallbacks.count}


def load_job(replica: Replica, index: int, job: dict[str, Any]) -> dict[str, Any]:
    """Jobs `rpm` and `concurrency`: this process's callers on the job's group."""
    before = replica.fallbacks.count
    end_at = job["start_at"] + job["seconds"]
    work = drive(
        replica.wrapper(job["group"]), job["callers"], job["start_at"], end_at, job["cancel"]
    )
    tally = replica.run(work)
    return {
        "status": replica.state.status(),
        "fallbacks": replica.fallbacks.count - before,
        **tally.as_dict(),
    }


def open_breaker(wrapper: BaseLLMWrapper, state: Any, key: str) -> BreakerRecord:
    """Call until this process's failures have opened breaker `key`; its record."""
    for _ in range(100):
        wrapper.invoke(PROMPT)
        record = state.breaker_record(key)
        if record.state is not CircuitState.CLOSED:
            return record  # type: ignore[no-any-return]
    raise RuntimeError(f"breaker {key} never opened")


def watch_breaker(state: Any, key: str, limit: float) -> tuple[float, BreakerRecord]:
    """Poll breaker `key` (about every millisecond) until it is open: when this process
    first saw it so, by its clock, and the record."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        record = state.breaker_record(key)
        seen = time.monotonic()
        if record.state is not CircuitState.CLOSED:
            return seen, record
        time.sleep(0.001)
    raise RuntimeError(f"breaker {key} not seen open within {limit} s")


def breaker_job(replica: Replica, index: int, job: dict[str, Any]) -> dict[str, Any]:
    """Job `breaker`: process 0 opens the failing instance's breaker in the job's group, the
    others watch for it; then all call until the planned recoveries are over."""
    before = replica.fallbacks.count
    group = job["group"]
    wrapper = replica.wrapper(group)
    keys = replica.factory.task_group_manager.breaker_keys(FAILING_INSTANCE)
    key = next(k for k in keys if f":{group}:" in k)
    time.sleep(max(0.0, job["start_at"] - time.monotonic()))
    if index == 0:
        record = open_breaker(wrapper, replica.state, key)
        seen = time.monotonic()
    else:
        seen, record = watch_breaker(replica.state, key, limit=10.0)
    end_at = record.opened_at + job["recovery_time"] * (job["recoveries"] + 0.5)
    tally = replica.run(drive(wrapper, job["callers"], 0.0, end_at, cancel=False))
    return {
        "status": replica.state.status(),
        "fallbacks": replica.fallbacks.count - before,
        "opened_at": record.opened_at,
        "seen": seen,
        **tally.as_dict(),
    }


Job = Callable[[Replica, int, dict[str, Any]], dict[str, Any]]
JOBS: dict[str, Job] = {
    "warm": warm_job,
    "status": status_job,
    "rpm": load_job,
    "concurrency": load_job,
    "breaker": breaker_job,
}


def replica_main(index: int, directory: str, conn: Connection) -> None:
    """A replica process: builds its factory, then runs the jobs it is sent (None ends it),
    answering each."""
    logging.basicConfig(level=logging.WARNING, format=f"replica {index}: %(levelname)s %(message)s")
    replica = Replica(directory)
    conn.send("ready")
    try:
        while (job := conn.recv()) is not None:
            try:
                result = JOBS[job["kind"]](replica, index, job)
            except Exception:
                result = {"failed": traceback.format_exc()}
            conn.send(result)
    finally:
        replica.close()


# -- the replicas, as this process sees them ----------------------------------------------------


class Replicas:
    """`count` spawned replica processes over one config directory, started once and given
    one job after another."""

    def __init__(self, count: int, directory: Path) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipes: list[Connection] = []
        self._processes: list[Any] = []
        for index in range(count):
            mine, theirs = context.Pipe()
            process = context.Process(
                target=replica_main, args=(index, str(directory), theirs), daemon=True
            )
            process.start()
            self._pipes.append(mine)
            self._processes.append(process)
        for pipe in self._pipes:
            self._receive(pipe, 120.0)

    def run(self, job: dict[str, Any], length: float) -> list[dict[str, Any]]:
        """Send `job` to every process with a common start time (`time.monotonic` is one
        clock for all processes here); their results in order. `length`: the job's planned
        length."""
        job = {**job, "start_at": time.monotonic() + START_DELAY}
        for pipe in self._pipes:
            pipe.send(job)
        results = [self._receive(pipe, START_DELAY + length + JOB_MARGIN) for pipe in self._pipes]
        for index, result in enumerate(results):
            if "failed" in result:
                raise RuntimeError(f"replica {index} failed:\n{result['failed']}")
        return results

    @staticmethod
    def _receive(pipe: Connection, timeout: float) -> Any:
        if not pipe.poll(timeout):
            raise TimeoutError(f"a replica gave no answer within {timeout:.0f} s")
        return pipe.recv()

    def close(self) -> None:
        """Tell every process to end; terminate any that has not within 10 s."""
        for pipe in self._pipes:
            with contextlib.suppress(OSError):
                pipe.send(None)
        for process in self._processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)


def summary_of(results: list[dict[str, Any]]) -> str:
    """Errors (the three commonest), worst event-loop stall, fallbacks to local state and
    where each state lives now, across processes."""
    errors: Counter[str] = Counter()
    for result in results:
        errors.update(result["errors"])
    failed = "; ".join(f"{n} x {message}" for message, n in errors.most_common(3)) or "none"
    stall = max(result["stall"] for result in results) * 1000
    fallbacks = sum(result["fallbacks"] for result in results)
    return (
        f"errors: {failed}; worst loop stall {stall:.0f} ms; fallbacks to local state: "
        f"{fallbacks}; states now: {summary_of_states(results)}"
    )


def summary_of_states(results: list[dict[str, Any]]) -> str:
    """Where the replicas' states live, e.g. `4 shared`."""
    statuses = Counter(result["status"] for result in results)
    return ", ".join(f"{n} {status}" for status, n in statuses.items())


# -- what the simulators and Redis saw ----------------------------------------------------------


class ArrivalLog:
    """When each chat-completion request reached one simulator, by `time.monotonic`.

    The simulator counts requests but keeps no times, so a thread waits on its counters
    (`SimServer.wait_for` wakes it at every change) and stamps each new request when it sees
    the count go up: late by the thread's wake-up, about a millisecond. Start it after the
    simulator's stats were reset.
    """

    def __init__(self, server: SimServer) -> None:
        self.times: list[float] = []
        self._server = server
        self._seen = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="arrival-log", daemon=True)
        self._thread.start()

    def _note(self, stats: SimStats) -> bool:
        if stats.requests > self._seen:
            now = time.monotonic()
            self.times.extend([now] * (stats.requests - self._seen))
        self._seen = stats.requests
        return self._stop.is_set()

    def _watch(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                self._server.wait_for(self._note, timeout=0.5)

    def stop(self) -> list[float]:
        """Stop watching; the arrival times."""
        self._stop.set()
        self._thread.join(timeout=2)
        self._note(self._server.stats)
        return self.times


class AdmissionLog:
    """Every admission an rpm window in Redis recorded, by the Redis server's clock: the
    windows' sorted sets (keys matching `match`), read every second; an admission stays in
    its set for the whole 60-s window, so none is missed."""

    def __init__(self, redis_url: str, match: str) -> None:
        self.times: dict[bytes, float] = {}
        self._client = redis.Redis.from_url(redis_url)
        self._match = match
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="admission-log", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for key in self._client.scan_iter(match=self._match):
            for member, score in self._client.zrange(key, 0, -1, withscores=True):
                self.times[member] = score

    def _watch(self) -> None:
        while not self._stop.wait(1.0):
            self._read()

    def stop(self) -> list[float]:
        """Stop reading (after one last read); the admission times."""
        self._stop.set()
        self._thread.join(timeout=5)
        self._read()
        self._client.close()
        return list(self.times.values())


@dataclass
class Fleet:
    """The simulators of part 2, each an instance of its own, and the config directory of
    the groups over them: `warm`, `rpm`, `conc`, and `brk1`.. (one per breaker round)."""

    sims: dict[str, SimServer]
    directory: Path
    key_prefix: str

    @classmethod
    def start(cls, root: Path, redis_url: str, key_prefix: str, breaker_rounds: int) -> Fleet:
        low, high = CONCURRENCY_LATENCY
        faults = {
            "warm": "healthy",
            "rpm": "healthy",
            "conc": f"slow:{low}-{high}",
            "failing": "error_rate:1.0",
            "healthy": "slow:0.02",  # callers rerouted here do not spin the CPU
        }
        sims = {
            name: SimServer(FaultMode.parse(f), capture_limit=0).start()
            for name, f in faults.items()
        }
        models = {
            "warm_m": sim_model(sims["warm"].base_url),
            "rpm_m": sim_model(sims["rpm"].base_url),
            "conc_m": sim_model(sims["conc"].base_url),
            "m": sim_model(sims["failing"].base_url, sims["healthy"].base_url),
        }
        groups: dict[str, dict[str, Any]] = {
            "warm": {"echelon1": {"models": ["warm_m"]}},
            "rpm": {
                "echelon1": {"models": ["rpm_m"], "rpm_limit": RPM_LIMIT, "timeout": RPM_TIMEOUT}
            },
            "conc": {"echelon1": {"models": ["conc_m"], "concurrency_limit": CONCURRENCY_LIMIT}},
        }
        for number in range(1, breaker_rounds + 1):
            groups[f"brk{number}"] = {
                "echelon1": {"models": ["m"], "max_retries": 1, "timeout": 5},
                "fallback_config": {"circuit_breaker": BREAKER},
            }
        directory = config_dir(root / "fleet", models, groups, redis_url, key_prefix)
        return cls(sims, directory, key_prefix)

    def stop(self) -> None:
        for server in self.sims.values():
            server.stop()


# -- 2a. rpm ------------------------------------------------------------------------------------


def rpm_part(args: argparse.Namespace, replicas: Replicas, fleet: Fleet) -> dict[float, float]:
    """Part 2a: one run against a shared rpm limit; the most requests in 60 s at the
    simulator (and admissions in Redis) against the goal. The requests at the simulator in
    the trailing 60 s, at each arrival (seconds from the start)."""
    seconds = args.rpm_seconds
    print(
        f"\n2a. shared rpm_limit R={RPM_LIMIT} (window {RPM_WINDOW:g} s): {PROCESSES} processes "
        f"x {RPM_CALLERS} async callers for {seconds:g} s"
    )
    if seconds < RPM_WINDOW:
        print(
            f"  (--quick: the run is shortened to {seconds:g} s; it shows the first burst only, "
            f"not the window's edge at {RPM_WINDOW:g} s)"
        )
    server = fleet.sims["rpm"]
    server.reset_stats()
    arrivals = ArrivalLog(server)
    admissions = AdmissionLog(args.redis_url, f"{fleet.key_prefix}rpm:*")
    job = {
        "kind": "rpm",
        "group": "rpm",
        "callers": RPM_CALLERS,
        "seconds": seconds,
        "cancel": True,
    }
    started = time.monotonic() + START_DELAY
    results = replicas.run(job, seconds)
    times, admitted = arrivals.stop(), admissions.stop()
    report_rpm(results, times, admitted, server.stats, started, seconds)
    return {moment - started: count for moment, count in trailing_counts(times)}


def report_rpm(
    results: list[dict[str, Any]],
    times: list[float],
    admitted: list[float],
    stats: SimStats,
    started: float,
    seconds: float,
) -> None:
    buckets = Counter(int((moment - started) // 10) for moment in times)
    timeline = ", ".join(f"{buckets.get(n, 0)}" for n in range(int(seconds // 10) + 1))
    answered = [result["ok"] for result in results]
    print(f"  requests at the simulator: {stats.requests} (per 10 s from the start: {timeline})")
    print(f"  calls answered per process: {answered}; {summary_of(results)}")
    most_admitted, _ = most_in_window(admitted)
    print(f"  Redis recorded {len(admitted)} admissions; most in any 60 s: {most_admitted}")
    most, at = most_in_window(times)
    goal = RPM_GOAL * RPM_LIMIT
    print(
        f"  most requests at the simulator in any 60 s: {most} (window ending "
        f"{at - started:.2f} s after the start) = {most / RPM_LIMIT:.3f} R  "
        f"goal <= {RPM_GOAL} R = {goal:g}: {verdict(most <= goal)}"
    )


# -- 2b. concurrency ----------------------------------------------------------------------------


def concurrency_part(args: argparse.Namespace, replicas: Replicas, fleet: Fleet) -> None:
    """Part 2b: rounds of callers against a shared concurrency limit; the simulator's peak."""
    low, high = CONCURRENCY_LATENCY
    seconds = args.concurrency_seconds
    print(
        f"\n2b. shared concurrency_limit N={CONCURRENCY_LIMIT}: simulator latency "
        f"{low * 1000:.0f}-{high * 1000:.0f} ms, {PROCESSES} processes x {CONCURRENCY_CALLERS} "
        f"async callers, {seconds:g} s a round"
    )
    server = fleet.sims["conc"]
    ideal = CONCURRENCY_LIMIT / ((low + high) / 2)
    peaks: list[float] = []
    rates: list[float] = []
    for number in range(1, args.fleet_rounds + 1):
        server.reset_stats()
        job = {
            "kind": "concurrency",
            "group": "conc",
            "callers": CONCURRENCY_CALLERS,
            "seconds": seconds,
            "cancel": False,
        }
        results = replicas.run(job, seconds)
        stats = server.stats
        left = slots_left(args.redis_url, fleet.key_prefix, "limits:conc.echelon1")
        rate = sum(result["ok"] for result in results) / seconds
        print(
            f"  round {number}: peak in flight at the simulator {stats.peak_in_flight}; calls "
            f"done {stats.completed} ({rate:.0f}/s, {rate / ideal:.0%} of what N slots do at the "
            f"mean latency); slots taken after: {left}; {summary_of(results)}"
        )
        peaks.append(stats.peak_in_flight)
        rates.append(rate)
    print(f"  calls/s over {len(rates)} rounds: {spread(rates, 0)} (N slots: {ideal:.0f}/s)")
    met = max(peaks) <= CONCURRENCY_LIMIT
    print(
        f"  peak in flight at the simulator: {spread(peaks, 0)}, highest {max(peaks):.0f}  "
        f"goal <= N = {CONCURRENCY_LIMIT}: {verdict(met)}"
    )


def slots_left(redis_url: str, key_prefix: str, limits_key: str) -> int:
    """Slots of `limits_key` still taken in Redis (every caller is done: 0 expected)."""
    state = RedisState(redis_url, key_prefix=key_prefix)
    try:
        return state.in_flight(limits_key)
    finally:
        state.close()


# -- 2c. breaker --------------------------------------------------------------------------------


@dataclass
class BreakerRound:
    """How long processes 1-3 took to see the breaker open (s), and the half-open probes that
    reached the failing instance in each recovery."""

    seen: list[float]
    probes: list[int]


def breaker_part(args: argparse.Namespace, replicas: Replicas, fleet: Fleet) -> None:
    """Part 2c: rounds of opening a breaker in one process and recovering it in all four."""
    recovery = BREAKER["recovery_time"]
    allowed = BREAKER["half_open_requests"]
    print(
        f"\n2c. shared breaker: failure_threshold {BREAKER['failure_threshold']}, recovery_time "
        f"{recovery:g} s, half_open_requests {allowed}; process 0 opens it, 1-3 poll its record;"
        f" then {PROCESSES} x {BREAKER_CALLERS} async callers for {BREAKER_RECOVERIES} recoveries"
    )
    failing = fleet.sims["failing"]
    rounds: list[BreakerRound] = []
    for number in range(1, args.fleet_rounds + 1):
        failing.reset_stats()
        arrivals = ArrivalLog(failing)
        job = {
            "kind": "breaker",
            "group": f"brk{number}",
            "callers": BREAKER_CALLERS,
            "recovery_time": recovery,
            "recoveries": BREAKER_RECOVERIES,
        }
        results = replicas.run(job, recovery * (BREAKER_RECOVERIES + 1))
        rounds.append(report_breaker_round(number, results, arrivals.stop()))
    seen = [max(r.seen) * 1000 for r in rounds]
    probes = [max(r.probes, default=0) for r in rounds]
    recoveries = sum(len(r.probes) for r in rounds)
    print(
        f"  slowest process to see the breaker open, ms: {spread(seen, 1)}  "
        f"goal <= {SEEN_GOAL * 1000:.0f} ms: {verdict(max(seen) <= SEEN_GOAL * 1000)}"
    )
    met = recoveries > 0 and max(probes) <= allowed
    print(
        f"  most probes in one recovery: {spread(probes, 0)} over {recoveries} recoveries  "
        f"goal <= half_open_requests = {allowed}: {verdict(met)}"
    )


def report_breaker_round(
    number: int, results: list[dict[str, Any]], times: list[float]
) -> BreakerRound:
    """One round's lines: seen-open delays, the requests that opened the breaker, and the
    probe bursts of each recovery (requests to the failing instance after it opened)."""
    opened_at = results[0]["opened_at"]
    seen = [result["seen"] - result["opened_at"] for result in results[1:]]
    opening = [t for t in times if t <= opened_at + 0.05]
    later = bursts([t for t in times if t > opened_at + 0.05], BREAKER["recovery_time"] / 2)
    recoveries = ", ".join(f"{len(b)} at +{b[0] - opened_at:.2f} s" for b in later) or "none"
    readings = [result["opened_at"] for result in results]
    agree = (max(readings) - min(readings)) * 1000
    print(
        f"  round {number}: seen open by processes 1-3 after "
        f"{', '.join(f'{s * 1000:.1f}' for s in seen)} ms (opened_at as read by the 4 "
        f"processes within {agree:.1f} ms); opened by {len(opening)} failed requests; then "
        f"probes per recovery: {recoveries}"
    )
    print(f"  {'':9}calls answered {sum(r['ok'] for r in results)}; {summary_of(results)}")
    return BreakerRound(seen, [len(b) for b in later])


# -- main -------------------------------------------------------------------------------------


def fleet_parts(args: argparse.Namespace, root: Path, key_prefix: str) -> dict[float, float]:
    """Part 2: the simulators, the replica processes and their warm-up, then 2a-2c; what
    2a returns."""
    fleet = Fleet.start(root, args.redis_url, key_prefix, args.fleet_rounds)
    try:
        print(f"\nstarting {PROCESSES} replica processes and warming them up ...", flush=True)
        replicas = Replicas(PROCESSES, fleet.directory)
        try:
            warm_up(replicas)
            in_window = rpm_part(args, replicas, fleet)
            concurrency_part(args, replicas, fleet)
            breaker_part(args, replicas, fleet)
            return in_window
        finally:
            replicas.close()
    finally:
        fleet.stop()


def warm_up(replicas: Replicas) -> None:
    """Warm the replicas up, then wait until every one shares its state (a Redis operation
    that timed out while warming sends a replica local for a while)."""
    began = time.monotonic()
    results = replicas.run({"kind": "warm", "steps": WARM_STEPS}, 30)
    fallbacks = sum(result["fallbacks"] for result in results)
    while any(result["status"] != "shared" for result in results):
        if time.monotonic() - began > SHARED_WAIT:
            print(f"  NOT all replicas share their state: {summary_of_states(results)}")
            break
        time.sleep(0.5)
        results = replicas.run({"kind": "status"}, 1)
    steps = ", ".join(str(step) for step in WARM_STEPS)
    print(
        f"  warmed up with {steps} concurrent calls in turn; fallbacks to local state while "
        f"warming: {fallbacks}; states: {summary_of_states(results)} after "
        f"{time.monotonic() - began:.1f} s"
    )


def delete_keys(redis_url: str, key_prefix: str) -> int:
    """Delete every key under `key_prefix`; how many went."""
    client = redis.Redis.from_url(redis_url)
    try:
        names = list(client.scan_iter(match=f"{key_prefix}*", count=500))
        return int(client.delete(*names)) if names else 0
    finally:
        client.close()


def redis_answers(redis_url: str) -> bool:
    client = redis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run, under a minute")
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the hot path")
    parser.add_argument("--calls", type=int, help="hot path calls per state and mode a round")
    parser.add_argument("--warmup", type=int, help="hot path warm-up calls")
    parser.add_argument("--fleet-rounds", type=int, help="rounds of 2b and 2c")
    parser.add_argument("--rpm-seconds", type=float, help="length of the rpm run (2a)")
    parser.add_argument("--concurrency-seconds", type=float, help="length of a 2b round")
    charts.add_options(parser)
    args = parser.parse_args()
    quick = args.quick
    if args.calls is None:
        args.calls = 300 if quick else 2000
    if args.warmup is None:
        args.warmup = 100 if quick else 200
    if args.fleet_rounds is None:
        args.fleet_rounds = 2 if quick else 3
    if args.rpm_seconds is None:
        args.rpm_seconds = 5.0 if quick else 70.0
    if args.concurrency_seconds is None:
        args.concurrency_seconds = 2.0 if quick else 4.0
    return args


def main() -> int:
    args = parse_args()
    if not redis_answers(args.redis_url):
        print(f"no Redis answers at {args.redis_url}: nothing measured")
        return 1
    key_prefix = f"llm-wrappers-bench:{uuid.uuid4().hex[:12]}:"
    began = time.monotonic()
    print(f"Redis {args.redis_url}, key prefix {key_prefix}{' (--quick)' if args.quick else ''}\n")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            hot = hot_path(args, Path(tmp) / "hot", f"{key_prefix}hot:")
            sys.setswitchinterval(0.001)  # the arrival logs' threads wake up sooner
            in_window = fleet_parts(args, Path(tmp), f"{key_prefix}fleet:")
    finally:
        deleted = delete_keys(args.redis_url, key_prefix)
        took = time.monotonic() - began
        print(f"\ndeleted {deleted} Redis keys under {key_prefix}; {took:.0f} s in all")
    charts.write(args, chart_title(args), chart_panels(hot, in_window))
    return 0


def chart_title(args: argparse.Namespace) -> str:
    return (
        f"Replicas: {args.rounds} x {args.calls} hot-path calls per state and mode; "
        f"{PROCESSES} processes sharing an rpm_limit of {RPM_LIMIT} through Redis"
    )


def chart_panels(hot: dict[str, list[float]], in_window: dict[float, float]) -> list[charts.Panel]:
    """Part 1's latency CDFs, sync and async; part 2a's trailing-60-s count against the goal."""
    panels: list[charts.Panel] = [
        charts.CdfPanel(
            f"hot path, {mode}: InMemoryState vs Redis (mock model)",
            {state: hot[f"{mode}, {state}"] for state in ("memory", "Redis")},
        )
        for mode in ("sync", "async")
    ]
    panels.append(
        charts.CurvePanel(
            f"rpm_limit {RPM_LIMIT} shared by {PROCESSES} processes",
            {"requests at the simulator in the last 60 s": in_window},
            "seconds from the start",
            "requests",
            log_x=False,
            discrete_x=False,
            goal=RPM_GOAL * RPM_LIMIT,
            goal_label=f"goal <= {RPM_GOAL} R = {RPM_GOAL * RPM_LIMIT:g}",
        )
    )
    return panels


if __name__ == "__main__":
    raise SystemExit(main())
