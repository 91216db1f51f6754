"""A bounded prefix cache: the hashes of recently computed KV-cache blocks, least recently used
evicted first."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence


def block_hashes(tokens: Sequence[str], block_size: int) -> list[int]:
    """One hash per full block of `tokens`; each folds in the hash before it, so a block only
    matches when everything before it matches too (as vLLM's prefix caching hashes blocks).
    A partial last block gets no hash: it is never cached."""
    hashes: list[int] = []
    parent = 0
    for start in range(0, len(tokens) - block_size + 1, block_size):
        parent = hash((parent, tuple(tokens[start : start + block_size])))
        hashes.append(parent)
    return hashes


class PrefixCache:
    """At most `capacity` block hashes; storing a block makes it the most recently used."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"prefix cache capacity must be >= 1 block, got {capacity}")
        self._capacity = capacity
        self._blocks: OrderedDict[int, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._blocks)

    def match(self, hashes: Sequence[int]) -> int:
        """How many of the leading `hashes` are cached (stopping at the first miss)."""
        count = 0
        for block in hashes:
            if block not in self._blocks:
                break
            count += 1
        return count

    def store(self, hashes: Sequence[int]) -> None:
        """Cache `hashes` (or refresh them), evicting the least recently used beyond capacity."""
        blocks = self._blocks
        for block in hashes:
            blocks[block] = None
            blocks.move_to_end(block)
        while len(blocks) > self._capacity:
            blocks.popitem(last=False)

    def clear(self) -> None:
        """Forget every block."""
        self._blocks.clear()
