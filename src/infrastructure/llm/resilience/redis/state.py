"""`RedisState`: the shared state in Redis, so replicas share limits, breakers, cool-downs and
instance health.

Every operation is one Lua script (`scripts.py`), run atomically by the server on its own
clock. The hot path costs at most one round trip a call: `admit` is one script; settling a
success that holds no probe, admitted with its breaker clean, writes nothing, and a slot given
back goes out in the background (`leases.py`); only failures and probes, whose transition the
caller needs, wait for a script.

While Redis is out of reach or slower than `op_timeout`, an `InMemoryState` stands in
(`outage.py`). A ticket is settled where it was issued: a local one locally, a Redis one in
Redis (or, while Redis is out, not at all: its lease expires).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from infrastructure.llm.clock import Clock, MonotonicClock
from infrastructure.llm.redaction import public_url
from infrastructure.llm.resilience.admission import Gate, Refusal, Ticket, Verdict
from infrastructure.llm.resilience.records import (
    CLOSED_RECORD,
    BreakerRecord,
    HealthRecord,
    LoadRecord,
)
from infrastructure.llm.resilience.redis import load_readings, operations
from infrastructure.llm.resilience.redis.connection import (
    REDIS_ERRORS,
    LoopClients,
    Scripts,
    WatchError,
    check,
    require_redis,
    sync_client,
)
from infrastructure.llm.resilience.redis.keys import KeySchema
from infrastructure.llm.resilience.redis.leases import DIRTY, Lease, LeaseKeeper
from infrastructure.llm.resilience.redis.outage import Outage
from infrastructure.llm.resilience.redis.replies import (
    Reply,
    admission,
    breaker_fields,
    breaker_record,
    clock_offset,
    health_record,
    transition,
)
from infrastructure.llm.resilience.state import InMemoryState, Transition

T = TypeVar("T")

_SUCCESSES = (Verdict.ANSWERED, Verdict.STREAM_OPENED)

ScriptCall = tuple[list[str], list[Any]]
"""A script's keys and arguments."""


class RedisState:
    """`SharedState` in Redis: every replica given the same server and `key_prefix` shares
    limits, breakers, cool-downs and health.

    `op_timeout` bounds every operation; `lease_time` is how long the slots of a process that
    died stay taken. Times in returned records are in `clock`'s time base. Call `close()` when
    done (it stops the background threads).
    """

    local = False

    def __init__(
        self,
        url: str,
        key_prefix: str = "llm-wrappers:",
        op_timeout: float = 0.25,
        lease_time: float = 15.0,
        clock: Clock | None = None,
    ) -> None:
        require_redis()
        if op_timeout <= 0 or lease_time <= 0:
            raise ValueError(
                f"RedisState needs op_timeout > 0 and lease_time > 0 "
                f"(got {op_timeout}, {lease_time})"
            )
        self.where = public_url(url)
        self.key_prefix = key_prefix
        self._keys = KeySchema(key_prefix)
        self._clock = clock or MonotonicClock()
        self._client = sync_client(url, op_timeout)
        self._scripts = Scripts(self._client)
        self._loops = LoopClients(url, op_timeout)
        self._local = InMemoryState()
        self._outage = Outage(self.where, functools.partial(check, self._client), REDIS_ERRORS)
        self._leases = LeaseKeeper(
            self._scripts.renew,
            functools.partial(self._client.pipeline, transaction=False),
            lease_time,
            lambda: self._outage.shared,
            self._outage.lost,
            REDIS_ERRORS,
        )
        try:
            check(self._client)
        except REDIS_ERRORS as exc:
            self._outage.lost(exc)

    def __repr__(self) -> str:
        return f"RedisState({self.where}, key_prefix={self.key_prefix!r}, {self.status()})"

    # -- the hot path ------------------------------------------------------------------------

    def admit(self, gate: Gate, now: float) -> Ticket | Refusal:
        if self._outage.shared:
            keys, args, member = self._admit_call(gate)
            asked = time.monotonic()
            try:
                reply = self._scripts.admit(keys, args)
            except REDIS_ERRORS as exc:
                self._admit_failed(keys, args, member, exc)
            else:
                return self._admitted(reply, keys, member, asked)
        return self._local.admit(gate, now)

    def settle(
        self, gate: Gate, ticket: Ticket, verdict: Verdict, now: float, cooldown: float = 0.0
    ) -> Transition | None:
        self._answered(ticket, verdict)
        if self._settled_locally(ticket):
            return self._local.settle(gate, ticket, verdict, now, cooldown)
        call = self._settle_call(gate, ticket, verdict, cooldown)
        if call is None:
            return None
        try:
            reply = self._scripts.settle(*call)
        except REDIS_ERRORS as exc:
            self._outage.lost(exc)
            return None
        return transition(reply)

    async def aadmit(self, gate: Gate, now: float) -> Ticket | Refusal:
        if self._outage.shared:
            keys, args, member = self._admit_call(gate)
            asked = time.monotonic()
            try:
                reply = await self._loops.scripts().admit(keys, args)
            except REDIS_ERRORS as exc:
                self._admit_failed(keys, args, member, exc)
            except asyncio.CancelledError:
                self._admit_failed(keys, args, member, None)
                raise
            else:
                return self._admitted(reply, keys, member, asked)
        return self._local.admit(gate, now)

    async def asettle(
        self, gate: Gate, ticket: Ticket, verdict: Verdict, now: float, cooldown: float = 0.0
    ) -> Transition | None:
        self._answered(ticket, verdict)
        if self._settled_locally(ticket):
            return self._local.settle(gate, ticket, verdict, now, cooldown)
        call = self._settle_call(gate, ticket, verdict, cooldown)
        if call is None:
            return None
        try:
            reply = await self._loops.scripts().settle(*call)
        except REDIS_ERRORS as exc:
            self._outage.lost(exc)
            return None
        return transition(reply)

    def _answered(self, ticket: Ticket, verdict: Verdict) -> None:
        """A call admitted under an rpm limit was answered, failed or gave up (a stream: its
        first chunk came): its admission moves to now (`LeaseKeeper.answered`)."""
        lease = ticket.lease
        if (
            lease is not None
            and lease.rpm_key  # type: ignore[attr-defined]
            and verdict is not Verdict.STREAM_ENDED
            and self._outage.shared
        ):
            self._leases.answered(lease)  # type: ignore[arg-type]

    def _settled_locally(self, ticket: Ticket) -> bool:
        """A ticket the local fallback issued (no lease; one with a slot or probe, or any while
        Redis is out) is settled there."""
        return ticket.lease is None and (ticket.slot or ticket.probe or not self._outage.shared)

    def _admit_call(self, gate: Gate) -> tuple[list[str], list[Any], str]:
        """The admit script's keys and arguments for `gate`, and the lease member it would
        take ('' when the gate has no concurrency limit; an rpm admission is recorded under a
        member too). Slots this process gave back under the same limits and not yet sent go
        with it."""
        policy = gate.policy
        keys = [self._keys.cooldown(gate.instance_key), self._keys.breaker(gate.breaker_key)]
        limits = gate.limits
        if limits is None:
            return keys, [policy.half_open_requests, policy.recovery_time, 0, 0, "", 0], ""
        slots = self._keys.slots(limits.key)
        keys += (slots, self._keys.rpm(limits.key))
        concurrency = limits.concurrency_limit or 0
        rpm = limits.rpm_limit or 0
        if not concurrency and not rpm:
            return keys, [policy.half_open_requests, policy.recovery_time, 0, 0, "", 0], ""
        member = self._leases.new_member()
        moves = self._leases.take_rescores(keys[3]) if rpm else []
        args = [
            policy.half_open_requests,
            policy.recovery_time,
            concurrency,
            rpm,
            member,
            self._leases.lease_time,
            len(moves) // 2,
            *moves,
        ]
        if concurrency:
            args += self._leases.take_pending(slots)
        return keys, args, member

    def _admitted(
        self, reply: Reply, keys: list[str], member: str, asked: float
    ) -> Ticket | Refusal:
        slots, rpm = (keys[2], keys[3]) if member else ("", "")
        answer = admission(reply, slots, member, rpm, asked)
        if type(answer) is Ticket and answer.slot:
            self._leases.hold(answer.lease)  # type: ignore[arg-type]
        return answer

    def _admit_failed(
        self, keys: list[str], args: list[Any], member: str, exc: BaseException | None
    ) -> None:
        """An admit that got no reply (`exc`, or None when cancelled): the slot it may have
        taken and the releases and rpm moves it carried go out again in the background."""
        if member:
            moved = 2 * args[6]
            self._leases.answer_again(keys[3], args[7 : 7 + moved])
            self._leases.give_back(keys[2], [member, *args[7 + moved :]])
        if exc is not None:
            self._outage.lost(exc)

    def _settle_call(
        self, gate: Gate, ticket: Ticket, verdict: Verdict, cooldown: float
    ) -> ScriptCall | None:
        """The settle script's keys and arguments; None when there is nothing to write, and a
        slot to give back then goes back in the background."""
        lease: Lease = ticket.lease or DIRTY  # type: ignore[assignment]
        gives_back = ticket.slot and verdict is not Verdict.STREAM_OPENED
        success = verdict in _SUCCESSES
        if (
            verdict is Verdict.STREAM_ENDED
            or (verdict is Verdict.ABANDONED and not ticket.probe)
            or (success and lease.clean and not ticket.probe)
            or not self._outage.shared
        ):
            if gives_back:
                self._leases.release(lease)
            return None
        policy = gate.policy
        if success:
            op = "S"
        elif verdict is Verdict.ABANDONED:
            op = "R"
        else:
            op = "F"
        if verdict is Verdict.MISCONFIGURED:
            cooldown = max(cooldown, policy.recovery_time)
        elif verdict is not Verdict.FAILED:
            cooldown = 0.0
        keys = [self._keys.breaker(gate.breaker_key), self._keys.cooldown(gate.instance_key)]
        member = ""
        if gives_back:
            self._leases.forget(lease)
            keys.append(lease.key)  # type: ignore[arg-type]
            member = lease.member  # type: ignore[assignment]
        return keys, [op, policy.failure_threshold, policy.recovery_time, cooldown, member]

    # -- single records ----------------------------------------------------------------------

    def release(self, key: str) -> None:
        if not self._leases.release_one(self._keys.slots(key)):
            self._local.release(key)

    def in_flight(self, key: str) -> int:
        if self._outage.shared:
            slots = self._keys.slots(key)
            try:
                return int(self._scripts.in_flight([slots], self._leases.take_pending(slots)))
            except REDIS_ERRORS as exc:
                self._outage.lost(exc)
        return self._local.in_flight(key)

    def breaker_record(self, key: str) -> BreakerRecord:
        if self._outage.shared:
            try:
                reply = self._scripts.read_breaker([self._keys.breaker(key)])
            except REDIS_ERRORS as exc:
                self._outage.lost(exc)
            else:
                return breaker_record(reply[2:], clock_offset(reply, self._clock.now()))
        return self._local.breaker_record(key)

    def update_breaker(self, key: str, fn: Callable[[BreakerRecord], tuple[BreakerRecord, T]]) -> T:
        if self._outage.shared:
            try:
                return self._update_shared(self._keys.breaker(key), fn)
            except REDIS_ERRORS as exc:
                self._outage.lost(exc)
        return self._local.update_breaker(key, fn)

    def _update_shared(
        self, name: str, fn: Callable[[BreakerRecord], tuple[BreakerRecord, T]]
    ) -> T:
        """Read, apply `fn`, write back unless the record changed meanwhile (then again)."""
        with self._client.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(name)
                    stored = pipe.hmget(name, "s", "f", "o", "p")
                    offset = clock_offset(pipe.time(), self._clock.now())
                    old = breaker_record(stored, offset)
                    new, result = fn(old)
                    if new is not old:
                        pipe.multi()
                        if new == CLOSED_RECORD:
                            pipe.delete(name)
                        else:
                            pipe.hset(name, mapping=breaker_fields(new, offset))
                        pipe.execute()
                    return result
                except WatchError:
                    continue

    def record_health(self, key: str, ok: bool, failure_threshold: int, now: float) -> HealthRecord:
        if self._outage.shared:
            try:
                reply = self._scripts.record_health(
                    [self._keys.health(key)], [1 if ok else 0, failure_threshold]
                )
            except REDIS_ERRORS as exc:
                self._outage.lost(exc)
            else:
                return health_record(reply, clock_offset(reply, self._clock.now()))  # type: ignore[return-value]
        return self._local.record_health(key, ok, failure_threshold, now)

    def health(self, key: str) -> HealthRecord | None:
        if self._outage.shared:
            try:
                reply = self._scripts.read_health([self._keys.health(key)])
            except REDIS_ERRORS as exc:
                self._outage.lost(exc)
            else:
                return health_record(reply, clock_offset(reply, self._clock.now()))
        return self._local.health(key)

    def claim_probe(self, key: str, interval: float, now: float) -> bool:
        if self._outage.shared:
            window = max(int(interval * 1000), 1)
            try:
                return bool(self._client.set(self._keys.probe(key), b"1", nx=True, px=window))
            except REDIS_ERRORS as exc:
                self._outage.lost(exc)
        return True

    def publish_load(self, key: str, record: LoadRecord, ttl: float, now: float) -> None:
        if self._outage.shared:
            try:
                load_readings.publish(self._client, self._keys.load(key), record, ttl)
                return
            except REDIS_ERRORS as exc:
                self._outage.lost(exc)
        self._local.publish_load(key, record, ttl, now)

    def loads(self, keys: Sequence[str], now: float) -> list[LoadRecord | None]:
        if self._outage.shared:
            try:
                return load_readings.read(self._client, [self._keys.load(k) for k in keys], now)
            except REDIS_ERRORS as exc:
                self._outage.lost(exc)
        return self._local.loads(keys, now)

    def reset(self, prefix: str | None = None) -> None:
        """Forget the records whose key starts with `prefix` (all when None), here and in
        Redis under this state's `key_prefix` only."""
        self._local.reset(prefix)
        if self._outage.shared:
            try:
                operations.delete(self._client, self._keys, prefix)
            except REDIS_ERRORS as exc:
                self._outage.lost(exc)

    # -- operations --------------------------------------------------------------------------

    def status(self) -> str:
        return self._outage.status()

    def snapshot(self) -> dict[str, Any]:
        """What replicas share now, for operators: breakers (state, failures, probes out,
        seconds until half-open), cool-downs (seconds left), health and slots taken, each by
        its record key, and admissions in the rpm window by limits key; empty while Redis is
        out of reach."""
        view = operations.empty_view()
        if self._outage.shared:
            try:
                view = operations.snapshot(self._client, self._keys)
            except REDIS_ERRORS as exc:
                self._outage.lost(exc)
        return {"status": self.status(), **view}

    def reset_breaker(self, breaker_key: str) -> None:
        """Close the breaker `breaker_key` and forget its failures, for every replica."""
        self._local.update_breaker(breaker_key, lambda record: (CLOSED_RECORD, None))
        if self._outage.shared:
            try:
                self._client.delete(self._keys.breaker(breaker_key))
            except REDIS_ERRORS as exc:
                self._outage.lost(exc)

    def flush(self) -> None:
        """Send the slots given back and the rpm admissions moved and not sent yet, and wait
        until they are."""
        self._leases.flush()

    async def aclose_loop(self) -> None:
        """Close the running loop's client now (before closing a loop without the shutdown
        that `asyncio.run` does)."""
        await self._loops.aclose()

    def close(self) -> None:
        """Send pending releases, stop the background threads and close the sync client.
        Slots still held are left to expire."""
        self._leases.close()
        self._outage.close()
        self._client.close()
