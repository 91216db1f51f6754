"""The in-memory store: least recently used out first, entries expire on the fake clock, and
vectors leave the index with their entries."""

from __future__ import annotations

import pytest

from infrastructure.llm.cache.memory_store import MemoryCacheStore
from infrastructure.llm.cache.vector_index import VectorIndex
from infrastructure.llm.clock import FakeClock

TTL = 60.0


def test_the_least_recently_used_entry_goes_first() -> None:
    store = MemoryCacheStore(2, FakeClock())
    store.put("a", b"1", TTL, "c", None)
    store.put("b", b"2", TTL, "c", None)
    assert store.get("a") == b"1"  # a is now the most recently used
    store.put("c", b"3", TTL, "c", None)
    assert (store.get("a"), store.get("b"), store.get("c")) == (b"1", None, b"3")
    assert store.count() == 2


def test_entries_expire_after_their_ttl() -> None:
    clock = FakeClock()
    store = MemoryCacheStore(10, clock)
    store.put("a", b"1", TTL, "c", None)
    clock.advance(TTL - 0.001)
    assert store.get("a") == b"1"
    clock.advance(0.001)
    assert store.get("a") is None and store.count() == 0


def test_vectors_are_found_within_their_context_and_leave_with_their_entry() -> None:
    store = MemoryCacheStore(2, FakeClock())
    store.put("a", b"1", TTL, "ctx", [1.0, 0.0])
    store.put("b", b"2", TTL, "ctx", [0.6, 0.8])
    store.put("x", b"3", TTL, "other", [1.0, 0.0])  # evicts a
    assert store.nearest("ctx", [1.0, 0.0], 0.5, 5) == [("b", pytest.approx(0.6))]
    store.delete("b")
    assert store.nearest("ctx", [1.0, 0.0], 0.0, 5) == []
    assert store.clear() == 1 and store.nearest("other", [1.0, 0.0], 0.0, 5) == []


def test_the_index_ranks_by_cosine_and_keeps_its_bound() -> None:
    index = VectorIndex(capacity=3)
    for name, vector in {"x": [1, 0, 0], "xy": [1, 1, 0], "y": [0, 1, 0]}.items():
        index.add("c", name, vector)
    found = index.nearest("c", [2, 0.2, 0], threshold=0.5, limit=5)
    assert [name for name, _ in found] == ["x", "xy"]
    assert found[0][1] > found[1][1] >= 0.5
    assert [n for n, _ in index.nearest("c", [1, 0, 0], 0.0, 1)] == ["x"]
    index.add("c", "z", [0, 0, 1])  # over capacity: the oldest, x, goes
    assert "x" not in index and len(index) == 3
    assert [n for n, _ in index.nearest("c", [1, 0, 0], 0.1, 5)] == ["xy"]


def test_zero_vectors_and_other_dimensions_never_match() -> None:
    index = VectorIndex(capacity=10)
    index.add("c", "zero", [0.0, 0.0])
    assert len(index) == 0
    index.add("c", "two", [1.0, 0.0])
    assert index.nearest("c", [1.0, 0.0, 0.0], 0.0, 5) == []
    index.add("c", "three", [1.0, 0.0, 0.0])  # another model: the old vectors go
    assert "two" not in index and index.nearest("c", [1.0, 0.0, 0.0], 0.9, 5)[0][0] == "three"
