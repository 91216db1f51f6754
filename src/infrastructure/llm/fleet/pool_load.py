"""Background scrapes of a `least_loaded` pool's vLLM `/metrics`, readings kept in shared state.

Every `metrics_interval` a round claims each instance's scrape in the state (`claim_probe`),
so replicas sharing a state scrape each instance about once per interval between them; the
readings go into the state for two intervals, and every replica reads all of them each round
and hands them to its rotation.
"""

from __future__ import annotations

import logging
import random
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from urllib.parse import urlsplit, urlunsplit

from infrastructure.llm.clock import Clock
from infrastructure.llm.errors import describe_error
from infrastructure.llm.fleet.health_probe import is_probed
from infrastructure.llm.fleet.instance import Instance
from infrastructure.llm.fleet.periodic import Periodic
from infrastructure.llm.fleet.vllm_metrics import parse_load
from infrastructure.llm.redaction import public_url
from infrastructure.llm.resilience.records import LoadRecord
from infrastructure.llm.resilience.state import SharedState

logger = logging.getLogger(__name__)

# Scrapes in flight at once, and the most of a metrics page read.
MAX_CONCURRENT_SCRAPES = 16
_MAX_PAGE = 4 * 1024 * 1024
# A reading counts for this many intervals: one late round does not lose it.
FRESH_INTERVALS = 2.0

Fetch = Callable[[str, float], str]
"""GET a URL's text within a timeout in seconds (raises on any failure)."""


def metrics_url(instance: Instance) -> str | None:
    """Where the instance's Prometheus metrics are: its `metrics_url`, else `/metrics` at the
    root of its base_url (a trailing `/v1` dropped). None for instances not reached by HTTP."""
    if instance.metrics_url:
        return instance.metrics_url
    if not is_probed(instance) or not instance.base_url:
        return None
    parts = urlsplit(instance.base_url)
    path = parts.path.rstrip("/")
    if path.endswith("/v1"):
        path = path[: -len("/v1")]
    return urlunsplit((parts.scheme, parts.netloc, f"{path}/metrics", "", ""))


def fetch_text(url: str, timeout: float) -> str:
    """GET `url` and return its body as text."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read(_MAX_PAGE).decode("utf-8", errors="replace")


class PoolLoad:
    """Scrapes the load of a pool's instances and reports each reading to `on_reading`."""

    def __init__(
        self,
        pool_name: str,
        instances: Sequence[Instance],
        interval: float,
        timeout: float,
        state: SharedState,
        clock: Clock,
        on_reading: Callable[[int, LoadRecord | None], None],
        fetch: Fetch = fetch_text,
    ) -> None:
        self._pool_name = pool_name
        self._instances = list(instances)
        self._interval = interval
        self._timeout = timeout
        self._state = state
        self._clock = clock
        self._on_reading = on_reading
        self._fetch = fetch
        self._urls = [metrics_url(instance) for instance in self._instances]
        self._keys = [f"{pool_name}:{instance.id}" for instance in self._instances]
        self._rounds = Periodic(
            f"pool-load-{pool_name}",
            interval,
            lambda stop: self.scrape_now(claim=True),
            f"load scrape round of pool {pool_name!r}",
            logger,
        )

    def scrape_now(self, claim: bool = False) -> int:
        """Scrape every instance (with `claim`: those this replica claims for the next
        interval), share the readings, then hand every shared reading to the rotation.
        Returns how many instances this call scraped."""
        due = [index for index, url in enumerate(self._urls) if url is not None]
        if claim:
            now = self._clock.now()
            due = [
                i
                for i in due
                if self._state.claim_probe(f"metrics:{self._keys[i]}", self._interval, now)
            ]
        if due:
            with ThreadPoolExecutor(
                max_workers=min(MAX_CONCURRENT_SCRAPES, len(due)),
                thread_name_prefix=f"pool-load-{self._pool_name}",
            ) as executor:
                list(executor.map(self._scrape, due))
        self.refresh()
        return len(due)

    def refresh(self) -> None:
        """Hand the rotation every instance's shared reading (None where none is fresh)."""
        readings = self._state.loads(self._keys, self._clock.now())
        for index, record in enumerate(readings):
            self._on_reading(index, record)

    def _scrape(self, index: int) -> None:
        """Read one instance's metrics and share the reading; a failure is logged at DEBUG
        (a missing reading is what the rotation warns about)."""
        instance = self._instances[index]
        url = self._urls[index]
        assert url is not None
        try:
            record = parse_load(self._fetch(url, self._timeout), instance.model)
        except Exception as exc:
            logger.debug(
                "pool %r: scraping %s failed: %s",
                self._pool_name,
                public_url(url),
                describe_error(exc),
            )
            return
        if record is None:
            logger.debug("pool %r: %s holds no vLLM load metrics", self._pool_name, public_url(url))
            return
        ttl = FRESH_INTERVALS * self._interval
        record = replace(record, serial=random.getrandbits(62))
        self._state.publish_load(self._keys[index], record, ttl, self._clock.now())

    def start(self) -> None:
        """Scrape once now, so calls right after find readings, then every `interval` seconds
        on a daemon thread; idempotent."""
        if self._rounds.running:
            return
        try:
            self.scrape_now(claim=True)
        finally:
            self._rounds.start(wait_first=True)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the scrapes and wait up to `timeout` for the thread; idempotent."""
        self._rounds.stop(timeout)

    @property
    def running(self) -> bool:
        return self._rounds.running
