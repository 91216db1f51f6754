"""The loops of `llm-wrappers top`: one frame, or a frame every interval until interrupted;
time comes from an injectable clock, frames from a source, and showing them is the caller's."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Protocol

from infrastructure.llm.clock import Clock
from infrastructure.llm.observability.top.rows import Frame


class SourceError(Exception):
    """A source that could not be read; the message is one line, with no secret."""


class Source(Protocol):
    """Where frames come from. `windowed`: a frame's rates need an earlier read."""

    windowed: bool

    def frame(self) -> Frame:
        """Read the source now (raises SourceError when it cannot)."""
        ...


def once(source: Source, clock: Clock, interval: float) -> Frame:
    """One frame; from a windowed source, with rates over `interval` seconds (two reads that
    far apart), or its cumulative figures when `interval` is 0."""
    frame = source.frame()
    if source.windowed and interval > 0:
        clock.sleep(interval)
        frame = source.frame()
    return frame


def live(source: Source, clock: Clock, interval: float, show: Callable[[Frame], None]) -> None:
    """Show a frame now and then every `interval` seconds, until `show` or the clock raises
    (KeyboardInterrupt, at a terminal). A first read that fails raises SourceError; a later
    one shows the last good frame with a note saying what failed."""
    good = source.frame()
    show(good)
    while True:
        clock.sleep(interval)
        try:
            good = source.frame()
        except SourceError as exc:
            show(dataclasses.replace(good, notes=(*good.notes, f"refresh failed: {exc}")))
        else:
            show(good)
