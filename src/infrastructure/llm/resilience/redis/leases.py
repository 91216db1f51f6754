"""The concurrency slots this process holds in Redis, as leases that expire unless renewed.

A slot is a member of the limits' sorted set, scored by its expiry (server time). While a call
runs, a background thread renews every lease this process holds (every `lease_time / 3`), so
long streams keep their slots; a process that dies stops renewing, and its slots come back to
everyone within `lease_time`. So does the slot of a ticket dropped without being settled:
the keeper holds its lease weakly. Slots given back go with this process's next admit on the
same limits if one comes within `RELEASE_DELAY`, else the same thread sends them, batched in
one pipeline: the caller never waits for it, and back-to-back calls cost one round trip each.
"""

from __future__ import annotations

import itertools
import os
import secrets
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any

# Leases renewed per script call: bounds one call's size when a process holds very many.
_RENEW_BATCH = 500

RPM_KEY_LIFE_MS = 61_000
"""An rpm set lives 61 s past its last write (the admit script sets the same)."""

RELEASE_DELAY = 0.005
"""Seconds a slot given back waits for the next admit to carry it before the thread sends it."""


class Lease:
    """What a ticket from Redis carries: the slot it holds (the sorted set `key` and its
    `member` there; `key` None when it holds none), whether the breaker was closed with no
    failures when it was admitted (then a success has nothing to write), and its rpm
    admission, if any: the rpm set `rpm_key` holds `member` scored by `admitted_at` (server
    time); `asked_mono` is this process's monotonic clock when it sent the admit, before the
    server read its clock."""

    __slots__ = ("__weakref__", "admitted_at", "asked_mono", "clean", "key", "member", "rpm_key")

    def __init__(
        self,
        key: str | None,
        member: str | None,
        clean: bool,
        rpm_key: str | None = None,
        admitted_at: float = 0.0,
        asked_mono: float = 0.0,
    ) -> None:
        self.key = key
        self.member = member
        self.clean = clean
        self.rpm_key = rpm_key
        self.admitted_at = admitted_at
        self.asked_mono = asked_mono


CLEAN = Lease(None, None, True)
"""The lease of a Redis ticket without a slot, admitted with its breaker clean."""
DIRTY = Lease(None, None, False)
"""The lease of a Redis ticket without a slot, admitted with failures counted."""


class LeaseKeeper:
    """Renews the leases this process holds and gives back the ones it is done with.

    `renew(keys, args)` runs the renew script and `pipeline()` gives a non-transactional
    pipeline, both on a sync client; `active()` says whether Redis is in use (no renewals
    while it is not); `lost(exc)` is told of every Redis error.
    """

    def __init__(
        self,
        renew: Callable[[list[str], list[Any]], Any],
        pipeline: Callable[[], Any],
        lease_time: float,
        active: Callable[[], bool],
        lost: Callable[[BaseException], None],
        errors: tuple[type[BaseException], ...],
    ) -> None:
        self._renew = renew
        self._pipeline = pipeline
        self.lease_time = lease_time
        self._active = active
        self._lost = lost
        self._errors = errors
        self._closed = False
        self._start_over()
        _keepers.add(self)

    def _start_over(self) -> None:
        """No leases, no thread, a fresh member prefix: at birth, and in a forked child."""
        self._prefix = f"{os.getpid()}.{secrets.token_hex(4)}."
        self._ids = itertools.count()
        # member -> (slots key, the lease): renewed while its ticket lives
        self._held: dict[str, tuple[str, weakref.ref[Lease]]] = {}
        self._pending: dict[str, list[str]] = {}  # slots key -> members to give back
        # rpm key -> {member: new score}: admissions to move to when their call was answered
        self._rescores: dict[str, dict[str, str]] = {}
        self._wake = threading.Condition(threading.Lock())
        self._sending = threading.Lock()  # one batch of releases on its way at a time
        self._thread: threading.Thread | None = None

    def new_member(self) -> str:
        """A lease member no other process or lease uses."""
        return f"{self._prefix}{next(self._ids)}"

    def hold(self, lease: Lease) -> None:
        """Keep renewing `lease` until it is released, forgotten, or no longer referenced."""
        self._held[lease.member] = (lease.key, weakref.ref(lease))  # type: ignore[index]
        if self._thread is None:
            self._start_thread()

    def release(self, lease: Lease) -> None:
        """Give `lease`'s slot back soon, without waiting."""
        self._held.pop(lease.member, None)  # type: ignore[arg-type]
        self.give_back(lease.key, [lease.member])  # type: ignore[arg-type, list-item]

    def give_back(self, key: str, members: list[str]) -> None:
        """Remove `members` from the slots set `key` soon (those not there are ignored)."""
        with self._wake:
            idle = self._idle()
            self._pending.setdefault(key, []).extend(members)
            if idle:
                self._wake.notify()
        if self._thread is None:
            self._start_thread()

    def answered(self, lease: Lease) -> None:
        """`lease`'s call was answered (or failed, or its stream opened): move its rpm
        admission to now, in server time, soon. The request reached the server between its
        admission and now, so an admission that leaves the 60-s window only 60 s after its
        answer keeps the server's own count of any 60 s within the limit too. Now is counted
        from when the admit was sent, which is never after the server admitted it, so the
        move never falls short of the answer (it may overshoot by the admit's round trip)."""
        score = lease.admitted_at + (time.monotonic() - lease.asked_mono)
        with self._wake:
            idle = self._idle()
            self._rescores.setdefault(lease.rpm_key, {})[lease.member] = f"{score:.6f}"  # type: ignore[index]
            if idle:
                self._wake.notify()
        if self._thread is None:
            self._start_thread()

    def take_rescores(self, key: str) -> list[str]:
        """The admissions of the rpm set `key` waiting to be moved, as member, score pairs
        (flat), for a script about to send them."""
        if key not in self._rescores:
            return []
        with self._wake:
            moved = self._rescores.pop(key, {})
        return [item for pair in moved.items() for item in pair]

    def answer_again(self, key: str, pairs: Sequence[str]) -> None:
        """Queue again the moves of `pairs` (as `take_rescores` gave them) that a script did
        not get to send."""
        if not pairs:
            return
        with self._wake:
            waiting = self._rescores.setdefault(key, {})
            for member, score in zip(pairs[::2], pairs[1::2], strict=True):
                waiting.setdefault(member, score)
            self._wake.notify()

    def _idle(self) -> bool:
        """Under the lock: nothing is waiting to be sent, so the thread sleeps until told.
        (Once something waits, the thread is up, giving an admit `RELEASE_DELAY` to take it:
        telling it again would only wake it once more a call.)"""
        return not self._pending and not self._rescores

    def release_one(self, key: str) -> bool:
        """Give back one lease this process holds in the slots set `key`; False if none."""
        for member, (held_key, _) in list(self._held.items()):
            if held_key == key:
                self.release(Lease(key, member, False))
                return True
        return False

    def forget(self, lease: Lease) -> None:
        """Stop renewing `lease`: a script gave its slot back, or it is left to expire."""
        self._held.pop(lease.member, None)  # type: ignore[arg-type]

    def take_pending(self, key: str) -> list[str]:
        """The members of `key` waiting to be given back, for a script about to send them."""
        if key not in self._pending:
            return []
        with self._wake:
            return self._pending.pop(key, [])

    def flush(self) -> None:
        """Send the releases waiting now, and wait for any batch already on its way."""
        with self._sending:
            self._send_releases()

    def close(self) -> None:
        """Send what is pending and stop the thread; leases still held are left to expire."""
        self.flush()
        with self._wake:
            self._closed = True
            self._wake.notify()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)

    # -- the background thread -------------------------------------------------------------

    def _start_thread(self) -> None:
        with self._wake:
            if self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(
                target=self._run, name="llm-wrappers-redis-leases", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        interval = self.lease_time / 3
        next_renewal = time.monotonic() + interval
        while True:
            with self._wake:
                while self._idle() and not self._closed:
                    left = next_renewal - time.monotonic()
                    if left <= 0.0:
                        break
                    self._wake.wait(left)
                if self._closed:
                    return
                self._await_admit()
            with self._sending:
                self._send_releases()
            if time.monotonic() >= next_renewal:
                next_renewal = time.monotonic() + interval
                self._send_renewals()

    def _await_admit(self) -> None:
        """Under the lock: give an admit `RELEASE_DELAY` to take what is pending."""
        deadline = time.monotonic() + RELEASE_DELAY
        while (self._pending or self._rescores) and not self._closed:
            left = deadline - time.monotonic()
            if left <= 0.0:
                return
            self._wake.wait(left)

    def _send_releases(self) -> None:
        """One pipeline with every pending release and rpm move; on error the slots are left
        to expire and the admissions to leave the window at their admission time."""
        with self._wake:
            batch, self._pending = self._pending, {}
            moves, self._rescores = self._rescores, {}
        if not batch and not moves:
            return
        try:
            pipe = self._pipeline()
            for key, members in batch.items():
                pipe.zrem(key, *members)
            for key, scores in moves.items():
                pipe.zadd(key, {member: float(score) for member, score in scores.items()}, xx=True)
                pipe.pexpire(key, RPM_KEY_LIFE_MS)
            pipe.execute()
        except self._errors as exc:
            self._lost(exc)

    def _send_renewals(self) -> None:
        """Push the expiry of every held lease `lease_time` past the server's now; leases
        whose ticket is gone are let expire."""
        if not self._held or not self._active():
            return
        held = []
        for member, (key, lease) in list(self._held.items()):
            if lease() is None:
                self._held.pop(member, None)
            else:
                held.append((member, key))
        try:
            for start in range(0, len(held), _RENEW_BATCH):
                chunk = held[start : start + _RENEW_BATCH]
                members = [member for member, _ in chunk]
                self._renew([key for _, key in chunk], [self.lease_time, *members])
        except self._errors as exc:
            self._lost(exc)


_keepers: weakref.WeakSet[LeaseKeeper] = weakref.WeakSet()


def _forget_after_fork() -> None:
    """A forked child holds none of its parent's leases and has none of its threads."""
    for keeper in list(_keepers):
        keeper._start_over()


os.register_at_fork(after_in_child=_forget_after_fork)
