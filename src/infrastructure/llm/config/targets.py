"""Fallback targets: `group` (a whole task group) or `group.echelonN` (one of its echelons)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_TARGET = re.compile(r"^(?P<group>[^.\s]+)(?:\.echelon(?P<echelon>[1-9][0-9]*))?$")


def echelon_name(number: int) -> str:
    """The YAML key of echelon `number`: `echelon1`, `echelon2`, ..."""
    return f"echelon{number}"


@dataclass(frozen=True)
class FallbackTarget:
    """Where a call or a fallback hop goes; `echelon` is None for the whole group."""

    group: str
    echelon: int | None = None

    @classmethod
    def parse(cls, text: str) -> FallbackTarget:
        """Parse `"g"` or `"g.echelonN"`; raise ValueError saying what is expected otherwise."""
        match = _TARGET.match(text)
        if match is None:
            raise ValueError(
                f"expected a target 'group' or 'group.echelonN' (N from 1), got {text!r}"
            )
        echelon = match["echelon"]
        return cls(match["group"], None if echelon is None else int(echelon))

    def __str__(self) -> str:
        return self.group if self.echelon is None else f"{self.group}.{echelon_name(self.echelon)}"
