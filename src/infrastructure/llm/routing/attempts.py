"""Run one call against one target: retries with backoff, instance rotation, breaker and limits.

The sync and async loops are thin; every decision lives in `TargetRun`, so both paths agree.
Retry decisions are tenacity strategy objects (stop, wait, retry), consulted only after a
failure: the first attempt, which usually succeeds, costs no retry machinery at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from tenacity import (
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from infrastructure.llm.clock import Clock
from infrastructure.llm.errors import CircuitOpenError, DeadlineExceededError, NoCapacityError
from infrastructure.llm.fleet.instance import Instance
from infrastructure.llm.fleet.target import Target
from infrastructure.llm.resilience.circuit_breaker import CircuitBreaker
from infrastructure.llm.resilience.error_classification import ErrorKind, classify, retry_after
from infrastructure.llm.resilience.limits import Permit
from infrastructure.llm.routing.call_record import CallRecord

T = TypeVar("T")

# Errors that end the work on this target at once: the fallback layer decides what comes next.
_LEAVE_TARGET = (CircuitOpenError, NoCapacityError, DeadlineExceededError)

# Exponential backoff with jitter between retries that reuse an instance: 0.25s, 0.5s, ... 8s.
_BACKOFF = wait_exponential(multiplier=0.25, max=8) + wait_random(0, 0.25)


@dataclass
class Served(Generic[T]):
    """A successful attempt: the value, who produced it, and the limit slot it still holds."""

    value: T
    target: Target
    instance: Instance
    breaker: CircuitBreaker
    permit: Permit


def retry_pause(
    exc: Exception,
    *,
    attempts: int,
    max_attempts: int,
    record: CallRecord,
    free_instance: Callable[[], bool],
) -> float | None:
    """Seconds to wait before attempt `attempts + 1`, or None when no retry should follow.

    No pause when `free_instance()` says an untried instance could take the call now;
    otherwise exponential backoff with jitter, or the server's Retry-After when longer.
    """
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = attempts
    state.set_exception((type(exc), exc, exc.__traceback__))
    if not retry_if_exception(_worth_retrying)(state):
        return None
    if free_instance():
        state.upcoming_sleep = 0.0
    else:
        state.upcoming_sleep = max(_BACKOFF(state), retry_after(exc) or 0.0)

    def past_deadline(retry_state: RetryCallState) -> bool:
        return record.deadline.remaining() <= retry_state.upcoming_sleep

    stop = stop_after_attempt(max_attempts) | past_deadline
    return None if stop(state) else state.upcoming_sleep


def _worth_retrying(exc: BaseException) -> bool:
    return not isinstance(exc, _LEAVE_TARGET) and classify(exc) is not ErrorKind.FATAL


def account_success(instance: Instance, breaker: CircuitBreaker, record: CallRecord) -> None:
    """Note an attempt that answered."""
    breaker.on_success()
    record.busy.discard(instance.id)
    record.instance_outcomes.append((instance.id, True))


def account_failure(
    instance: Instance, breaker: CircuitBreaker, exc: Exception, record: CallRecord, now: float
) -> ErrorKind:
    """Note a failed attempt: breaker, cool-down (misconfigured or Retry-After), record."""
    record.busy.discard(instance.id)
    record.instance_outcomes.append((instance.id, False))
    record.note_failure(instance.id, exc)
    kind = classify(exc)
    if kind is ErrorKind.FATAL:
        breaker.on_success()  # the instance answered; the request itself was at fault
        return kind
    breaker.on_failure()
    if kind is ErrorKind.MISCONFIGURED:
        instance.cooldown_until = now + breaker.recovery_time
    hinted = retry_after(exc)
    if hinted:
        instance.cooldown_until = max(instance.cooldown_until, now + hinted)
    return kind


def account_abandoned(
    instance: Instance, breaker: CircuitBreaker, permit: Permit, record: CallRecord
) -> None:
    """The attempt was cancelled by the caller: give slot and breaker probe back."""
    record.busy.discard(instance.id)
    permit.release()
    breaker.release()


class TargetRun:
    """One call's attempts on one target: which instance next, how long to wait, what counts."""

    __slots__ = ("attempts", "clock", "record", "target", "tried")

    def __init__(self, target: Target, record: CallRecord, clock: Clock) -> None:
        self.target = target
        self.record = record
        self.clock = clock
        self.tried: set[int] = set()
        self.attempts = 0

    def timeout(self, streaming: bool) -> float:
        """This attempt's timeout (to the first chunk when streaming), cut by the deadline."""
        limit = self.target.first_chunk_timeout if streaming else self.target.config.timeout
        return self.record.deadline.cap(limit)

    def permit_now(self) -> Permit | None:
        """For a spill-over echelon, a slot right now or NoCapacityError; otherwise None (wait)."""
        if not self.target.config.spill_over:
            return None
        permit = self.target.limiter.try_acquire()
        if permit is None:
            raise NoCapacityError(f"{self.target.name}: limits reached, spilling over")
        return permit

    def capacity_wait_until(self, timeout: float) -> float:
        return self.clock.now() + timeout

    def choose(self, permit: Permit) -> int:
        """Pick the instance for the next attempt; gives the slot back when none is usable."""
        try:
            index = self.target.pick(self.tried, self.clock.now(), self.record.busy)
        except BaseException:
            permit.release()
            raise
        if self.attempts:
            self.record.retries += 1
        self.tried.add(index)
        self.record.busy.add(self.target.instances[index].id)
        self.attempts += 1
        self.record.attempts += 1
        return index

    def succeeded(self, index: int, permit: Permit, value: T, streaming: bool) -> Served[T]:
        target = self.target
        account_success(target.instances[index], target.breakers[index], self.record)
        if not streaming:
            permit.release()
        return Served(value, target, target.instances[index], target.breakers[index], permit)

    def failed(self, index: int, permit: Permit, exc: Exception) -> float | None:
        """Account a failed attempt; return the pause before retrying, None to leave the target."""
        permit.release()
        instance = self.target.instances[index]
        kind = account_failure(
            instance, self.target.breakers[index], exc, self.record, self.clock.now()
        )
        if kind is ErrorKind.FATAL:
            return None
        return retry_pause(
            exc,
            attempts=self.attempts,
            max_attempts=self.target.config.max_retries + 1,
            record=self.record,
            free_instance=lambda: self.target.has_untried(
                self.tried, self.clock.now(), self.record.busy
            ),
        )

    def abandoned(self, index: int, permit: Permit) -> None:
        account_abandoned(
            self.target.instances[index], self.target.breakers[index], permit, self.record
        )


def run_on_target(
    target: Target,
    record: CallRecord,
    clock: Clock,
    op: Callable[[Target, Instance, float], T],
    *,
    streaming: bool = False,
) -> Served[T]:
    """Call `op(target, instance, attempt_timeout)` until it succeeds or the target is spent.

    A streaming call's attempt ends at its first chunk and keeps its limit slot (the caller
    releases `Served.permit` when the stream ends).
    """
    run = TargetRun(target, record, clock)
    while True:
        attempt_timeout = run.timeout(streaming)
        permit = run.permit_now() or target.limiter.acquire(
            run.capacity_wait_until(attempt_timeout)
        )
        index = run.choose(permit)
        try:
            value = op(target, target.instances[index], attempt_timeout)
        except Exception as exc:
            pause = run.failed(index, permit, exc)
            if pause is None:
                raise
        except BaseException:
            run.abandoned(index, permit)
            raise
        else:
            return run.succeeded(index, permit, value, streaming)
        if pause > 0:
            clock.sleep(pause)


async def arun_on_target(
    target: Target,
    record: CallRecord,
    clock: Clock,
    op: Callable[[Target, Instance, float], Awaitable[T]],
    *,
    streaming: bool = False,
) -> Served[T]:
    """Async twin of `run_on_target`."""
    run = TargetRun(target, record, clock)
    while True:
        attempt_timeout = run.timeout(streaming)
        permit = run.permit_now() or await target.limiter.aacquire(
            run.capacity_wait_until(attempt_timeout)
        )
        index = run.choose(permit)
        try:
            value = await op(target, target.instances[index], attempt_timeout)
        except Exception as exc:
            pause = run.failed(index, permit, exc)
            if pause is None:
                raise
        except BaseException:
            run.abandoned(index, permit)
            raise
        else:
            return run.succeeded(index, permit, value, streaming)
        if pause > 0:
            await clock.asleep(pause)
