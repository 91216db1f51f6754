"""Rotation strategies: membership, order of preference, in-flight counts, O(1) picks, threads."""

from __future__ import annotations

import random
import sys
import threading
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import Any

import pytest

from infrastructure.llm.fleet import rotation as rotation_module
from infrastructure.llm.fleet.rotation import Rotation, make_rotation

STRATEGIES = ("round_robin", "random", "least_busy", "weighted")


def make(strategy: str, size: int, weights: Sequence[float] | None = None) -> Rotation:
    return make_rotation(strategy, weights or [1.0] * size, rng=random.Random(1234))


def firsts(rotation: Rotation, times: int) -> list[int]:
    return [next(rotation.candidates()) for _ in range(times)]


# --- construction -------------------------------------------------------------------------------


def test_unknown_strategy_names_it_and_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="fastest") as raised:
        make_rotation("fastest", [1.0])
    for name in STRATEGIES:
        assert name in str(raised.value)


@pytest.mark.parametrize("weights", [[1.0, 0.0], [1.0, -2.0], [float("nan")], [float("inf")]])
def test_weights_must_be_finite_and_positive(weights: list[float]) -> None:
    with pytest.raises(ValueError, match="weights"):
        make_rotation("weighted", weights)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_out_of_range_member_is_rejected(strategy: str) -> None:
    rotation = make(strategy, 3)
    for index in (-1, 3):
        with pytest.raises(IndexError):
            rotation.set_healthy(index, False)
        with pytest.raises(IndexError):
            rotation.started(index)


# --- membership (every strategy) ----------------------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_all_members_start_healthy_and_each_is_yielded_once(strategy: str) -> None:
    rotation = make(strategy, 6)
    assert rotation.healthy_count == 6
    assert all(rotation.is_healthy(i) for i in range(6))
    for _ in range(20):
        order = list(rotation.candidates())
        assert sorted(order) == list(range(6))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_only_healthy_members_are_yielded(strategy: str) -> None:
    rotation = make(strategy, 6)
    for index in (1, 4):
        rotation.set_healthy(index, False)
    assert rotation.healthy_count == 4
    assert not rotation.is_healthy(1)
    assert not rotation.is_healthy(4)
    for _ in range(50):
        order = list(rotation.candidates())
        assert sorted(order) == [0, 2, 3, 5]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_set_healthy_is_idempotent(strategy: str) -> None:
    rotation = make(strategy, 4)
    rotation.set_healthy(2, False)
    rotation.set_healthy(2, False)
    assert rotation.healthy_count == 3
    rotation.set_healthy(0, True)
    rotation.set_healthy(2, True)
    rotation.set_healthy(2, True)
    assert rotation.healthy_count == 4
    assert sorted(rotation.candidates()) == [0, 1, 2, 3]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_unhealthy_member_comes_back_when_healthy_again(strategy: str) -> None:
    rotation = make(strategy, 3)
    rotation.set_healthy(1, False)
    assert 1 not in set(firsts(rotation, 50))
    rotation.set_healthy(1, True)
    assert sorted(rotation.candidates()) == [0, 1, 2]
    assert 1 in set(firsts(rotation, 200))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_all_unhealthy_yields_nothing(strategy: str) -> None:
    rotation = make(strategy, 3)
    for index in range(3):
        rotation.set_healthy(index, False)
    assert rotation.healthy_count == 0
    assert list(rotation.candidates()) == []
    assert next(rotation.candidates(), None) is None


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_empty_pool_yields_nothing(strategy: str) -> None:
    assert list(make_rotation(strategy, []).candidates()) == []


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_membership_change_during_consumption_keeps_each_member_at_most_once(
    strategy: str,
) -> None:
    rotation = make(strategy, 8)
    rotation.started(3)
    seen: list[int] = []
    for index in rotation.candidates():
        seen.append(index)
        # The generator holds no lock: mutating here must neither deadlock nor repeat members.
        rotation.set_healthy(index, False)
        rotation.set_healthy(index, True)
        rotation.started(index)
        rotation.finished(index)
    assert len(seen) == len(set(seen))
    assert set(seen) <= set(range(8))


# --- in-flight counts (every strategy) ----------------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_in_flight_counts_and_never_below_zero(strategy: str) -> None:
    rotation = make(strategy, 3)
    rotation.started(0)
    rotation.started(0)
    rotation.started(2)
    assert [rotation.in_flight(i) for i in range(3)] == [2, 0, 1]
    rotation.finished(0)
    rotation.finished(1)
    rotation.finished(2)
    rotation.finished(2)
    assert [rotation.in_flight(i) for i in range(3)] == [1, 0, 0]
    rotation.started(1)
    assert rotation.in_flight(1) == 1


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_unhealthy_members_keep_their_counts(strategy: str) -> None:
    rotation = make(strategy, 3)
    rotation.started(1)
    rotation.set_healthy(1, False)
    rotation.started(1)
    assert rotation.in_flight(1) == 2
    rotation.set_healthy(1, True)
    rotation.finished(1)
    assert rotation.in_flight(1) == 1
    assert sorted(rotation.candidates()) == [0, 1, 2]


# --- round_robin and random ---------------------------------------------------------------------


def test_round_robin_starts_at_successive_members_and_goes_around() -> None:
    rotation = make("round_robin", 4)
    assert [list(rotation.candidates()) for _ in range(4)] == [
        [0, 1, 2, 3],
        [1, 2, 3, 0],
        [2, 3, 0, 1],
        [3, 0, 1, 2],
    ]


def test_round_robin_visits_members_evenly() -> None:
    rotation = make("round_robin", 5)
    rotation.set_healthy(2, False)
    assert Counter(firsts(rotation, 400)) == {0: 100, 1: 100, 3: 100, 4: 100}


def test_random_with_a_seeded_rng_covers_all_and_goes_around() -> None:
    rotation = make("random", 5)
    assert set(firsts(rotation, 200)) == set(range(5))
    for _ in range(20):
        order = list(rotation.candidates())
        assert order == [(order[0] + step) % 5 for step in range(5)]


def test_random_is_reproducible_with_the_same_seed() -> None:
    first = make_rotation("random", [1.0] * 7, rng=random.Random(7))
    second = make_rotation("random", [1.0] * 7, rng=random.Random(7))
    assert firsts(first, 50) == firsts(second, 50)


# --- weighted -----------------------------------------------------------------------------------


def test_weighted_frequencies_follow_the_weights() -> None:
    rotation = make("weighted", 3, [1.0, 2.0, 7.0])
    counts = Counter(firsts(rotation, 20_000))
    for index, share in enumerate((0.1, 0.2, 0.7)):
        assert counts[index] / 20_000 == pytest.approx(share, abs=0.02)


def test_weighted_excludes_unhealthy_members_and_renormalises() -> None:
    rotation = make("weighted", 3, [1.0, 2.0, 7.0])
    rotation.set_healthy(2, False)
    counts = Counter(firsts(rotation, 20_000))
    assert set(counts) == {0, 1}
    assert counts[0] / 20_000 == pytest.approx(1 / 3, abs=0.02)
    rotation.set_healthy(2, True)
    counts = Counter(firsts(rotation, 20_000))
    assert counts[2] / 20_000 == pytest.approx(0.7, abs=0.02)


def test_weighted_yields_the_rest_after_the_drawn_one() -> None:
    rotation = make("weighted", 4, [1.0, 1.0, 1.0, 5.0])
    for _ in range(50):
        order = list(rotation.candidates())
        assert sorted(order) == [0, 1, 2, 3]


# --- least_busy ---------------------------------------------------------------------------------


def test_least_busy_prefers_fewest_in_flight_then_ascending() -> None:
    rotation = make("least_busy", 4)
    for index, calls in ((0, 3), (1, 1), (2, 2), (3, 0)):
        for _ in range(calls):
            rotation.started(index)
    assert list(rotation.candidates()) == [3, 1, 2, 0]


def test_least_busy_rotates_among_ties() -> None:
    rotation = make("least_busy", 3)
    assert sorted(firsts(rotation, 3)) == [0, 1, 2]
    rotation.started(0)
    assert sorted(firsts(rotation, 2)) == [1, 2]
    assert Counter(firsts(rotation, 100)) == {1: 50, 2: 50}


def test_least_busy_follows_started_and_finished() -> None:
    rotation = make("least_busy", 3)
    rotation.started(0)
    rotation.started(1)
    assert next(rotation.candidates()) == 2
    rotation.started(2)
    rotation.started(2)
    rotation.finished(1)
    assert next(rotation.candidates()) == 1
    rotation.finished(0)
    assert set(firsts(rotation, 2)) == {0, 1}
    assert list(rotation.candidates())[-1] == 2
    rotation.finished(2)
    rotation.finished(2)
    rotation.finished(2)
    assert sorted(firsts(rotation, 3)) == [0, 1, 2]
    assert [rotation.in_flight(i) for i in range(3)] == [0, 0, 0]


def test_least_busy_order_is_by_ascending_in_flight() -> None:
    rotation = make("least_busy", 30)
    rng = random.Random(5)
    for _ in range(200):
        rotation.started(rng.randrange(30))
    for index in range(0, 30, 7):
        rotation.set_healthy(index, False)
    for _ in range(20):
        order = list(rotation.candidates())
        counts = [rotation.in_flight(i) for i in order]
        assert counts == sorted(counts)
        assert sorted(order) == [i for i in range(30) if i % 7]


def test_least_busy_unhealthy_busy_member_returns_at_its_count() -> None:
    rotation = make("least_busy", 3)
    rotation.started(0)
    rotation.started(0)
    rotation.set_healthy(1, False)
    rotation.set_healthy(2, False)
    assert list(rotation.candidates()) == [0]
    rotation.set_healthy(2, True)
    assert list(rotation.candidates()) == [2, 0]
    rotation.finished(0)
    rotation.finished(0)
    rotation.started(2)
    assert list(rotation.candidates()) == [0, 2]


# --- O(1) selection on a large pool (structural, no timing) -------------------------------------


def rotation_lines_for_first_candidate(rotation: Rotation) -> int:
    """Count the lines of rotation.py executed while taking the first candidate."""
    filename = rotation_module.__file__
    lines = 0

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal lines
        if event == "line":
            lines += 1
        return local

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        return local if frame.f_code.co_filename == filename else None

    candidates = rotation.candidates()
    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        first = next(candidates)
    finally:
        sys.settrace(previous)
    assert 0 <= first < 1_000
    return lines


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_first_candidate_work_does_not_grow_with_pool_size(strategy: str) -> None:
    small = rotation_lines_for_first_candidate(make(strategy, 10))
    large = make(strategy, 1_000, [1.0 + i % 7 for i in range(1_000)])
    large.started(17)
    assert rotation_lines_for_first_candidate(large) == small


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_single_healthy_member_of_a_thousand_is_the_first_candidate(strategy: str) -> None:
    rotation = make(strategy, 1_000)
    for index in range(1_000):
        if index != 613:
            rotation.set_healthy(index, False)
    for _ in range(20):
        assert next(rotation.candidates()) == 613
    assert list(rotation.candidates()) == [613]


def test_least_busy_ten_thousand_picks_on_a_thousand_members() -> None:
    rotation = make("least_busy", 1_000)
    outstanding: deque[int] = deque()
    picks: Counter[int] = Counter()
    for _ in range(10_000):
        index = next(rotation.candidates())
        assert index not in outstanding  # every idle member has fewer calls in flight
        picks[index] += 1
        rotation.started(index)
        outstanding.append(index)
        if len(outstanding) > 5:
            rotation.finished(outstanding.popleft())
    while outstanding:
        rotation.finished(outstanding.popleft())
    assert len(picks) == 1_000
    assert max(picks.values()) - min(picks.values()) <= 1
    assert all(rotation.in_flight(i) == 0 for i in range(1_000))


# --- threads ------------------------------------------------------------------------------------


@pytest.fixture
def frequent_thread_switches() -> Iterator[None]:
    """Make the interpreter switch threads far more often, so the threads really interleave."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(previous)


@pytest.mark.usefixtures("frequent_thread_switches")
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_concurrent_picks_counts_and_health_flips(strategy: str) -> None:
    size, workers, rounds = 8, 4, 2_000
    rotation = make(strategy, size, [1.0 + i for i in range(size)])
    barrier = threading.Barrier(workers + 1)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            for _ in range(rounds):
                order = list(rotation.candidates())
                assert len(order) == len(set(order))
                assert all(0 <= i < size for i in order)
                if order:
                    rotation.started(order[0])
                    rotation.finished(order[0])
                    rotation.finished(order[-1])  # unmatched: must stay at zero or above
        except BaseException as error:
            errors.append(error)

    def flipper() -> None:
        try:
            barrier.wait()
            for step in range(rounds):
                rotation.set_healthy(step % size, step // size % 2 == 1)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    threads.append(threading.Thread(target=flipper))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    for index in range(size):
        rotation.set_healthy(index, True)
    assert rotation.healthy_count == size
    assert [rotation.in_flight(i) for i in range(size)] == [0] * size
    assert sorted(rotation.candidates()) == list(range(size))
    if strategy in ("round_robin", "least_busy"):
        assert sorted(firsts(rotation, size)) == list(range(size))
