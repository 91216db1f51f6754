"""One planned change to one config file: new contents, or a move out of the way."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FileChange:
    """`path` gets `after` as its contents, or, when `moved_to` is set, is renamed unchanged.

    `before` holds the bytes the plan was made from; nothing is written if the file no longer
    holds them.
    """

    path: Path
    before: bytes
    after: bytes | None = None
    moved_to: Path | None = None
    reason: str = ""

    def describe(self, root: Path) -> str:
        """One line saying what happens to the file, relative to `root`."""
        where = _relative(self.path, root)
        if self.moved_to is not None:
            return f"{where}: renamed to {_relative(self.moved_to, root)} ({self.reason})"
        return f"{where}: {self.reason}"

    def diff(self, root: Path) -> str:
        """A unified diff of the change (a rename is shown as one line)."""
        if self.moved_to is not None:
            return f"rename {_relative(self.path, root)} -> {_relative(self.moved_to, root)}\n"
        name = _relative(self.path, root)
        lines = difflib.unified_diff(
            self.before.decode("utf-8").splitlines(keepends=True),
            (self.after or b"").decode("utf-8").splitlines(keepends=True),
            fromfile=f"a/{name}",
            tofile=f"b/{name}",
        )
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
