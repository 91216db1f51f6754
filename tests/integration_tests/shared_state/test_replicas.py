"""Replicas in threads, forked processes and separate programs share one concurrency limit
and one rpm limit, and see each other's breakers; a process killed with SIGKILL gives its
slots back within the lease time."""

from __future__ import annotations

import multiprocessing
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import redis

from infrastructure.llm.resilience.admission import Gate, Reason, Refusal, Ticket, Verdict
from infrastructure.llm.resilience.circuit_breaker import BreakerPolicy
from infrastructure.llm.resilience.limits import Limits
from infrastructure.llm.resilience.redis import RedisState
from infrastructure.llm.resilience.state import CircuitState

from .conftest import LEASE_TIME, MakeState

LIMIT = 3
GATE = Gate(
    "instance:i",
    "breaker:i",
    BreakerPolicy(2, 30.0, 1),
    Limits("limits:i", concurrency_limit=LIMIT),
)


def busy(state: RedisState, calls: int, on_admit: Any, on_done: Any) -> int:
    """Make `calls` calls through GATE, waiting for room; returns how many were refused."""
    refused = 0
    for _ in range(calls):
        while type(answer := state.admit(GATE, 0.0)) is not Ticket:
            assert answer.reason is Reason.FULL  # type: ignore[union-attr]
            refused += 1
            time.sleep(0.0005)
        on_admit()
        time.sleep(0.001)
        on_done()
        state.settle(GATE, answer, Verdict.ANSWERED, 0.0)
    return refused


def test_replicas_in_threads_never_exceed_the_limit(make_state: MakeState) -> None:
    lock = threading.Lock()
    running, most, refused = [0], [0], [0]

    def enter() -> None:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])

    def leave() -> None:
        with lock:
            running[0] -= 1

    def work(state: RedisState) -> None:
        count = busy(state, 25, enter, leave)
        with lock:
            refused[0] += count

    states = [make_state() for _ in range(4)]
    threads = [threading.Thread(target=work, args=(s,)) for s in states for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] <= LIMIT
    assert refused[0] > 0  # twelve callers really competed for three slots
    for state in states:
        state.flush()
    assert states[0].in_flight("limits:i") == 0


def test_replicas_in_threads_admit_exactly_the_rpm_limit(make_state: MakeState) -> None:
    rated = Gate("instance:r", "breaker:r", BreakerPolicy(2, 30.0, 1), Limits("limits:r", 2, 50))
    lock = threading.Lock()
    admitted, waits = [0], []

    def work(state: RedisState) -> None:
        for _ in range(40):
            answer = state.admit(rated, 0.0)
            with lock:
                if type(answer) is Ticket:
                    admitted[0] += 1
                elif answer.wait > 0.0:  # type: ignore[union-attr]
                    waits.append(answer.wait)  # type: ignore[union-attr]
            if type(answer) is Ticket:
                state.settle(rated, answer, Verdict.ANSWERED, 0.0)

    states = [make_state() for _ in range(4)]
    threads = [threading.Thread(target=work, args=(s,)) for s in states for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert admitted[0] == 50  # 480 tries in well under a minute: the burst, not one more
    assert waits and all(58.0 < wait <= 60.0 for wait in waits)


def _forked_replica(url: str, prefix: str, results: Any) -> None:
    """A replica process: calls through GATE, counting calls in flight in Redis itself."""
    counter = redis.Redis.from_url(url)
    state = RedisState(url, key_prefix=prefix, lease_time=LEASE_TIME)
    most = [0]

    def enter() -> None:
        most[0] = max(most[0], counter.incr(f"{prefix}running"))

    refused = busy(state, 40, enter, lambda: counter.decr(f"{prefix}running"))
    results.put((most[0], refused, state.status()))
    state.close()
    counter.close()


def test_processes_never_exceed_the_limit(redis_url: str, key_prefix: str) -> None:
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    processes = [
        context.Process(target=_forked_replica, args=(redis_url, key_prefix, results))
        for _ in range(4)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=30) for _ in processes]
    for process in processes:
        process.join(timeout=10)
        assert process.exitcode == 0
    assert all(status == "shared" for _, _, status in outcomes)
    assert max(most for most, _, _ in outcomes) <= LIMIT
    assert sum(refused for _, refused, _ in outcomes) > 0


# Holds every slot of GATE and opens the breaker of another instance, says so, then waits
# to be killed.
HOLDER = f"""
import sys, time
from infrastructure.llm.resilience.admission import Gate, Ticket, Verdict
from infrastructure.llm.resilience.circuit_breaker import BreakerPolicy
from infrastructure.llm.resilience.limits import Limits
from infrastructure.llm.resilience.redis import RedisState
state = RedisState(sys.argv[1], key_prefix=sys.argv[2], lease_time={LEASE_TIME})
held = Gate("instance:i", "breaker:i", BreakerPolicy(2, 30.0, 1), Limits("limits:i", {LIMIT}))
for _ in range({LIMIT}):
    assert type(state.admit(held, 0.0)) is Ticket
failing = Gate("instance:f", "breaker:f", BreakerPolicy(1, 30.0, 1), None)
state.settle(failing, state.admit(failing, 0.0), Verdict.FAILED, 0.0)
print(state.status(), flush=True)
time.sleep(60)
"""


def test_a_killed_process_gives_its_slots_back_within_the_lease_time(
    make_state: MakeState, redis_url: str, key_prefix: str
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, redis_url, key_prefix], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "shared\n"
        state = make_state()
        assert state.breaker_record("breaker:f").state is CircuitState.OPEN
        answer = state.admit(GATE, 0.0)
        assert type(answer) is Refusal and answer.reason is Reason.FULL
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=5)
        killed = time.monotonic()
        while type(state.admit(GATE, 0.0)) is not Ticket:
            assert time.monotonic() - killed < LEASE_TIME + 0.1
            time.sleep(0.01)
        # The holder's leases may expire a little apart: all are gone within the lease time.
        while state.in_flight("limits:i") != 1:
            assert time.monotonic() - killed < LEASE_TIME + 0.1
            time.sleep(0.01)
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait(timeout=5)
