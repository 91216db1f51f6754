"""Request slots: at most `max_num_seqs` run at once, later arrivals wait first in, first out."""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class SlotScheduler(Generic[T]):
    """Admits items into a fixed number of slots and queues the rest in arrival order."""

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError(f"slots must be >= 1, got {slots}")
        self._slots = slots
        self._running: set[T] = set()
        self._waiting: deque[T] = deque()

    @property
    def running(self) -> int:
        """Items holding a slot."""
        return len(self._running)

    @property
    def waiting(self) -> int:
        """Items queued for a slot."""
        return len(self._waiting)

    def submit(self, item: T) -> bool:
        """Take a slot for `item` if one is free (True), else queue it (False)."""
        if len(self._running) < self._slots and not self._waiting:
            self._running.add(item)
            return True
        self._waiting.append(item)
        return False

    def leave(self, item: T) -> list[T]:
        """`item` is done (or gave up waiting): free its slot; return the items admitted now."""
        if item in self._running:
            self._running.discard(item)
        elif item in self._waiting:
            self._waiting.remove(item)
            return []
        else:
            raise KeyError(f"{item!r} is neither running nor waiting")
        admitted: list[T] = []
        while self._waiting and len(self._running) < self._slots:
            admitted.append(self._waiting.popleft())
            self._running.add(admitted[-1])
        return admitted
