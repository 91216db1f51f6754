"""What operators ask of the shared records: a snapshot of them, and deleting some.

Both walk the keys with SCAN (never KEYS, which would stall a busy server) and only ever
touch keys under the state's prefix.
"""

from __future__ import annotations

from typing import Any

from infrastructure.llm.resilience.limits import RPM_WINDOW
from infrastructure.llm.resilience.redis.keys import KeySchema
from infrastructure.llm.resilience.redis.replies import breaker_view, health_view

# Keys asked for per SCAN step and deleted per UNLINK.
_BATCH = 500


def delete(client: Any, keys: KeySchema, record_prefix: str | None) -> int:
    """Delete every record whose key starts with `record_prefix` (all when None); returns
    how many Redis keys went."""
    deleted = 0
    for pattern in keys.patterns(record_prefix):
        batch: list[bytes] = []
        for name in client.scan_iter(match=pattern, count=_BATCH):
            batch.append(name)
            if len(batch) == _BATCH:
                deleted += client.unlink(*batch)
                batch = []
        if batch:
            deleted += client.unlink(*batch)
    return deleted


def empty_view() -> dict[str, Any]:
    """A snapshot of no records: each kind it shows, empty."""
    return {"breakers": {}, "cooldowns": {}, "health": {}, "slots": {}, "rpm": {}}


def snapshot(client: Any, keys: KeySchema) -> dict[str, Any]:
    """The shared breakers (state, failures, probes out, seconds until half-open), cool-downs
    (seconds left), health records, slots taken and admissions in the rpm window, each by its
    record key."""
    found: list[tuple[str, str, bytes]] = []
    for pattern in keys.patterns():
        for name in client.scan_iter(match=pattern, count=_BATCH):
            parsed = keys.parse(name.decode())
            if parsed is not None and parsed[0] in _READERS:
                found.append((*parsed, name))
    seconds, micros = client.time()
    now = seconds + micros / 1_000_000
    pipe = client.pipeline(transaction=False)
    for kind, _, name in found:
        _READERS[kind](pipe, name, now)
    view = empty_view()
    for (kind, key, _), value in zip(found, pipe.execute(), strict=True):
        if kind == "breaker" and value:
            view["breakers"][key] = breaker_view(value, now)
        elif kind == "cooldown" and value is not None and float(value) > now:
            view["cooldowns"][key] = float(value) - now
        elif kind == "health" and value:
            view["health"][key] = health_view(value)
        elif kind in ("slots", "rpm") and value:
            view[kind][key] = value
    return view


_READERS = {
    "breaker": lambda pipe, name, now: pipe.hgetall(name),
    "cooldown": lambda pipe, name, now: pipe.get(name),
    "health": lambda pipe, name, now: pipe.hgetall(name),
    "slots": lambda pipe, name, now: pipe.zcount(name, f"({now:.6f}", "+inf"),
    "rpm": lambda pipe, name, now: pipe.zcount(name, f"({now - RPM_WINDOW:.6f}", "+inf"),
}
"""How the snapshot reads each kind of record it shows."""
