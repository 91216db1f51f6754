"""bench/charts.py: the CDF and quantile figures, and PNG charts drawn from synthetic samples."""

from __future__ import annotations

import argparse
import importlib.util
import random
import sys
from pathlib import Path
from types import ModuleType

import pytest

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
BENCH = Path(__file__).resolve().parents[3] / "bench"


def _load_charts() -> ModuleType:
    """bench/ is a folder of scripts, not a package: load charts.py from its file."""
    spec = importlib.util.spec_from_file_location("bench_charts", BENCH / "charts.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module


charts = _load_charts()


def test_quantile_is_nearest_rank() -> None:
    samples = list(range(100, 0, -1))  # 1..100, unsorted
    assert charts.quantile(samples, 0.5) == 50
    assert charts.quantile(samples, 0.99) == 99
    assert charts.quantile(samples, 0.995) == 100
    assert charts.quantile(samples, 1.0) == 100
    assert charts.quantile(samples, 0.0) == 1
    assert charts.quantile([7.0, 3.0, 5.0], 0.5) == 5.0
    assert charts.quantile([7.0, 3.0, 5.0, 1.0], 0.5) == 3.0  # rank ceil(2) = 2nd smallest


def test_quantile_refuses_no_samples_and_fractions_outside_0_to_1() -> None:
    with pytest.raises(ValueError, match="no samples"):
        charts.quantile([], 0.5)
    with pytest.raises(ValueError, match=r"1\.5"):
        charts.quantile([1.0], 1.5)


def test_cdf_steps_are_sorted_samples_and_their_shares() -> None:
    xs, ys = charts.cdf([3.0, 1.0, 2.0, 2.0])
    assert xs == [1.0, 2.0, 2.0, 3.0]
    assert ys == [0.25, 0.5, 0.75, 1.0]


def test_every_marked_quantile_lies_on_its_cdf_step() -> None:
    rng = random.Random(4)
    samples = [rng.lognormvariate(3, 1) for _ in range(1001)]
    xs, ys = charts.cdf(samples)
    for fraction in charts.MARKS:
        value = charts.quantile(samples, fraction)
        first = xs.index(value)  # the CDF reaches `fraction` at the quantile, not before
        assert ys[first] >= fraction
        assert first == 0 or ys[first - 1] < fraction


def test_a_cdf_chart_draws_one_step_line_and_two_marks_per_series(tmp_path: Path) -> None:
    rng = random.Random(7)
    series = {
        "fast": [rng.uniform(1, 10) for _ in range(200)],
        "slow": [rng.uniform(50, 500) for _ in range(200)],
        "mixed": [rng.choice((2.0, 400.0)) for _ in range(50)],
    }
    made = charts.figure("title", [charts.CdfPanel("latency", series)], "made by: a test")
    (axes,) = made.axes
    assert len(axes.lines) == 3
    assert axes.get_xscale() == "log"
    for line, (name, samples) in zip(axes.lines, series.items(), strict=True):
        assert list(line.get_xdata()) == sorted(samples)
        assert line.get_label().startswith(f"{name}: p50 ")
    marks = [tuple(map(float, c.get_offsets()[0])) for c in axes.collections]
    expected = [(charts.quantile(s, f), f) for s in series.values() for f in charts.MARKS]
    assert marks == expected
    legend = [text.get_text() for text in axes.get_legend().get_texts()]
    assert legend[-2:] == ["p50 marked", "p99 marked"]
    path = charts.save(made, tmp_path / "deeper" / "cdf.png")
    assert path.read_bytes()[:8] == PNG_SIGNATURE


def test_a_curve_chart_draws_a_line_per_series_and_the_goal(tmp_path: Path) -> None:
    curves = charts.CurvePanel(
        "per call",
        {"pool": {1: 10.0, 100: 10.2, 1000: 10.3}, "group": {1: 12.0, 100: 12.0, 1000: 13.0}},
        xlabel="instances",
        ylabel="µs",
        goal=1.05,
    )
    build = charts.CurvePanel("build", {"ours": {1: 0.01, 1000: 0.5}}, "instances", "s", log_y=True)
    made = charts.figure("scale", [curves, build], "caption")
    first, second = made.axes
    assert [line.get_label() for line in first.lines] == ["pool", "group", "goal"]
    assert list(first.lines[0].get_xdata()) == [1, 100, 1000]
    assert list(first.lines[2].get_ydata()) == [1.05, 1.05]
    assert (first.get_xscale(), first.get_yscale()) == ("log", "linear")
    assert len(second.lines) == 1
    assert second.get_yscale() == "log"
    assert charts.save(made, tmp_path / "scale.png").read_bytes()[:8] == PNG_SIGNATURE


def test_a_figure_needs_a_panel() -> None:
    with pytest.raises(ValueError, match="'empty' has no panels"):
        charts.figure("empty", [], "caption")


def test_the_caption_names_the_command_machine_date_and_note(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    argv = ["bench/chaos.py", "--chart-note", "x y", "--calls", "60", "--chart-note=z", "--c d"]
    monkeypatch.setattr(sys, "argv", argv)
    text = charts.caption("other helpers ran meanwhile")
    lines = text.splitlines()
    assert lines[0] == "made by: python bench/chaos.py --calls 60 '--c d'"
    assert " CPUs (" in lines[1] and "Python " in lines[1] and " UTC" in lines[1]
    assert lines[2] == "other helpers ran meanwhile"
    assert len(charts.caption(None).splitlines()) == 2


def test_write_saves_only_when_asked_and_something_was_measured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    panel = charts.CdfPanel("latency", {"a": [1.0, 2.0, 3.0]})
    parser = argparse.ArgumentParser()
    charts.add_options(parser)
    charts.write(parser.parse_args([]), "title", [panel])
    assert capsys.readouterr().out == ""
    target = tmp_path / "a.png"
    charts.write(parser.parse_args(["--chart", str(target), "--chart-note", "n"]), "t", [])
    assert not target.exists()
    assert "nothing measured to chart" in capsys.readouterr().out
    charts.write(parser.parse_args(["--chart", str(target)]), "title", [panel])
    assert target.read_bytes()[:8] == PNG_SIGNATURE
    assert f"chart written to {target}" in capsys.readouterr().out
