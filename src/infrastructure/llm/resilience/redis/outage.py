"""Whether the shared store is in use and, while it is not, the way back to it.

Redis trouble never fails a call: the state goes on with a local fallback, says so once (one
WARNING), tries Redis again in the background with growing pauses (0.5 s doubling to 10 s),
and shares again when it answers (one INFO). Calls never wait for those tries.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from datetime import datetime, timezone

from infrastructure.llm.redaction import redact

logger = logging.getLogger(__name__)

FIRST_RETRY = 0.5
LAST_RETRY = 10.0


def retry_delays(first: float = FIRST_RETRY, cap: float = LAST_RETRY) -> Iterator[float]:
    """Pauses between tries to reach Redis again: `first`, doubling up to `cap`, then `cap`."""
    delay = first
    while True:
        yield delay
        delay = min(delay * 2, cap)


def describe(exc: BaseException) -> str:
    """An error in one line for the log, secrets masked."""
    return redact(f"{type(exc).__name__}: {exc}")


class Outage:
    """The shared store's standing: in use (`shared`), or lost since `since` and being
    retried by a background thread that calls `reconnect()` (which raises while Redis is out
    of reach) after each pause of `retry_delays`."""

    def __init__(
        self,
        where: str,
        reconnect: Callable[[], None],
        errors: tuple[type[BaseException], ...],
        meanwhile: str = "shared state: limits, breakers and health are kept in this process",
    ) -> None:
        self.shared = True
        self._meanwhile = meanwhile
        self.since: datetime | None = None
        self._where = where
        self._reconnect = reconnect
        self._errors = errors
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        _outages.add(self)

    def lost(self, exc: BaseException) -> None:
        """Redis failed an operation: go local (the first time only: log and start retrying)."""
        with self._lock:
            if not self.shared or self._stop.is_set():
                return
            self.shared = False
            self.since = datetime.now(timezone.utc)
            self._start_retrying()
        logger.warning(
            "Redis at %s is out of reach (%s); %s until it is back",
            self._where,
            describe(exc),
            self._meanwhile,
        )

    def status(self) -> str:
        """Where records live now: "shared", or "local (degraded since <ISO-8601 UTC>)"."""
        since = self.since
        if self.shared or since is None:
            return "shared"
        return f"local (degraded since {since.strftime('%Y-%m-%dT%H:%M:%SZ')})"

    def close(self) -> None:
        """Stop retrying."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)

    def _start_retrying(self) -> None:
        """Under the lock: start the thread that tries Redis again."""
        self._thread = threading.Thread(
            target=self._retry, name="llm-wrappers-redis-retry", daemon=True
        )
        self._thread.start()

    def _retry(self) -> None:
        for delay in retry_delays():
            if self._stop.wait(delay):
                return
            try:
                self._reconnect()
            except self._errors:
                continue
            with self._lock:
                # Told before anyone can see `shared` again, so the news never trails the fact.
                logger.info("shared state: Redis at %s is back; sharing again", self._where)
                self.shared = True
                self.since = None
                self._thread = None
            return

    def _after_fork(self) -> None:
        """In a forked child: the lock and the retry thread did not come along."""
        self._lock = threading.Lock()
        self._thread = None
        if not self.shared and not self._stop.is_set():
            self._start_retrying()


_outages: weakref.WeakSet[Outage] = weakref.WeakSet()


def _after_fork() -> None:
    for outage in list(_outages):
        outage._after_fork()


os.register_at_fork(after_in_child=_after_fork)
