"""A frame drawn with rich: figures a source lacks show as '–', names stay plain text."""

from __future__ import annotations

import io

import pytest

pytest.importorskip("rich", reason="the top extra is missing")

from rich.console import Console

from infrastructure.llm.observability.top.render import MISSING, render
from infrastructure.llm.observability.top.rows import FlowRow, Frame, InstanceRow


def drawn(frame: Frame) -> list[str]:
    out = io.StringIO()
    Console(file=out, width=160).print(render(frame))
    return out.getvalue().splitlines()


def test_rows_show_their_figures_and_a_dash_for_what_is_unknown() -> None:
    frame = Frame(
        source="http://h:1/metrics",
        flow_label="WRAPPER",
        window_seconds=2.0,
        flows=(FlowRow("g_wrapper", 1, 40, 2.5, 0.123, 3, 0.5),),
        instances=(
            InstanceRow(
                "a#0",
                breaker="open",
                in_flight=2,
                calls=7,
                calls_per_second=0.0,
                p95_seconds=0.0456,
                errors=7,
            ),
            InstanceRow("[bold]b#0", breaker="closed", cooldown_seconds=2.34),
        ),
        notes=("a note",),
    )
    lines = drawn(frame)
    assert lines[0] == "llm-wrappers top  http://h:1/metrics  (rates over the last 2.0 s)"
    assert lines[1].split() == [
        "WRAPPER",
        "IN",
        "FLIGHT",
        "CALLS",
        "CALLS/S",
        "P95",
        "ERRORS",
        "ERR/S",
    ]
    assert lines[2].split() == ["g_wrapper", "1", "40", "2.50", "123", "ms", "3", "0.50"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[5:7]}
    assert lines[4].split()[5:11] == ["IN", "FLIGHT", "CALLS", "CALLS/S", "P95", "ERRORS"]
    # BREAKER FAILURES COOL-DOWN HEALTH IN-FLIGHT CALLS CALLS/S P95 ERRORS ERR/S ERROR-KIND
    assert rows["a#0"] == [
        "open",
        MISSING,
        MISSING,
        MISSING,
        "2",
        "7",
        "0.00",
        "46",
        "ms",
        "7",
        MISSING,
        MISSING,
    ]
    assert rows["[bold]b#0"][:3] == ["closed", MISSING, "2.3s"]  # markup stays text
    assert lines[-1] == "a note"


def test_a_frame_of_held_state_says_so_and_long_waits_read_in_seconds() -> None:
    frame = Frame("state: shared", "TARGET", None, (FlowRow("g.echelon1", p95_seconds=12.0),), ())
    lines = drawn(frame)
    assert lines[0].endswith("(as held now)")
    assert lines[2].split() == [
        "g.echelon1",
        MISSING,
        MISSING,
        MISSING,
        "12.0",
        "s",
        MISSING,
        MISSING,
    ]
