"""A frame drawn with `rich`: a title, the flows table, the instances table and the notes.
`rich` is the `top` extra; import this module only once it is known to be there."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from infrastructure.llm.observability.top.rows import FlowRow, Frame, InstanceRow

MISSING = "–"
"""What a cell shows for a figure its source does not have."""

_STYLES = {
    "closed": "green",
    "half_open": "yellow",
    "open": "bold red",
    "healthy": "green",
    "unhealthy": "bold red",
}


def render(frame: Frame) -> RenderableType:
    """The whole view of `frame`."""
    if frame.window_seconds is None:
        span = "counts since start" if frame.flow_label == "WRAPPER" else "as held now"
    else:
        span = f"rates over the last {frame.window_seconds:.1f} s"
    title = Text.assemble(("llm-wrappers top", "bold"), f"  {frame.source}  ({span})")
    return Group(
        title,
        _flows(frame),
        Text(""),
        _instances(frame),
        *(Text(note, style="dim") for note in frame.notes),
    )


def _flows(frame: Frame) -> Table:
    table = _table(frame.flow_label, "IN FLIGHT", "CALLS", "CALLS/S", "P95", "ERRORS", "ERR/S")
    for row in frame.flows:
        table.add_row(Text(row.name), *_figures(row))
    return table


def _instances(frame: Frame) -> Table:
    table = _table(
        "INSTANCE",
        "BREAKER",
        "FAILURES",
        "COOL-DOWN",
        "HEALTH",
        "IN FLIGHT",
        "CALLS",
        "CALLS/S",
        "P95",
        "ERRORS",
        "ERR/S",
        "ERROR-KIND",
        text=("BREAKER", "HEALTH", "ERROR-KIND"),
    )
    for row in frame.instances:
        table.add_row(
            Text(row.name),
            _styled(row.breaker),
            _cell(row.failures, str),
            _cell(row.cooldown_seconds, lambda s: f"{s:.1f}s"),
            _styled(row.health),
            *_figures(row),
            _cell(row.top_error, str),
        )
    return table


def _figures(row: FlowRow | InstanceRow) -> tuple[Text, ...]:
    """The cells both tables show: in flight, calls, calls/s, p95, errors, errors/s."""
    return (
        _cell(row.in_flight, str),
        _cell(row.calls, str),
        _cell(row.calls_per_second, _rate),
        _cell(row.p95_seconds, _duration),
        _cell(row.errors, str),
        _cell(row.errors_per_second, _rate),
    )


def _table(first: str, *figures: str, text: tuple[str, ...] = ()) -> Table:
    """A borderless table: `first` and the `text` columns left-aligned, figures right."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column(first, no_wrap=True)
    for header in figures:
        table.add_column(header, justify="left" if header in text else "right", no_wrap=True)
    return table


def _cell(value: Any, shown: Callable[[Any], str]) -> Text:
    """A figure as plain text (never markup), or MISSING."""
    return Text(MISSING if value is None else shown(value))


def _styled(value: str | None) -> Text:
    """A state, coloured by what it means."""
    if value is None:
        return Text(MISSING)
    return Text(value, style=_STYLES.get(value, ""))


def _rate(per_second: float) -> str:
    return f"{per_second:.2f}"


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"
