"""The background parts of the Redis state, with fakes for Redis: the way back after an outage
(one WARNING, retries with backoff, one INFO) and the lease keeper (releases batched and sent
at once, renewals every third of the lease time)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from infrastructure.llm.resilience.redis import connection, outage
from infrastructure.llm.resilience.redis.leases import Lease, LeaseKeeper
from infrastructure.llm.resilience.redis.outage import Outage, describe, retry_delays
from infrastructure.llm.resilience.state import InMemoryState


class Down(ConnectionError):
    """Stands for any Redis error."""


def test_retries_wait_half_a_second_doubling_to_ten() -> None:
    delays = retry_delays()
    assert [next(delays) for _ in range(8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]


def test_errors_are_described_without_secrets() -> None:
    text = describe(Down("AUTH failed for redis://user:hunter2pass@db:6379"))
    assert text.startswith("Down: ")
    assert "hunter2pass" not in text


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    def delays() -> Iterator[float]:
        while True:
            yield 0.001

    monkeypatch.setattr(outage, "retry_delays", delays)


def test_an_outage_is_told_once_and_ends_when_redis_answers(
    quick_retries: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="infrastructure.llm.resilience.redis")
    answers = threading.Event()
    tries = []

    def reconnect() -> None:
        tries.append(1)
        if not answers.is_set():
            raise Down("refused")

    standing = Outage("redis://db:6379/0", reconnect, (Down,))
    assert standing.status() == "shared"
    for _ in range(3):
        standing.lost(Down("refused"))
    assert standing.status().startswith("local (degraded since 20")
    while len(tries) < 3:
        time.sleep(0.001)
    assert not standing.shared
    answers.set()
    deadline = time.monotonic() + 2.0
    while not standing.shared:
        assert time.monotonic() < deadline
        time.sleep(0.001)
    assert standing.status() == "shared"
    levels = [record.levelname for record in caplog.records]
    assert levels == ["WARNING", "INFO"]
    assert "redis://db:6379/0" in caplog.records[0].getMessage()
    standing.close()


def test_a_closed_outage_stops_retrying(quick_retries: None) -> None:
    tries = []

    def reconnect() -> None:
        tries.append(1)
        raise Down("refused")

    standing = Outage("redis://db", reconnect, (Down,))
    standing.lost(Down("refused"))
    standing.close()
    count = len(tries)
    time.sleep(0.02)
    assert len(tries) == count


class FakeRedis:
    """Records what the keeper sends: ZREMs, ZADDs and PEXPIREs by pipeline, renewals by
    script."""

    def __init__(self) -> None:
        self.removed: list[tuple[str, tuple[str, ...]]] = []
        self.moved: list[tuple[str, dict[str, float]]] = []
        self.expiries: list[tuple[str, int]] = []
        self.renewed: list[tuple[list[str], list[Any]]] = []
        self.fail = False

    def pipeline(self) -> FakeRedis:
        return self

    def zrem(self, key: str, *members: str) -> None:
        self.removed.append((key, members))

    def zadd(self, key: str, mapping: dict[str, float], xx: bool = False) -> None:
        assert xx, "a move must not add an admission the window already dropped"
        self.moved.append((key, mapping))

    def pexpire(self, key: str, milliseconds: int) -> None:
        self.expiries.append((key, milliseconds))

    def execute(self) -> None:
        if self.fail:
            self.removed.clear()
            raise Down("gone")

    def renew(self, keys: list[str], args: list[Any]) -> None:
        self.renewed.append((keys, args))


@pytest.fixture
def fake() -> FakeRedis:
    return FakeRedis()


@pytest.fixture
def keeper(fake: FakeRedis) -> Iterator[LeaseKeeper]:
    lost: list[BaseException] = []
    keeper = LeaseKeeper(fake.renew, fake.pipeline, 0.03, lambda: True, lost.append, (Down,))
    yield keeper
    keeper.close()


def test_members_are_unique(keeper: LeaseKeeper) -> None:
    assert len({keeper.new_member() for _ in range(1000)}) == 1000


def test_released_slots_are_sent_at_once_in_one_batch(keeper: LeaseKeeper, fake: FakeRedis) -> None:
    keeper.release(Lease("s:a", "m1", True))
    keeper.release(Lease("s:a", "m2", True))
    keeper.flush()
    sent = [member for key, members in fake.removed if key == "s:a" for member in members]
    assert sorted(sent) == ["m1", "m2"]


def test_an_admit_may_carry_the_releases_of_its_limits(
    keeper: LeaseKeeper, fake: FakeRedis
) -> None:
    with keeper._sending:  # hold the thread back, as if it were busy sending
        keeper.release(Lease("s:a", "m1", True))
        assert keeper.take_pending("s:a") == ["m1"]
        assert keeper.take_pending("s:a") == []
    keeper.flush()
    assert fake.removed == []


def rpm_lease(member: str, admitted_at: float, took: float) -> Lease:
    """The lease of an rpm admission whose call was answered `took` seconds after it."""
    return Lease(None, member, True, "r:a", admitted_at, time.monotonic() - took)


def test_an_answered_rpm_admission_moves_to_its_answer(
    keeper: LeaseKeeper, fake: FakeRedis
) -> None:
    keeper.answered(rpm_lease("m1", 1000.0, 2.5))
    keeper.flush()
    [(key, mapping)] = fake.moved
    assert key == "r:a" and abs(mapping["m1"] - 1002.5) < 0.05
    assert fake.expiries == [("r:a", 61_000)]


def test_an_admit_may_carry_the_moves_of_its_rpm_set_and_hand_them_back(
    keeper: LeaseKeeper, fake: FakeRedis
) -> None:
    with keeper._sending:  # hold the thread back, as if it were busy sending
        keeper.answered(rpm_lease("m1", 1000.0, 1.0))
        carried = keeper.take_rescores("r:a")
        assert carried[0] == "m1" and abs(float(carried[1]) - 1001.0) < 0.05
        assert keeper.take_rescores("r:a") == []
        keeper.answer_again("r:a", carried)  # the admit got no reply
    keeper.flush()
    [(key, mapping)] = fake.moved
    assert key == "r:a" and list(mapping) == ["m1"]


def renewed(fake: FakeRedis) -> tuple[list[str], list[Any]]:
    """The next renewal the keeper sends."""
    fake.renewed.clear()
    deadline = time.monotonic() + 1.0
    while not fake.renewed:
        assert time.monotonic() < deadline
        time.sleep(0.002)
    return fake.renewed[-1]


def test_held_leases_are_renewed_until_released(keeper: LeaseKeeper, fake: FakeRedis) -> None:
    leases = [Lease("s:a", "m1", True), Lease("s:b", "m2", True)]
    for lease in leases:
        keeper.hold(lease)
    keys, args = renewed(fake)
    assert sorted(zip(keys, args[1:], strict=True)) == [("s:a", "m1"), ("s:b", "m2")]
    assert args[0] == 0.03
    assert keeper.release_one("s:a")
    assert not keeper.release_one("s:a")
    assert renewed(fake)[0] == ["s:b"]


def test_a_lease_whose_ticket_is_gone_is_left_to_expire(
    keeper: LeaseKeeper, fake: FakeRedis
) -> None:
    kept = Lease("s:a", "kept", True)
    keeper.hold(kept)
    keeper.hold(Lease("s:a", "dropped", True))  # nobody holds it: its ticket was dropped
    assert renewed(fake)[1][1:] == ["kept"]


def test_a_failed_batch_is_dropped_and_reported(fake: FakeRedis) -> None:
    lost: list[BaseException] = []
    keeper = LeaseKeeper(fake.renew, fake.pipeline, 30.0, lambda: True, lost.append, (Down,))
    fake.fail = True
    keeper.release(Lease("s:a", "m1", True))
    keeper.flush()
    fake.fail = False
    keeper.flush()
    keeper.close()
    assert fake.removed == []
    assert len(lost) == 1


def test_without_the_redis_extra_building_the_state_names_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from infrastructure.llm.resilience.redis import RedisState

    monkeypatch.setattr(connection, "redis", None)
    with pytest.raises(ImportError, match=r"langchain-llm-wrappers\[redis\]"):
        RedisState("redis://127.0.0.1:6379/0")


def test_the_in_memory_state_probes_always_and_says_where_it_lives() -> None:
    memory = InMemoryState()
    assert memory.claim_probe("pool:p:i", 10.0, 0.0)
    assert memory.claim_probe("pool:p:i", 10.0, 0.0)
    assert memory.status() == "memory"
