"""Run one call on a polling pool: `instance_rotation` or `simple_retry`, at most
`max_instance_attempts` attempts, bounded by the call's deadline.

As in `attempts`, the sync and async loops are thin and every decision lives in `PoolRun`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from infrastructure.llm.clock import Clock
from infrastructure.llm.errors import AllTargetsFailedError, LLMWrapperError
from infrastructure.llm.fleet.instance import Instance
from infrastructure.llm.fleet.pool import PollingPool, PoolMember
from infrastructure.llm.fleet.target import Target
from infrastructure.llm.resilience.error_classification import ErrorKind, classify
from infrastructure.llm.resilience.limits import Permit
from infrastructure.llm.routing.attempts import (
    Served,
    account_abandoned,
    account_failure,
    account_success,
    retry_pause,
)
from infrastructure.llm.routing.call_record import CallRecord

T = TypeVar("T")


class PoolRun:
    """One call's attempts on a pool: which member next, how long to wait, what counts."""

    __slots__ = ("attempts", "clock", "last", "max_attempts", "pool", "record", "rotate", "tried")

    def __init__(
        self,
        pool: PollingPool,
        record: CallRecord,
        clock: Clock,
        *,
        strategy: str,
        max_attempts: int,
    ) -> None:
        self.pool = pool
        self.record = record
        self.clock = clock
        self.rotate = strategy == "instance_rotation"
        self.max_attempts = max_attempts
        self.tried: set[int] = set()
        self.last: int | None = None
        self.attempts = 0

    def choose(self) -> tuple[PoolMember, Permit | None]:
        """The next member: a fresh one (`instance_rotation`) or the last one (`simple_retry`)."""
        prefer = None if self.rotate else self.last
        return self.pool.choose(self.tried, self.record.busy, self.clock.now(), prefer=prefer)

    def capacity_wait_until(self, member: PoolMember, streaming: bool) -> float:
        return self.clock.now() + self.timeout(member, streaming)

    def timeout(self, member: PoolMember, streaming: bool) -> float:
        """The member's echelon timeout (to the first chunk when streaming), cut by the deadline."""
        target = member.target
        limit = target.first_chunk_timeout if streaming else target.config.timeout
        return self.record.deadline.cap(limit)

    def start(self, member: PoolMember, permit: Permit, streaming: bool) -> float:
        """Count the attempt on `member` and return its timeout; frees the slot if none is left."""
        try:
            attempt_timeout = self.timeout(member, streaming)
        except BaseException:
            permit.release()
            member.breaker.release()
            raise
        if self.attempts:
            self.record.retries += 1
        self.attempts += 1
        self.record.attempts += 1
        self.tried.add(member.index)
        self.last = member.index
        self.record.busy.add(member.instance.id)
        return attempt_timeout

    def succeeded(self, member: PoolMember, permit: Permit, value: T, streaming: bool) -> Served[T]:
        account_success(member.instance, member.breaker, self.record)
        if not streaming:
            permit.release()
        return Served(value, member.target, member.instance, member.breaker, permit)

    def failed(self, member: PoolMember, permit: Permit, exc: Exception) -> float | None:
        """Account a failed attempt; return the pause before the next, None to give up."""
        permit.release()
        kind = account_failure(member.instance, member.breaker, exc, self.record, self.clock.now())
        if kind is ErrorKind.FATAL:
            return None
        return retry_pause(
            exc,
            attempts=self.attempts,
            max_attempts=self.max_attempts,
            record=self.record,
            free_instance=lambda: (
                self.rotate and self.pool.has_free(self.tried, self.record.busy, self.clock.now())
            ),
        )

    def abandoned(self, member: PoolMember, permit: Permit) -> None:
        account_abandoned(member.instance, member.breaker, permit, self.record)

    def exhausted(self, exc: Exception) -> Exception:
        """The error to raise when the pool gives up: the request's own fault passes through."""
        if not isinstance(exc, LLMWrapperError) and classify(exc) is ErrorKind.FATAL:
            return exc
        detail = "; ".join(self.record.failures) or str(exc)
        return AllTargetsFailedError(
            f"pool {self.pool.name!r}: no instance answered ({self.attempts} attempts): {detail}",
            attempts=self.record.failures,
            last_error=exc,
        )


def run_in_pool(
    run: PoolRun,
    op: Callable[[Target, Instance, float], T],
    *,
    streaming: bool = False,
) -> Served[T]:
    """Call `op(target, instance, attempt_timeout)` on pool members until one succeeds."""
    try:
        while True:
            member, permit = run.choose()
            if permit is None:
                waited = member.target.limiter.acquire(run.capacity_wait_until(member, streaming))
                permit = run.pool.admit(member, waited)
            attempt_timeout = run.start(member, permit, streaming)
            try:
                value = op(member.target, member.instance, attempt_timeout)
            except Exception as exc:
                pause = run.failed(member, permit, exc)
                if pause is None:
                    raise
            except BaseException:
                run.abandoned(member, permit)
                raise
            else:
                return run.succeeded(member, permit, value, streaming)
            if pause > 0:
                run.clock.sleep(pause)
    except Exception as exc:
        raise run.exhausted(exc) from exc


async def arun_in_pool(
    run: PoolRun,
    op: Callable[[Target, Instance, float], Awaitable[T]],
    *,
    streaming: bool = False,
) -> Served[T]:
    """Async twin of `run_in_pool`."""
    try:
        while True:
            member, permit = run.choose()
            if permit is None:
                waited = await member.target.limiter.aacquire(
                    run.capacity_wait_until(member, streaming)
                )
                permit = run.pool.admit(member, waited)
            attempt_timeout = run.start(member, permit, streaming)
            try:
                value = await op(member.target, member.instance, attempt_timeout)
            except Exception as exc:
                pause = run.failed(member, permit, exc)
                if pause is None:
                    raise
            except BaseException:
                run.abandoned(member, permit)
                raise
            else:
                return run.succeeded(member, permit, value, streaming)
            if pause > 0:
                await run.clock.asleep(pause)
    except Exception as exc:
        raise run.exhausted(exc) from exc
