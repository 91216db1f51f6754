"""One scrape of a `/metrics` page, keeping the samples of the wrappers' own metrics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

PREFIX = "llm_wrappers_"

Labels = tuple[tuple[str, str], ...]
"""A sample's labels, sorted: hashable, so samples of two scrapes can be matched."""


class ScrapeError(ValueError):
    """A page that is no Prometheus text, or carries no wrapper metrics."""


@dataclass(frozen=True)
class Scrape:
    """The `llm_wrappers_*` samples of one page (name -> labels -> value), read at `at`
    (seconds on the reader's clock)."""

    at: float
    samples: Mapping[str, Mapping[Labels, float]]

    def series(self, name: str) -> Mapping[Labels, float]:
        """The samples called `name` (`llm_wrappers_` prefix left out), by their labels."""
        return self.samples.get(PREFIX + name, {})


def parse(text: str, at: float) -> Scrape:
    """The wrapper metrics in Prometheus text `text`, read at `at`."""
    samples: dict[str, dict[Labels, float]] = {}
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name.startswith(PREFIX):
                    labels = tuple(sorted(sample.labels.items()))
                    samples.setdefault(sample.name, {})[labels] = sample.value
    except ValueError as exc:
        raise ScrapeError(f"not Prometheus metrics text ({exc})") from None
    if not samples and PREFIX not in text:
        raise ScrapeError(f"no {PREFIX}* metrics on the page")
    return Scrape(at, samples)
