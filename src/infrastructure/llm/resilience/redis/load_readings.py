"""Load readings in Redis: one key per instance, expiring when the reading stops counting,
so a reader needs no clock of the writer's: a key still there is a reading still fresh."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from infrastructure.llm.resilience.records import LoadRecord


def publish(client: Any, name: str, record: LoadRecord, ttl: float) -> None:
    """Store `record` under `name` for `ttl` seconds."""
    fields = {
        "r": record.running,
        "w": record.waiting,
        "k": record.kv_cache_usage,
        "h": record.prefix_cache_hit_rate,
        "s": record.serial,
    }
    client.set(name, json.dumps(fields), px=max(int(ttl * 1000), 1))


def read(client: Any, names: Sequence[str], now: float) -> list[LoadRecord | None]:
    """The readings under `names` (None where none is stored), in one round trip;
    `fresh_until` is `now` plus each key's time left."""
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.get(name)
        pipe.pttl(name)
    replies = pipe.execute()
    found: list[LoadRecord | None] = []
    for value, left in zip(replies[::2], replies[1::2], strict=True):
        found.append(_record(value, left, now))
    return found


def _record(value: bytes | None, left: int, now: float) -> LoadRecord | None:
    """One stored reading; None when absent, expired meanwhile or unreadable."""
    if value is None or left <= 0:
        return None
    try:
        fields = json.loads(value)
        return LoadRecord(
            running=float(fields["r"]),
            waiting=float(fields["w"]),
            kv_cache_usage=None if fields["k"] is None else float(fields["k"]),
            prefix_cache_hit_rate=None if fields["h"] is None else float(fields["h"]),
            serial=int(fields["s"]),
            fresh_until=now + left / 1000,
        )
    except (ValueError, KeyError, TypeError):
        return None
