"""How long a retry waits: an echelon's exponential backoff with jitter (tenacity's formula)."""

from __future__ import annotations

import random

from tenacity import RetryCallState, wait_exponential

from infrastructure.llm.config.schema import BackoffConfig


class Backoff:
    """The wait before the retry that follows failed attempt number `attempts` (from 1).

    `initial * multiplier ** (attempts - 1)`, capped at `maximum`, plus a draw from
    `uniform(0, jitter)`. `rng` makes the jitter reproducible (tests pass a seeded one).
    """

    __slots__ = ("_exponential", "_jitter", "_uniform")

    def __init__(self, config: BackoffConfig, rng: random.Random | None = None) -> None:
        self._exponential = wait_exponential(
            multiplier=config.initial, max=config.maximum, exp_base=config.multiplier
        )
        self._jitter = config.jitter
        self._uniform = (rng or random).uniform

    def delay(self, attempts: int) -> float:
        """Seconds to wait after `attempts` failed attempts on one stage."""
        state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
        state.attempt_number = attempts
        jitter = self._uniform(0.0, self._jitter) if self._jitter else 0.0
        return self._exponential(state) + jitter
