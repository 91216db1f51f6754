"""Where each kind of record lives in Redis: `<key_prefix><kind>:<record key>`."""

from __future__ import annotations

import re

KINDS = ("breaker", "cooldown", "slots", "rpm", "health", "probe", "load")
"""The kinds of record, each in its own namespace under the prefix."""

_GLOB = re.compile(r"([*?\[\]\\])")


def glob_escape(text: str) -> str:
    """`text` as a SCAN MATCH pattern that matches only itself."""
    return _GLOB.sub(r"\\\1", text)


class KeySchema:
    """The Redis key of every record of one state, all under `prefix`."""

    __slots__ = ("_breaker", "_cooldown", "_health", "_load", "_probe", "_rpm", "_slots", "prefix")

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._breaker = f"{prefix}breaker:"
        self._cooldown = f"{prefix}cooldown:"
        self._slots = f"{prefix}slots:"
        self._rpm = f"{prefix}rpm:"
        self._health = f"{prefix}health:"
        self._probe = f"{prefix}probe:"
        self._load = f"{prefix}load:"

    def breaker(self, key: str) -> str:
        return self._breaker + key

    def cooldown(self, key: str) -> str:
        return self._cooldown + key

    def slots(self, key: str) -> str:
        return self._slots + key

    def rpm(self, key: str) -> str:
        return self._rpm + key

    def health(self, key: str) -> str:
        return self._health + key

    def probe(self, key: str) -> str:
        return self._probe + key

    def load(self, key: str) -> str:
        return self._load + key

    def patterns(self, record_prefix: str | None = None) -> list[str]:
        """SCAN MATCH patterns for every record whose key starts with `record_prefix` (every
        record when None); other keys under the prefix, such as the response cache's, are
        left alone."""
        base = glob_escape(self.prefix)
        tail = glob_escape(record_prefix or "")
        return [f"{base}{kind}:{tail}*" for kind in KINDS]

    def parse(self, name: str) -> tuple[str, str] | None:
        """(kind, record key) of a Redis key of this schema; None for any other key."""
        if not name.startswith(self.prefix):
            return None
        kind, sep, key = name[len(self.prefix) :].partition(":")
        return (kind, key) if sep and kind in KINDS else None
