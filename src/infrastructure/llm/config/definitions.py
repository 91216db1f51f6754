"""Named definitions gathered across files, with the file each name came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from infrastructure.llm.errors import ConfigIssue

T = TypeVar("T")


@dataclass
class Definitions(Generic[T]):
    """Items of one kind by name. A name defined with errors is `defined` but not in `valid`,
    so references to it are not reported a second time."""

    kind: str
    valid: dict[str, T] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    # Names files that could not be read probably define: references to them are not
    # reported on top of the read error. `None` stands for any name.
    unread: set[str | None] = field(default_factory=set)

    def add(self, name: str, item: T | None, file: str, path: str) -> ConfigIssue | None:
        """Record `name` (item None when invalid); return an issue if the name is already taken."""
        if name in self.files:
            return ConfigIssue(
                file,
                path,
                f"{self.kind} {name!r} is already defined in {self.files[name]}; "
                f"{self.kind} names must be unique",
            )
        self.files[name] = file
        if item is not None:
            self.valid[name] = item
        return None

    def mark_unread(self, likely_name: str | None) -> None:
        """A file that could not be read probably defines `likely_name` (None: any name)."""
        self.unread.add(likely_name)

    def defined(self, name: str) -> bool:
        """Whether any file defined `name`, validly or not, or may have in a file that could
        not be read."""
        return name in self.files or name in self.unread or None in self.unread
