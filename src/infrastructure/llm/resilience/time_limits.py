"""How long one attempt's I/O may take, in real seconds, and what it saw.

An `AttemptLimit` starts when the driver makes the attempt. Until the attempt answers (for a
stream: its first chunk) it ends at the attempt's timeout; a stream's rest then has until the
call's deadline (`extend`). The package's HTTP transports hold requests to it, body included,
and note two facts the routing needs to read an error right: whether the server answered 2xx
(an unusable 200 is then the instance's fault), and whether the limit cut the request.

The limit of the attempt being made is found through `CURRENT_ATTEMPT`, a context variable the
drivers set around each attempt, so transports deep inside an SDK can see it.
"""

from __future__ import annotations

import time
from contextvars import ContextVar


class AttemptLimit:
    """The real-time limit of one attempt: `timeout` seconds from `start()`, until `end()`."""

    __slots__ = ("answered", "cut", "ended", "seconds", "started", "timeout", "until")

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.started = 0.0
        self.until = 0.0
        self.answered = False
        """A 2xx response arrived for this attempt."""
        self.cut = False
        """The limit passed while the request was still being answered, and ended it."""
        self.ended = False
        """The attempt (and its stream) is over: its connection may serve other requests."""
        self.seconds = 0.0
        """How long the attempt took to answer (a stream: its first chunk) or fail, once the
        driver has stopped its clock."""

    def start(self) -> None:
        self.started = time.monotonic()
        self.until = self.started + self.timeout

    def stop_clock(self) -> None:
        """The attempt answered or failed: note its `seconds` since `start()`."""
        self.seconds = time.monotonic() - self.started

    def extend(self, seconds: float) -> None:
        """Allow `seconds` more from now (a stream that answered, up to the call's deadline)."""
        self.until = max(self.until, time.monotonic() + seconds)

    def end(self) -> None:
        """The attempt is over: nothing more of it may be cut."""
        self.ended = True

    def remaining(self) -> float:
        return self.until - time.monotonic()


CURRENT_ATTEMPT: ContextVar[AttemptLimit | None] = ContextVar("llm_wrappers_attempt", default=None)
"""The limit of the attempt running in this context, if any."""
