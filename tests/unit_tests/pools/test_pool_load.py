"""The metrics poller of a least_loaded pool, with a fake fetch: URLs, readings shared in the
state and handed to the rotation, failures, freshness."""

from __future__ import annotations

import pytest

from infrastructure.llm.clock import FakeClock
from infrastructure.llm.fleet.instance import Instance
from infrastructure.llm.fleet.pool_load import PoolLoad, metrics_url
from infrastructure.llm.resilience.records import LoadRecord
from infrastructure.llm.resilience.state import InMemoryState


def instance(name: str, base_url: str | None, provider: str = "openai", **extra: str) -> Instance:
    return Instance(name, "m", provider, "llama", base_url, models=None, **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("http://10.0.0.5:8000/v1", "http://10.0.0.5:8000/metrics"),
        ("http://10.0.0.5:8000/v1/", "http://10.0.0.5:8000/metrics"),
        ("https://gpu.example/vllm/v1", "https://gpu.example/vllm/metrics"),
        ("http://h:1", "http://h:1/metrics"),
    ],
)
def test_metrics_url_is_the_root_of_the_base_url(base_url: str, expected: str) -> None:
    assert metrics_url(instance("i", base_url)) == expected


def test_metrics_url_may_be_set_and_in_process_instances_have_none() -> None:
    explicit = instance("i", "http://h:1/v1", metrics_url="http://h:9100/prom")
    assert metrics_url(explicit) == "http://h:9100/prom"
    assert metrics_url(instance("i", None, provider="mock")) is None


def page(waiting: int) -> str:
    return (
        f'vllm:num_requests_running{{model_name="llama"}} 1\n'
        f'vllm:num_requests_waiting{{model_name="llama"}} {waiting}\n'
    )


class Pages:
    """A fake fetch: a page per URL, or an error; counts the fetches."""

    def __init__(self, pages: dict[str, str | Exception]) -> None:
        self.pages = pages
        self.fetched: list[str] = []

    def __call__(self, url: str, timeout: float) -> str:
        self.fetched.append(url)
        answer = self.pages[url]
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_a_round_shares_readings_and_hands_them_to_the_rotation() -> None:
    clock = FakeClock(100.0)
    state = InMemoryState()
    instances = [
        instance("a", "http://a:1/v1"),
        instance("b", "http://b:1/v1"),
        instance("c", "http://c:1/v1"),
        instance("local", None, provider="mock"),
    ]
    pages = Pages(
        {
            "http://a:1/metrics": page(4),
            "http://b:1/metrics": ConnectionRefusedError("refused"),
            "http://c:1/metrics": "<html>not prometheus</html>",
        }
    )
    seen: dict[int, LoadRecord | None] = {}
    load = PoolLoad("p", instances, 2.0, 1.0, state, clock, seen.__setitem__, fetch=pages)
    assert load.scrape_now() == 3
    assert sorted(pages.fetched) == [
        "http://a:1/metrics",
        "http://b:1/metrics",
        "http://c:1/metrics",
    ]
    record = seen[0]
    assert record is not None
    assert (record.running, record.waiting, record.fresh_until) == (1.0, 4.0, 104.0)
    assert seen[1] is None and seen[2] is None and seen[3] is None
    assert state.loads(["p:a"], clock.now()) == [record]
    clock.advance(4.0)  # two intervals later the reading no longer counts
    load.refresh()
    assert seen[0] is None


def test_each_scrape_has_its_own_serial() -> None:
    clock = FakeClock()
    state = InMemoryState()
    pages = Pages({"http://a:1/metrics": page(0)})
    seen: dict[int, LoadRecord | None] = {}
    load = PoolLoad(
        "p", [instance("a", "http://a:1/v1")], 1.0, 1.0, state, clock, seen.__setitem__, pages
    )
    load.scrape_now()
    first = seen[0]
    load.refresh()
    assert seen[0] == first
    load.scrape_now()
    assert seen[0] is not None and first is not None and seen[0].serial != first.serial


def test_in_memory_load_records_expire_and_reset_forgets_them() -> None:
    state = InMemoryState()
    state.publish_load("p:a", LoadRecord(1, 2), ttl=3.0, now=10.0)
    assert state.loads(["p:a", "p:b"], 12.9) == [LoadRecord(1, 2, fresh_until=13.0), None]
    assert state.loads(["p:a"], 13.0) == [None]
    state.publish_load("p:a", LoadRecord(1, 2), ttl=3.0, now=20.0)
    state.reset("p:")
    assert state.loads(["p:a"], 20.0) == [None]
