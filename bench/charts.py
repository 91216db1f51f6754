"""Charts of the benchmarks: latency CDFs and scale curves in one figure style, saved as PNG
(Agg backend) with a caption naming the command, the machine and the date.

matplotlib (the `bench` extra) is imported only when a figure is made, so the benchmarks run
without it as long as no `--chart` is asked for.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import platform
import shlex
import sys
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.axis import Axis
    from matplotlib.figure import Figure

PANEL_SIZE = (5.6, 4.6)  # inches per panel
MIN_WIDTH = 10.0  # inches: room for the title and the caption even with one panel
CAPTION_CHARACTERS_PER_INCH = 17  # where the caption's lines wrap, at its font size
DPI = 100
MARKS = {0.5: ("o", "p50"), 0.99: ("^", "p99")}  # quantile -> (marker, name) on every CDF


def quantile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank quantile: the smallest sample with at least `fraction` of all at or below."""
    if not samples:
        raise ValueError("quantile of no samples")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"quantile fraction must be within 0 and 1, got {fraction}")
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def cdf(samples: Sequence[float]) -> tuple[list[float], list[float]]:
    """The empirical CDF's steps: the sorted samples, and the share at or below each."""
    ordered = sorted(samples)
    return ordered, [(index + 1) / len(ordered) for index in range(len(ordered))]


def _short(value: float) -> str:
    """Three significant digits without an exponent (e.g. `0.0123`, `4.56`, `1,234`)."""
    if value == 0 or abs(value) >= 1000:
        return f"{value:,.0f}"
    digits = max(0, 2 - math.floor(math.log10(abs(value))))
    return f"{value:.{digits}f}"


def _tick(value: float) -> str:
    """A tick's label: `0.01`, `1`, `1,000`."""
    return f"{value:,g}"


def _plain_log_numbers(axis: Axis) -> None:
    """On a log axis, tick labels like `20`, `1,000` or `0.5` instead of powers of ten, on
    the ticks matplotlib would label (minor ones too when the axis spans few decades)."""
    from matplotlib.ticker import LogFormatter

    class PlainLogFormatter(LogFormatter):
        def __call__(self, value: float, pos: int | None = None) -> str:
            return _tick(value) if super().__call__(value, pos) else ""

    class SparseMinorFormatter(PlainLogFormatter):
        """Minor labels at 2 and 5 times a power of ten only: 3 and 4 would run together
        at the top of a decade."""

        def __call__(self, value: float, pos: int | None = None) -> str:
            leading = f"{value:e}"[0]
            return super().__call__(value, pos) if leading in "25" else ""

    axis.set_major_formatter(PlainLogFormatter())
    axis.set_minor_formatter(SparseMinorFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5)))


class Panel(Protocol):
    """One axes of a figure: draws itself."""

    def draw(self, axes: Axes) -> None: ...


@dataclass(frozen=True)
class CdfPanel:
    """Latency CDFs, a step line per series, p50 and p99 marked on each (named in the legend)."""

    title: str
    series: Mapping[str, Sequence[float]]
    xlabel: str = "latency, ms"
    log_x: bool = True

    def draw(self, axes: Axes) -> None:
        from matplotlib.lines import Line2D

        for name, samples in self.series.items():
            marks = {fraction: quantile(samples, fraction) for fraction in MARKS}
            figures = ", ".join(f"{MARKS[f][1]} {_short(v)}" for f, v in marks.items())
            (line,) = axes.step(*cdf(samples), where="post", linewidth=1.4)
            line.set_label(f"{name}: {figures}")
            for fraction, value in marks.items():
                axes.scatter(
                    [value],
                    [fraction],
                    marker=MARKS[fraction][0],
                    s=30,
                    zorder=3,
                    color=line.get_color(),
                    edgecolors="black",
                    linewidths=0.5,
                )
        keys = [
            Line2D(
                [],
                [],
                marker=marker,
                color="0.5",
                markeredgecolor="black",
                linestyle="none",
                label=f"{name} marked",
            )
            for marker, name in MARKS.values()
        ]
        handles, _ = axes.get_legend_handles_labels()
        axes.legend(handles=[*handles, *keys], fontsize=7, loc="best")
        axes.set_ylim(0, 1.02)
        axes.set_ylabel("share of calls at or below")
        axes.set_xscale("log" if self.log_x else "linear")
        if self.log_x:
            _plain_log_numbers(axes.xaxis)
        axes.set_xlabel(self.xlabel)
        axes.set_title(self.title, fontsize=10)


@dataclass(frozen=True)
class CurvePanel:
    """Curves of one figure against another (e.g. cost per call against instances), a line
    per series, and an optional goal drawn as a dashed horizontal line. With `discrete_x`
    (a few measured sizes) each point is marked and ticked; else x is continuous (a time)."""

    title: str
    series: Mapping[str, Mapping[float, float]]
    xlabel: str
    ylabel: str
    log_x: bool = True
    log_y: bool = False
    goal: float | None = None
    goal_label: str = "goal"
    discrete_x: bool = True

    def draw(self, axes: Axes) -> None:
        marker = "o" if self.discrete_x else None
        for name, points in self.series.items():
            xs = sorted(points)
            axes.plot(xs, [points[x] for x in xs], marker=marker, linewidth=1.4, label=name)
        if self.goal is not None:
            axes.axhline(
                self.goal, color="firebrick", linestyle="--", linewidth=1, label=self.goal_label
            )
        axes.legend(fontsize=7)
        axes.set_xscale("log" if self.log_x else "linear")
        axes.set_yscale("log" if self.log_y else "linear")
        if self.discrete_x:
            axes.set_xticks(sorted({x for points in self.series.values() for x in points}))
            axes.xaxis.set_major_formatter(lambda value, _: _tick(value))
            axes.xaxis.set_minor_formatter("")
        if self.log_y:
            _plain_log_numbers(axes.yaxis)
        axes.set_xlabel(self.xlabel)
        axes.set_ylabel(self.ylabel)
        axes.set_title(self.title, fontsize=10)


def figure(title: str, panels: Sequence[Panel], caption: str) -> Figure:
    """The panels side by side under `title`, with `caption` in small print below them."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not panels:
        raise ValueError(f"chart {title!r} has no panels")
    width = max(MIN_WIDTH, PANEL_SIZE[0] * len(panels))
    made = Figure(figsize=(width, PANEL_SIZE[1]), dpi=DPI, layout="constrained")
    FigureCanvasAgg(made)
    for axes, panel in zip(made.subplots(1, len(panels), squeeze=False)[0], panels, strict=True):
        axes.grid(True, which="major", alpha=0.3)
        panel.draw(axes)
    made.suptitle(title, fontsize=12)
    wrapped = [
        textwrap.fill(line, int(width * CAPTION_CHARACTERS_PER_INCH))
        for line in caption.splitlines()
    ]
    made.supxlabel("\n".join(wrapped), x=0.005, ha="left", fontsize=7, color="0.3")
    return made


def save(made: Figure, path: str | Path) -> Path:
    """Write `made` as a PNG at `path` (folders made as needed); the path. The image is kept
    in 256 colours, plenty for line charts and a third of the bytes of full RGBA."""
    from PIL import Image

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    drawn = io.BytesIO()
    made.savefig(drawn, format="png", dpi=DPI)
    drawn.seek(0)
    with Image.open(drawn) as image:
        image.convert("RGB").quantize(256).save(target, format="PNG", optimize=True)
    return target


def cpu_model() -> str:
    """The CPU's model name: from /proc/cpuinfo on Linux (no child process), else `platform`."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or platform.machine()


def machine() -> str:
    """CPUs, CPU model, OS and Python of this machine, e.g. `2 CPUs (Intel Xeon), Linux ...`."""
    return (
        f"{os.cpu_count()} CPUs ({cpu_model()}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def _without_note(argv: Sequence[str]) -> list[str]:
    """`argv` without `--chart-note TEXT` (the caption has the note on a line of its own)."""
    kept: list[str] = []
    skip = False
    for word in argv:
        if not skip and word != "--chart-note" and not word.startswith("--chart-note="):
            kept.append(word)
        skip = word == "--chart-note"
    return kept


def caption(note: str | None) -> str:
    """How this chart was made: the command line (but the note), the machine, the date (UTC),
    the load average as it was saved, and `note` (e.g. what else ran on the machine)."""
    command = shlex.join(["python", *_without_note(sys.argv)])
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load = (
        f"; 1-min load average {os.getloadavg()[0]:.2f} when saved"
        if hasattr(os, "getloadavg")
        else ""
    )
    lines = [f"made by: {command}", f"on {machine()}; {when}{load}"]
    if note:
        lines.append(note)
    return "\n".join(lines)


def add_options(parser: argparse.ArgumentParser) -> None:
    """`--chart PATH` and `--chart-note TEXT` for a benchmark's command line."""
    parser.add_argument("--chart", type=Path, metavar="PATH", help="also write a PNG chart here")
    parser.add_argument(
        "--chart-note", metavar="TEXT", help="a line for the chart's caption (e.g. machine load)"
    )


def write(args: argparse.Namespace, title: str, panels: Sequence[Panel]) -> None:
    """With `--chart`, draw `panels` with this run's caption and save them; say where."""
    if args.chart is None:
        return
    if not panels:
        print(f"\nnothing measured to chart for {args.chart}")
        return
    path = save(figure(title, panels, caption(args.chart_note)), args.chart)
    print(f"\nchart written to {path} ({path.stat().st_size / 1024:.0f} KB)")
