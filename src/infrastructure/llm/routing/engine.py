"""The routing engine: every decision of one call, written once, without I/O.

`route` walks a plan's stages (the fallback walk), `_walk` retries on one stage's candidates
(the retry loop, for task-group targets and polling pools alike) and `acquire` admits a
member (the pool walk, waiting for room when limits are full). They are generators, in the
manner of tenacity's `iter()`: they yield what to do next (`steps.py`) and receive what came
of it. `drivers.py` carries the steps out, once for sync callers and once for async ones.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from infrastructure.llm.errors import (
    CircuitOpenError,
    DeadlineExceededError,
    NoCapacityError,
    error_summary,
)
from infrastructure.llm.fleet.candidates import CandidateSet
from infrastructure.llm.fleet.member import Member
from infrastructure.llm.redaction import one_line, scrub
from infrastructure.llm.resilience.admission import FREE_TICKET, Reason, Refusal, Ticket, Verdict
from infrastructure.llm.resilience.error_classification import (
    ErrorKind,
    attempt_error,
    classify,
    is_rejection,
    is_request_fault,
    retry_after,
)
from infrastructure.llm.resilience.limits import CapacityWait
from infrastructure.llm.resilience.time_limits import AttemptLimit
from infrastructure.llm.routing.call_record import CallRecord
from infrastructure.llm.routing.history import FallbackEvent
from infrastructure.llm.routing.plan import FallbackPlan, Stage
from infrastructure.llm.routing.steps import Admit, Attempt, Pause, Settle, Steps

T = TypeVar("T")

logger = logging.getLogger(__name__)

# Errors of our own that end the work on a stage at once: the plan walk decides what is next.
_LEAVES_STAGE = (CircuitOpenError, NoCapacityError, DeadlineExceededError)

_VERDICTS = {
    ErrorKind.FATAL: Verdict.ANSWERED,  # the instance answered; the request was at fault
    ErrorKind.RETRYABLE: Verdict.FAILED,
    ErrorKind.MISCONFIGURED: Verdict.MISCONFIGURED,
}

# How many refused members an error message names before it only counts the rest.
_NAMED_REFUSALS = 5


@dataclass(slots=True)
class Served(Generic[T]):
    """A successful attempt: the value, the member that produced it, from which candidate set,
    its ticket (a stream keeps its slot until it ends) and its time limit (a stream's rest
    has until the call's deadline)."""

    value: T
    member: Member
    candidates: CandidateSet
    ticket: Ticket
    limit: AttemptLimit


def route(plan: FallbackPlan, call: CallRecord, streaming: bool) -> Steps[Served[Any]]:
    """Try the plan's stages in turn until one answers; then return what served the call.

    A request the model rejected ends the call at once; so does the deadline. Otherwise every
    stage is tried, with `retry_delay` between them, and AllTargetsFailedError lists what
    failed.
    """
    last: Exception | None = None
    for position, stage in enumerate(plan.stages):
        if position:
            pause = _hop(plan, position, last, call)
            if pause > 0.0:
                yield Pause(pause)
        try:
            return (yield from _walk(stage, call, streaming))
        except Exception as exc:
            if is_request_fault(exc) and not call.awaits_confirmation(exc):
                raise
            if isinstance(exc, _LEAVES_STAGE):
                call.note_failure(stage.candidates.name, exc)
            last = exc
            if isinstance(exc, DeadlineExceededError):
                break
    if call.rejection is not None:  # nowhere else answered: the first refusal stands
        refused, first = call.rejection
        yield Settle(refused.gate, FREE_TICKET, Verdict.ANSWERED)
        raise first
    raise plan.exhausted(call, last) from last


def end_stream(served: Served[Any], verdict: Verdict) -> Steps[None]:
    """A stream that answered has ended (STREAM_ENDED) or broke (FAILED): free its slot."""
    served.limit.end()
    yield Settle(served.member.gate, served.ticket, verdict)
    served.candidates.finished(served.member)


def _hop(plan: FallbackPlan, position: int, last: Exception | None, call: CallRecord) -> float:
    """Record the hop to stage `position`; return the pause before trying it."""
    call.fallbacks += 1
    hop = FallbackEvent(
        time=time.time(),
        from_target=plan.stages[position - 1].candidates.name,
        to_target=plan.stages[position].candidates.name,
        reason=error_summary(last) if last else "",
        error_type=type(last).__name__ if last else "",
    )
    call.hops.append(hop)
    logger.debug(
        "%s: falling back from %s to %s (%s)",
        call.wrapper,
        hop.from_target,
        hop.to_target,
        one_line(hop.reason),
    )
    return min(plan.retry_delay, max(call.deadline.remaining(), 0.0))


def _walk(stage: Stage, call: CallRecord, streaming: bool) -> Steps[Served[Any]]:
    """Attempts on one stage until one answers or the stage is spent (the error is raised).

    A failed attempt is retried at once on an untried member that is free, else after
    the failed echelon's backoff (or the server's Retry-After) on whichever member is.
    """
    candidates = stage.candidates
    tried: set[Member] = set()
    attempts = 0
    # The call's own walk through the rotation: retries go on where the first pick left it,
    # so the rotation moves one step per call, whatever its retries.
    offered = candidates.order(tried, None, call.affinity)
    found = yield from _scan(candidates, call, offered)
    if type(found) is not tuple:
        found = yield from _wait_for_room(candidates, call, tried, None, streaming, found)
    member, ticket = found
    while True:
        try:
            limit = AttemptLimit(call.deadline.cap(member.echelon.timeout(streaming)))
        except DeadlineExceededError:
            yield Settle(member.gate, ticket, Verdict.ABANDONED)
            candidates.finished(member)
            raise
        attempts += 1
        call.attempts += 1
        if attempts > 1:
            call.retries += 1
        tried.add(member)
        instance_id = member.instance.id
        call.busy.add(instance_id)
        try:
            value = yield Attempt(member, limit)
        except Exception as raised:
            limit.end()
            exc = scrub(attempt_error(raised, limit, instance_id))
            call.busy.discard(instance_id)
            call.note_failure(instance_id, exc)
            kind = classify(exc)
            call.instance_outcomes.append((instance_id, kind.value, limit.seconds))
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug(
                    "%s: attempt %d on %s failed after %.1f ms (%s): %s",
                    call.wrapper,
                    call.attempts,
                    instance_id,
                    limit.seconds * 1000,
                    kind.value,
                    one_line(call.failures[-1]),
                )
            confirm = kind is ErrorKind.FATAL and is_rejection(exc)
            first_refusal = confirm and call.rejection is None
            # A first refusal gets no verdict yet: another instance will say whose fault it is.
            verdict = Verdict.ABANDONED if first_refusal else _VERDICTS[kind]
            yield Settle(member.gate, ticket, verdict, retry_after(exc) or 0.0)
            candidates.finished(member)
            if confirm and not first_refusal:  # refused here too: it is the request
                refused, first = call.rejection  # type: ignore[misc]
                call.rejection_confirmed = True
                yield Settle(refused.gate, FREE_TICKET, Verdict.ANSWERED)
                raise first from first.__cause__
            if first_refusal:
                call.rejection = (member, exc)
            found = None
            if (
                (kind is not ErrorKind.FATAL or confirm)
                and not isinstance(exc, _LEAVES_STAGE)
                and attempts < stage.max_attempts
            ):
                if call.deadline.remaining() <= 0.0:
                    call.out_of_time = True
                elif confirm or not stage.sticky:
                    found = yield from _scan(candidates, call, offered)
                if type(found) is not tuple and not confirm and not call.out_of_time:
                    waiting = found is not None and found.waiting is not None
                    pause = 0.0 if waiting else _backoff(member, attempts, exc)
                    if call.deadline.remaining() > pause:
                        if pause > 0.0:
                            yield Pause(pause)
                        prefer = member if stage.sticky else None
                        found = yield from acquire(candidates, call, tried, prefer, streaming)
                    else:
                        call.out_of_time = True
            if type(found) is not tuple:  # this stage is spent (a refusal: confirm at the next)
                if exc is raised:
                    raise
                raise exc from raised
            member, ticket = found
            continue
        except GeneratorExit:
            raise  # the steps were abandoned: nothing more can be yielded
        except BaseException:
            limit.end()
            call.busy.discard(instance_id)
            if call.outrun:  # a later hedge lane answered first: this instance was slow
                call.instance_outcomes.append((instance_id, "outrun", limit.seconds))
                call.failures.append(f"{instance_id}: outrun by a hedged request")
            yield Settle(member.gate, ticket, Verdict.OUTRUN if call.outrun else Verdict.ABANDONED)
            candidates.finished(member)
            raise
        call.busy.discard(instance_id)
        call.instance_outcomes.append((instance_id, "ok", limit.seconds))
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s: attempt %d on %s answered in %.1f ms",
                call.wrapper,
                call.attempts,
                instance_id,
                limit.seconds * 1000,
            )
        if streaming:
            yield Settle(member.gate, ticket, Verdict.STREAM_OPENED)
            limit.extend(max(call.deadline.remaining(), 0.0))  # the rest: until the deadline
        else:
            limit.end()
            yield Settle(member.gate, ticket, Verdict.ANSWERED)
            candidates.finished(member)
        if call.rejection is not None:  # another instance answered what one refused
            refused, _ = call.rejection
            call.rejection = None
            yield Settle(refused.gate, FREE_TICKET, Verdict.FAILED)
        return Served(value, member, candidates, ticket, limit)


def acquire(
    candidates: CandidateSet,
    call: CallRecord,
    tried: Collection[Member],
    prefer: Member | None,
    streaming: bool,
) -> Steps[tuple[Member, Ticket]]:
    """Admit a member for the next attempt.

    When only full limits stand in the way, wait for room within the attempt's timeout (cut
    by the deadline), or leave at once if the target spills over. Raises CircuitOpenError
    when no member can take the call, NoCapacityError when no room came in time.
    """
    found = yield from _scan(candidates, call, candidates.order(tried, prefer, call.affinity))
    if type(found) is tuple:
        return found
    return (yield from _wait_for_room(candidates, call, tried, prefer, streaming, found))


def _wait_for_room(
    candidates: CandidateSet,
    call: CallRecord,
    tried: Collection[Member],
    prefer: Member | None,
    streaming: bool,
    found: _Scan,
) -> Steps[tuple[Member, Ticket]]:
    """Scan again after pauses until a member is admitted (see `acquire`)."""
    wait: CapacityWait | None = None
    while True:
        waiting = found.waiting
        if waiting is None:
            raise CircuitOpenError(found.describe(candidates))
        if candidates.spill_over:
            raise NoCapacityError(
                f"{candidates.name}: every instance is at its concurrency or rpm limit; "
                "spilling over to the next target"
            )
        now = call.deadline.clock.now()
        if wait is None:
            until = now + call.deadline.cap(waiting.echelon.timeout(streaming))
            wait = CapacityWait(waiting.echelon.limits, now, until)  # type: ignore[arg-type]
        yield Pause(wait.pause(now, found.rate_wait))
        answer = yield from _scan(candidates, call, candidates.order(tried, prefer, call.affinity))
        if type(answer) is tuple:
            return answer
        found = answer


def _scan(
    candidates: CandidateSet, call: CallRecord, offered: Iterator[Member]
) -> Steps[tuple[Member, Ticket] | _Scan]:
    """Ask the state to admit the `offered` members in turn; the first admitted one is taken.

    Members this call is using in another hedge lane are passed over, and so are members
    behind limits already found full. Returns what stood in the way when none was admitted.
    """
    busy = call.busy
    scan: _Scan | None = None
    for member in offered:
        if busy and member.instance.id in busy:
            scan = scan or _Scan()
            scan.note(member, "already serving this call (a hedge)")
            continue
        if scan is not None and member.gate.limits in scan.full:
            continue
        answer = yield Admit(member.gate)
        if type(answer) is Ticket:
            candidates.started(member)
            return member, answer
        if answer.reason is not Reason.FULL and answer.wait > 0.0:
            candidates.bench(member, answer.wait)  # later calls skip it until it is back
        scan = scan or _Scan()
        scan.refused(member, answer)
    return scan or _Scan()


class _Scan:
    """Why a scan admitted nobody: the refusals, and the first member waiting for room."""

    __slots__ = ("benched", "full", "named", "others", "rate_wait", "waiting")

    def __init__(self) -> None:
        self.full: set[Any] = set()
        self.waiting: Member | None = None
        self.rate_wait = 0.0
        self.named: list[str] = []
        self.others = 0
        self.benched = 0  # refused members this scan put on the bench

    def refused(self, member: Member, refusal: Refusal) -> None:
        if refusal.reason is Reason.FULL:
            self.full.add(member.gate.limits)
            if self.waiting is None:
                self.waiting = member
                self.rate_wait = refusal.wait
        reason, wait = refusal.reason, refusal.wait
        if reason is Reason.OPEN:
            why = (
                f"breaker open, half-open in {wait:.1f}s"
                if wait
                else "breaker half-open, probes out"
            )
        elif reason is Reason.COOLING_DOWN:
            why = f"cooling down for {wait:.1f}s more"
        else:
            why = "at its concurrency or rpm limit"
        if reason is not Reason.FULL and wait > 0.0:
            self.benched += 1
        self.note(member, why)

    def note(self, member: Member, why: str) -> None:
        if len(self.named) < _NAMED_REFUSALS:
            self.named.append(f"{member.instance.id}: {why}")
        else:
            self.others += 1

    def describe(self, candidates: CandidateSet) -> str:
        """Why no member of `candidates` took the call, naming the first few refusals."""
        parts = list(self.named)
        if self.others:
            parts.append(f"{self.others} more refused")
        out, back_in = candidates.benched()
        out -= self.benched  # those named above
        if out > 0:
            noun = "instance" if out == 1 else "instances"
            other = " other" if parts else ""
            parts.append(
                f"{out}{other} {noun} out after an open breaker or a cool-down, the first "
                f"back in {back_in:.1f}s"
            )
        detail = "; ".join(parts) or "every instance is out"
        return f"{candidates.name}: no instance can take a call now ({detail})"


def _backoff(member: Member, attempts: int, exc: BaseException) -> float:
    """The backoff of the failed member's echelon after `attempts` attempts, or the server's
    Retry-After when that is longer."""
    return max(member.echelon.backoff.delay(attempts), retry_after(exc) or 0.0)
