"""Frames read from the shared state in Redis: what it holds at each read."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from infrastructure.llm.observability.top.redis_frame import redis_frame
from infrastructure.llm.observability.top.rows import Frame
from infrastructure.llm.observability.top.watch import SourceError


class RedisSource:
    """Reads `state`'s snapshot (a `RedisState`'s), titled by `describe(state)`; `instances`
    are listed even when Redis holds nothing for them."""

    windowed = False

    def __init__(
        self, state: Any, describe: Callable[[Any], str], instances: Iterable[str] = ()
    ) -> None:
        self._state = state
        self._describe = describe
        self._instances = tuple(instances)

    def frame(self) -> Frame:
        snapshot = self._state.snapshot()
        if snapshot["status"] != "shared":
            raise SourceError(f"Redis is out of reach: {self._describe(self._state)}")
        return redis_frame(self._describe(self._state), snapshot, self._instances)
