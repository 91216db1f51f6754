"""Frames read from a `/metrics` page over HTTP; each frame's rates span the time since the
previous read."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable

from infrastructure.llm.clock import Clock
from infrastructure.llm.observability.top.metrics_frame import metrics_frame
from infrastructure.llm.observability.top.rows import Frame
from infrastructure.llm.observability.top.scrape import Scrape, parse
from infrastructure.llm.observability.top.watch import SourceError
from infrastructure.llm.redaction import one_line, public_url

Fetch = Callable[[str, float], str]
"""Reads the page at a URL within a timeout in seconds; raises OSError or ValueError."""


def http_get(url: str, timeout: float) -> str:
    """The body of `url` as text."""
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return answer.read().decode("utf-8", "replace")


class MetricsSource:
    """Reads the page at `url` with `fetch` (default: `http_get`), timing each read with
    `clock`."""

    windowed = True

    def __init__(
        self, url: str, clock: Clock, fetch: Fetch | None = None, timeout: float = 5.0
    ) -> None:
        self.where = public_url(url)
        self._url = url
        self._clock = clock
        self._fetch = fetch or http_get
        self._timeout = timeout
        self._last: Scrape | None = None

    def frame(self) -> Frame:
        try:
            text = self._fetch(self._url, self._timeout)
            current = parse(text, self._clock.now())
        except (OSError, ValueError) as exc:  # URLError and ScrapeError among them
            raise SourceError(f"cannot read metrics at {self.where}: {_reason(exc)}") from None
        frame = metrics_frame(self.where, self._last, current)
        self._last = current
        return frame


def _reason(exc: BaseException) -> str:
    """What went wrong, on one line and redacted."""
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        return one_line(str(exc.reason))
    return one_line(str(exc) or type(exc).__name__)
