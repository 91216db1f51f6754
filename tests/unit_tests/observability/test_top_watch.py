"""The loops and the metrics source, on a fake clock and fake pages: how many reads, how far
apart, and what a failed read shows."""

from __future__ import annotations

import urllib.error

import pytest

from infrastructure.llm.clock import FakeClock
from infrastructure.llm.observability.top.metrics_source import MetricsSource
from infrastructure.llm.observability.top.rows import Frame
from infrastructure.llm.observability.top.watch import SourceError, live, once

from .exposition import page

W = "g_wrapper"


class Pages:
    """A fetch that serves `texts` in turn (an exception is raised instead of served)."""

    def __init__(self, *texts: str | Exception) -> None:
        self.texts = list(texts)
        self.urls: list[str] = []

    def __call__(self, url: str, timeout: float) -> str:
        self.urls.append(url)
        text = self.texts.pop(0)
        if isinstance(text, Exception):
            raise text
        return text


def calls(n: int) -> str:
    return page(calls={(W, "ok"): n})


def test_once_reads_twice_an_interval_apart_for_rates() -> None:
    clock = FakeClock(start=50.0)
    source = MetricsSource("http://h:1/metrics", clock, Pages(calls(10), calls(16)))
    found = once(source, clock, interval=3.0)
    assert clock.sleeps == [3.0]
    assert found.window_seconds == 3.0
    assert found.flows[0].calls_per_second == 2.0


def test_once_with_no_interval_reads_once() -> None:
    clock = FakeClock()
    pages = Pages(calls(10))
    found = once(MetricsSource("http://h:1/metrics", clock, pages), clock, interval=0.0)
    assert (clock.sleeps, len(pages.urls), found.window_seconds) == ([], 1, None)
    assert found.flows[0].calls == 10


class Shown(Exception):
    """Ends a live loop after enough frames."""


def collect(limit: int) -> tuple[list[Frame], object]:
    frames: list[Frame] = []

    def show(frame: Frame) -> None:
        frames.append(frame)
        if len(frames) == limit:
            raise Shown

    return frames, show


def test_live_refreshes_every_interval_and_keeps_the_last_frame_when_a_read_fails() -> None:
    clock = FakeClock()
    refused = urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
    source = MetricsSource(
        "http://h:1/metrics", clock, Pages(calls(1), calls(3), refused, calls(9))
    )
    frames, show = collect(4)
    with pytest.raises(Shown):
        live(source, clock, 0.5, show)  # type: ignore[arg-type]
    assert clock.sleeps == [0.5, 0.5, 0.5]
    assert [f.flows[0].calls for f in frames] == [1, 3, 3, 9]
    assert frames[2].notes[-1] == (
        "refresh failed: cannot read metrics at http://h:1/metrics: [Errno 111] Connection refused"
    )
    # The refresh after the failure measures its rate from the last scrape that worked.
    assert frames[3].window_seconds == 1.0 and frames[3].flows[0].calls_per_second == 6.0


def test_live_raises_when_its_first_read_fails() -> None:
    clock = FakeClock()
    source = MetricsSource("http://h:1/metrics", clock, Pages(TimeoutError("timed out")))
    frames, show = collect(1)
    with pytest.raises(SourceError, match="cannot read metrics at http://h:1/metrics: timed out"):
        live(source, clock, 1.0, show)  # type: ignore[arg-type]
    assert frames == []


def test_a_failed_read_names_the_url_without_its_password() -> None:
    clock = FakeClock()
    url = "http://ops:hunter2-password@h:1/metrics?token=abcdef123456"
    source = MetricsSource(url, clock, Pages(OSError("refused by http://ops:hunter2-password@h")))
    with pytest.raises(SourceError) as caught:
        source.frame()
    assert "hunter2" not in str(caught.value) and "abcdef123456" not in str(caught.value)
    assert str(caught.value).startswith("cannot read metrics at http://h:1/metrics")
