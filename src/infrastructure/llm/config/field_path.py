"""Render a location inside a config file as a dotted field path, e.g. `echelon1.models[0]`."""

from __future__ import annotations

from collections.abc import Iterable

Loc = tuple[str | int, ...]


def format_path(parts: Iterable[str | int]) -> str:
    """Join mapping keys with dots and show list indexes in brackets."""
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path
