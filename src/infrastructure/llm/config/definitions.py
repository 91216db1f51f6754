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

    def defined(self, name: str) -> bool:
        """Whether any file defined `name`, validly or not."""
        return name in self.files
