"""Nearest cached requests by cosine similarity, within one context (see `request_key.py`).

Vectors are kept normalised in one float32 matrix per context, so a lookup is one matrix
product over that context's entries (numpy, from the `semantic` extra). The index holds at most
`capacity` vectors; past that, the oldest go first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

from infrastructure.llm.errors import LLMWrapperError

try:
    import numpy as np
except ImportError:  # pragma: no cover - depends on the install
    np = None  # type: ignore[assignment]


def require_numpy() -> None:
    """Raise a clear error when the `semantic` extra is not installed."""
    if np is None:
        raise LLMWrapperError(
            "semantic caching needs numpy: pip install 'langchain-llm-wrappers[semantic]'"
        )


class _Context:
    """The vectors of one context: row `rows[key]` of `matrix` is `key`'s; the matrix grows by
    a quarter (at most a quarter of it unused), and a removed row is filled by the last one,
    so both cost O(dimensions) amortised."""

    __slots__ = ("keys", "matrix", "rows")

    def __init__(self, dimensions: int) -> None:
        self.keys: list[str] = []
        self.rows: dict[str, int] = {}
        self.matrix = np.zeros((8, dimensions), dtype=np.float32)

    @property
    def dimensions(self) -> int:
        return int(self.matrix.shape[1])

    def add(self, key: str, row: np.ndarray) -> None:
        size = len(self.keys)
        if size == self.matrix.shape[0]:
            grown = np.zeros((size + max(8, size // 4), self.dimensions), dtype=np.float32)
            grown[:size] = self.matrix
            self.matrix = grown
        self.matrix[size] = row
        self.rows[key] = size
        self.keys.append(key)

    def remove(self, key: str) -> None:
        row = self.rows.pop(key)
        last = self.keys.pop()
        if last != key:
            self.matrix[row] = self.matrix[len(self.keys)]
            self.keys[row] = last
            self.rows[last] = row

    def scores(self, query: np.ndarray) -> np.ndarray:
        return self.matrix[: len(self.keys)] @ query


class VectorIndex:
    """Normalised vectors by context and key, searched by cosine similarity."""

    def __init__(self, capacity: int) -> None:
        require_numpy()
        self._capacity = capacity
        self._lock = threading.Lock()
        self._contexts: dict[str, _Context] = {}
        self._order: OrderedDict[str, str] = OrderedDict()  # key -> context, oldest first

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, key: str) -> bool:
        return key in self._order

    def add(self, context: str, key: str, vector: Sequence[float]) -> None:
        """Index `vector` as `key`'s under `context` (replacing an earlier one)."""
        row = normalised(vector)
        if row is None:
            return
        with self._lock:
            self._remove(key)
            found = self._contexts.get(context)
            if found is not None and found.dimensions != row.shape[0]:
                for stale in found.keys:  # another embedding model: its vectors do not compare
                    del self._order[stale]
                found = None
            if found is None:
                found = self._contexts[context] = _Context(row.shape[0])
            found.add(key, row)
            self._order[key] = context
            while len(self._order) > self._capacity:
                self._remove(next(iter(self._order)))

    def remove(self, key: str) -> None:
        """Forget `key`'s vector, if indexed."""
        with self._lock:
            self._remove(key)

    def clear(self) -> None:
        with self._lock:
            self._contexts.clear()
            self._order.clear()

    def nearest(
        self, context: str, vector: Sequence[float], threshold: float, limit: int
    ) -> list[tuple[str, float]]:
        """Up to `limit` keys of `context` whose similarity to `vector` is at least
        `threshold`, most similar first, with that similarity."""
        query = normalised(vector)
        with self._lock:
            found = self._contexts.get(context)
            if query is None or found is None or found.dimensions != query.shape[0]:
                return []
            scores = found.scores(query)
            keys = list(found.keys)
        if len(scores) > limit:
            top = np.argpartition(-scores, limit - 1)[:limit]
            best = top[np.argsort(-scores[top])]
        else:
            best = np.argsort(-scores)
        return [(keys[i], float(scores[i])) for i in best if scores[i] >= threshold]

    def _remove(self, key: str) -> None:
        context = self._order.pop(key, None)
        if context is None:
            return
        found = self._contexts[context]
        found.remove(key)
        if not found.keys:
            del self._contexts[context]


def normalised(vector: Sequence[float]) -> np.ndarray | None:
    """`vector` as float32 of length 1, or None for a zero or non-finite vector."""
    row = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(row))
    if row.ndim != 1 or not np.isfinite(norm) or norm == 0.0:
        return None
    return row / norm
