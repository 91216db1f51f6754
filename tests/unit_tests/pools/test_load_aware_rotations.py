"""`least_loaded` (two random choices by vLLM load) and `prefix_affinity` (rendezvous hashing
with bounded loads): scores, seeded picks, the least_busy fallback, spills, key movement."""

from __future__ import annotations

import logging
import random
from collections import Counter

import pytest

from infrastructure.llm.clock import FakeClock
from infrastructure.llm.fleet.least_loaded import LeastLoaded, load_score
from infrastructure.llm.fleet.prefix_affinity import PrefixAffinity, hash_order, member_key
from infrastructure.llm.fleet.rotation import RotationContext, make_rotation
from infrastructure.llm.resilience.records import LoadRecord

KEYS = [f"session:{n}" for n in range(10_000)]


def context(size: int, clock: FakeClock | None = None, **tuning: float) -> RotationContext:
    return RotationContext(
        "p",
        [f"m{i}" for i in range(size)],
        clock or FakeClock(),
        tuning.get("waiting_weight", 2.0),
        tuning.get("load_factor", 1.25),
    )


def least_loaded(size: int, clock: FakeClock, seed: int = 7) -> LeastLoaded:
    rotation = make_rotation(
        "least_loaded", [1.0] * size, rng=random.Random(seed), context=context(size, clock)
    )
    assert isinstance(rotation, LeastLoaded)
    return rotation


def reading(running: float, waiting: float, serial: int = 1, until: float = 100.0) -> LoadRecord:
    return LoadRecord(running, waiting, kv_cache_usage=0.0, serial=serial, fresh_until=until)


# --- least_loaded ---------------------------------------------------------------------------


def test_score_weighs_waiting_and_counts_pending_calls_and_kv_use() -> None:
    record = LoadRecord(running=3, waiting=2, kv_cache_usage=0.5)
    assert load_score(record, 2.0, pending=1) == 2.0 * 2 + 3 + 1 + 0.5
    assert load_score(LoadRecord(1, 1), 0.0, 0) == 1.0  # no kv gauge: no term


def test_the_lightest_of_two_seeded_draws_and_the_quietest_member_goes_first() -> None:
    clock = FakeClock()
    rotation = least_loaded(6, clock, seed=99)
    waits = [5, 0, 9, 2, 7, 1]
    for index, waiting in enumerate(waits):
        rotation.set_load(index, reading(0, waiting))
    twin = random.Random(99)  # the same draws the rotation makes
    for number in range(200):
        first = twin.randrange(6)
        second = twin.randrange(5)
        second += second >= first
        quietest = number % 6  # nothing in flight: the quietest member takes its turn
        drawn = [first, second] + ([quietest] if quietest not in (first, second) else [])
        lightest = min(drawn, key=lambda i: (waits[i], drawn.index(i)))
        order = list(rotation.candidates())
        assert order[0] == lightest
        assert sorted(order) == list(range(6))  # each member once


def test_a_member_busy_with_this_process_s_calls_is_not_the_quietest() -> None:
    clock = FakeClock()
    rotation = least_loaded(8, clock)
    for index in range(8):
        rotation.set_load(index, reading(0, 0))
    for index in range(7):
        rotation.started(index)
    # 7 is the only member with nothing in flight here: every call scores it beside its draws
    assert all(next(rotation.candidates()) == 7 for _ in range(200))


def test_a_long_queue_is_never_chosen_first_while_readings_are_fresh() -> None:
    clock = FakeClock()
    rotation = least_loaded(4, clock)
    for index in range(4):
        rotation.set_load(index, reading(1, 40 if index == 2 else 0))
    firsts = Counter(next(rotation.candidates()) for _ in range(2_000))
    assert firsts[2] == 0
    assert all(firsts[i] > 400 for i in (0, 1, 3))


def test_calls_started_since_the_reading_count_until_the_next_one() -> None:
    clock = FakeClock()
    rotation = least_loaded(2, clock)
    rotation.set_load(0, reading(0, 0, serial=1))
    rotation.set_load(1, reading(1, 0, serial=1))
    assert next(rotation.candidates()) == 0
    rotation.started(0)
    rotation.started(0)  # two calls here the reading does not know of: 0 weighs 2 > 1
    assert rotation.load(0) == 2.0
    assert next(rotation.candidates()) == 1
    rotation.set_load(0, reading(0, 0, serial=1))  # the same reading read again
    assert rotation.load(0) == 2.0
    rotation.set_load(0, reading(2, 0, serial=2))  # a new scrape counts them itself
    assert rotation.load(0) == 2.0 + 0.0
    rotation.finished(0)  # ended since the reading: it stops counting before the next one
    assert rotation.load(0) == 1.0
    rotation.finished(0)
    assert rotation.load(0) == 0.0
    assert next(rotation.candidates()) == 0
    rotation.set_load(0, reading(0, 0, serial=3))
    assert rotation.load(0) == 0.0


def test_own_calls_in_flight_are_a_floor_under_a_reading_that_missed_them() -> None:
    clock = FakeClock()
    rotation = least_loaded(2, clock)
    rotation.started(0)
    rotation.started(0)
    rotation.set_load(0, reading(0, 0, serial=1))  # scraped before the server saw them
    rotation.set_load(1, reading(1, 0, serial=1))
    assert rotation.load(0) == 2.0
    assert next(rotation.candidates()) == 1


def test_at_most_three_members_are_scored_per_call() -> None:
    clock = FakeClock()
    rotation = least_loaded(1_000, clock)
    for index in range(1_000):
        rotation.set_load(index, reading(index % 7, 0))
    scored: list[int] = []
    original = rotation.load

    def counting(index: int) -> float | None:
        scored.append(index)
        return original(index)

    rotation.load = counting  # type: ignore[method-assign]
    for _ in range(50):
        next(rotation.candidates())
    assert 100 <= len(scored) <= 150  # two draws, and the quietest member unless drawn


def test_missing_metrics_fall_back_to_least_busy_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    rotation = least_loaded(3, clock)
    rotation.started(0)
    rotation.started(1)
    rotation.started(1)
    with caplog.at_level(logging.INFO, logger="infrastructure.llm.fleet.least_loaded"):
        for _ in range(100):
            assert list(rotation.candidates()) == [2, 0, 1]  # least_busy's order
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert "least_busy" in warnings[0].getMessage()
        for index in range(3):
            rotation.set_load(index, reading(0, index * 10, until=clock.now() + 4))
        assert next(rotation.candidates()) in (0, 1)  # by load now: 2 waits longest
        assert any("back" in r.getMessage() for r in caplog.records if r.levelno == logging.INFO)
        clock.advance(5)  # the readings age out
        for _ in range(20):
            assert list(rotation.candidates()) == [2, 0, 1]
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2


def test_unhealthy_members_are_not_drawn() -> None:
    clock = FakeClock()
    rotation = least_loaded(3, clock)
    for index in range(3):
        rotation.set_load(index, reading(0, 0))
    rotation.set_healthy(1, False)
    assert {next(rotation.candidates()) for _ in range(100)} == {0, 2}
    assert sorted(rotation.candidates()) == [0, 2]
    rotation.set_healthy(0, False)
    assert list(rotation.candidates()) == [2]


def test_load_aware_rotations_need_a_context() -> None:
    for strategy in ("least_loaded", "prefix_affinity"):
        with pytest.raises(ValueError, match="instance ids"):
            make_rotation(strategy, [1.0, 1.0])


# --- prefix_affinity -------------------------------------------------------------------------


def affinity(size: int, load_factor: float = 1.25, ids: list[str] | None = None) -> PrefixAffinity:
    ctx = context(size, load_factor=load_factor)
    if ids is not None:
        ctx = RotationContext("p", ids, ctx.clock, 2.0, load_factor)
    rotation = make_rotation("prefix_affinity", [1.0] * len(ctx.ids), context=ctx)
    assert isinstance(rotation, PrefixAffinity)
    return rotation


def owner(rotation: PrefixAffinity, ids: list[str], key: str) -> str:
    return ids[next(rotation.candidates(key))]


def test_a_key_always_goes_to_the_same_member_and_keys_spread_evenly() -> None:
    rotation = affinity(8)
    assert len({next(rotation.candidates("session:abc")) for _ in range(50)}) == 1
    spread = Counter(next(rotation.candidates(key)) for key in KEYS)
    assert sorted(spread) == list(range(8))
    assert all(abs(count - 1_250) < 150 for count in spread.values()), spread


def test_order_depends_on_the_key_and_member_ids_only() -> None:
    keys = [member_key(f"m{i}") for i in range(5)]
    assert hash_order("k", keys) == hash_order("k", keys)
    # The same members in another position score the key the same.
    shuffled = [keys[3], keys[0], keys[4], keys[1], keys[2]]
    names = [3, 0, 4, 1, 2]
    assert [names[i] for i in hash_order("k", shuffled)] == list(hash_order("k", keys))


# Adding or removing one of N members moves about 1/N of 10,000 keys: the expected count is
# 10,000/N with a binomial standard deviation below 35, so 0.02 (over 200 keys) is >5 sigma.
TOLERANCE = 0.02


def test_adding_a_ninth_member_moves_about_a_ninth_of_the_keys_all_to_it() -> None:
    ids = [f"m{i}" for i in range(9)]
    eight, nine = affinity(8, ids=ids[:8]), affinity(9, ids=ids)
    moved = [key for key in KEYS if owner(eight, ids, key) != owner(nine, ids, key)]
    assert abs(len(moved) / len(KEYS) - 1 / 9) < TOLERANCE, len(moved)
    assert {owner(nine, ids, key) for key in moved} == {"m8"}


def test_removing_one_of_eight_moves_only_its_keys_to_their_next_member() -> None:
    ids = [f"m{i}" for i in range(8)]
    rotation = affinity(8, ids=ids)
    before = {key: list(rotation.candidates(key))[:2] for key in KEYS}
    rotation.set_healthy(3, False)
    moved = [key for key in KEYS if next(rotation.candidates(key)) != before[key][0]]
    assert abs(len(moved) / len(KEYS) - 1 / 8) < TOLERANCE, len(moved)
    assert all(before[key][0] == 3 for key in moved)
    assert all(next(rotation.candidates(key)) == before[key][1] for key in moved)
    # A pool built without that member agrees: removal is by id, not by position.
    seven_ids = ids[:3] + ids[4:]
    seven = affinity(7, ids=seven_ids)
    assert all(
        owner(seven, seven_ids, key) == ids[next(rotation.candidates(key))] for key in KEYS[:2000]
    )


def test_a_member_at_its_load_bound_spills_to_the_next_in_hash_order() -> None:
    rotation = affinity(4, load_factor=1.25)
    first, second, *_ = rotation.candidates("session:hot")
    rotation.started(first)
    # One call in flight, four members: bound = ceil(1.25 x 2 / 4) + 1 = 2; the key stays.
    assert rotation.bound() == 2
    assert next(rotation.candidates("session:hot")) == first
    rotation.started(first)
    # Two in flight, both on `first`: bound = ceil(1.25 x 3 / 4) + 1 = 2, reached.
    assert rotation.bound() == 2
    order = list(rotation.candidates("session:hot"))
    assert order[0] == second
    assert order[-1] == first  # still offered, last (a retry may go there)
    rotation.finished(first)
    assert next(rotation.candidates("session:hot")) == first


def test_unhealthy_or_benched_members_spill_in_hash_order() -> None:
    rotation = affinity(5)
    order = list(rotation.candidates("session:s"))
    rotation.set_healthy(order[0], False)
    assert list(rotation.candidates("session:s")) == order[1:]
    rotation.set_benched(order[1], True)  # an open breaker benches a member
    assert list(rotation.candidates("session:s")) == order[2:]
    rotation.set_healthy(order[0], True)
    assert list(rotation.candidates("session:s")) == [order[0], *order[2:]]


def test_calls_without_a_key_are_spread() -> None:
    rotation = affinity(4)
    assert {next(rotation.candidates()) for _ in range(100)} == {0, 1, 2, 3}
