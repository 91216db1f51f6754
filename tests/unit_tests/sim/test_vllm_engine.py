"""The simulated vLLM engine without I/O: slots and queue, the prefix cache, the time model and
its counters, driven by a fake clock."""

from __future__ import annotations

import pytest

from infrastructure.llm.clock import FakeClock
from infrastructure.llm.sim.vllm import VllmConfig, VllmEngine
from infrastructure.llm.sim.vllm.prefix_cache import PrefixCache, block_hashes
from infrastructure.llm.sim.vllm.scheduler import SlotScheduler


def words(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(count)]


def engine(clock: FakeClock | None = None, **options: object) -> VllmEngine:
    settings = {"block_size": 4, "prefill_ms_per_token": 1.0, "decode_ms_per_token": 10.0}
    return VllmEngine(VllmConfig(**{**settings, **options}), clock or FakeClock())  # type: ignore[arg-type]


class TestBlockHashes:
    def test_only_full_blocks_get_a_hash(self) -> None:
        assert len(block_hashes(words("t", 11), 4)) == 2
        assert block_hashes(words("t", 3), 4) == []

    def test_a_block_matches_only_after_the_same_prefix(self) -> None:
        first = block_hashes(["a", "b", "c", "d", "e", "f", "g", "h"], 4)
        other_start = block_hashes(["x", "b", "c", "d", "e", "f", "g", "h"], 4)
        assert first[0] != other_start[0]
        assert first[1] != other_start[1]  # same tokens, different prefix
        assert block_hashes(["a", "b", "c", "d", "z", "z", "z", "z"], 4)[0] == first[0]


class TestPrefixCache:
    def test_match_counts_leading_blocks_up_to_the_first_miss(self) -> None:
        cache = PrefixCache(10)
        cache.store([1, 2, 3])
        assert cache.match([1, 2, 3, 4]) == 3
        assert cache.match([1, 9, 3]) == 1
        assert cache.match([9, 1]) == 0

    def test_least_recently_used_blocks_are_evicted_beyond_capacity(self) -> None:
        cache = PrefixCache(3)
        cache.store([1, 2])
        cache.store([3])
        cache.store([1])  # refresh 1: 2 is now the oldest
        cache.store([4])
        assert len(cache) == 3
        assert cache.match([2]) == 0
        assert cache.match([1]) == 1

    def test_capacity_must_be_positive(self) -> None:
        with pytest.raises(ValueError, match="capacity must be >= 1"):
            PrefixCache(0)


class TestSlotScheduler:
    def test_beyond_the_slots_items_wait_and_enter_first_in_first_out(self) -> None:
        slots: SlotScheduler[str] = SlotScheduler(2)
        assert [slots.submit(x) for x in "abcd"] == [True, True, False, False]
        assert (slots.running, slots.waiting) == (2, 2)
        assert slots.leave("b") == ["c"]
        assert slots.leave("a") == ["d"]
        assert (slots.running, slots.waiting) == (2, 0)

    def test_a_waiting_item_can_leave_the_queue(self) -> None:
        slots: SlotScheduler[str] = SlotScheduler(1)
        for item in "abc":
            slots.submit(item)
        assert slots.leave("b") == []
        assert slots.leave("a") == ["c"]

    def test_an_arrival_does_not_overtake_the_queue(self) -> None:
        slots: SlotScheduler[str] = SlotScheduler(1)
        slots.submit("a")
        slots.submit("b")
        slots.leave("a")  # b runs
        assert slots.submit("c") is False

    def test_leaving_twice_is_an_error(self) -> None:
        slots: SlotScheduler[str] = SlotScheduler(1)
        slots.submit("a")
        slots.leave("a")
        with pytest.raises(KeyError):
            slots.leave("a")


class TestEngine:
    def test_a_repeated_prompt_prefills_only_what_the_cache_lacks(self) -> None:
        sim = engine()
        prompt = [*words("s", 40), "question", "one"]
        first = sim.arrive(prompt, 5)
        assert first.prefill is not None
        assert (first.prefill.cached_tokens, first.prefill.computed_tokens) == (0, 42)
        assert first.prefill.seconds == pytest.approx(0.042)
        sim.prefilled(first)
        sim.leave(first)
        second = sim.arrive([*words("s", 40), "question", "two", "longer"], 5)
        assert second.prefill is not None
        assert second.prefill.cached_tokens == 40  # ten full blocks of the shared prefix
        assert second.prefill.computed_tokens == 3
        snapshot = sim.snapshot()
        assert (snapshot.prefix_cache_queries, snapshot.prefix_cache_hits) == (42 + 43, 40)

    def test_a_fully_cached_prompt_still_computes_its_last_block(self) -> None:
        sim = engine()
        prompt = words("s", 16)
        sim.prefilled(sim.arrive(prompt, 1))
        again = sim.arrive(prompt, 1)
        assert again.prefill is not None
        assert (again.prefill.cached_tokens, again.prefill.computed_tokens) == (12, 4)

    def test_blocks_join_the_cache_only_once_prefilled(self) -> None:
        sim = engine()
        prompt = words("s", 16)
        sim.arrive(prompt, 1)
        concurrent = sim.arrive(prompt, 1)
        assert concurrent.prefill is not None and concurrent.prefill.cached_tokens == 0

    def test_prefix_caching_off_never_hits_nor_counts(self) -> None:
        sim = engine(enable_prefix_caching=False)
        prompt = words("s", 16)
        sim.prefilled(sim.arrive(prompt, 1))
        again = sim.arrive(prompt, 1)
        assert again.prefill is not None and again.prefill.cached_tokens == 0
        assert (sim.snapshot().prefix_cache_queries, sim.snapshot().prefix_cache_hits) == (0, 0)

    def test_the_cache_is_bounded_so_other_prompts_evict_a_prefix(self) -> None:
        sim = engine(num_gpu_blocks_override=4)
        sim.prefilled(sim.arrive(words("a", 16), 1))
        sim.prefilled(sim.arrive(words("b", 16), 1))  # four more blocks push out all of a's
        again = sim.arrive(words("a", 16), 1)
        assert again.prefill is not None and again.prefill.cached_tokens == 0

    def test_requests_beyond_max_num_seqs_wait_and_get_their_prefill_when_admitted(self) -> None:
        clock = FakeClock()
        sim = engine(clock, max_num_seqs=1)
        prompt = words("s", 8)
        running = sim.arrive(prompt, 1)
        queued = sim.arrive(prompt, 1)
        assert queued.prefill is None
        assert (sim.snapshot().running, sim.snapshot().waiting) == (1, 1)
        clock.advance(0.5)
        sim.prefilled(running)
        assert sim.leave(running) == [queued]
        assert queued.prefill is not None
        assert queued.prefill.cached_tokens == 4  # decided at admission, after the first prefilled
        assert (sim.snapshot().running, sim.snapshot().waiting) == (1, 0)

    def test_a_waiting_request_that_leaves_frees_no_slot(self) -> None:
        sim = engine(max_num_seqs=1)
        running = sim.arrive(words("s", 4), 1)
        gone = sim.arrive(words("s", 4), 1)
        later = sim.arrive(words("s", 4), 1)
        assert sim.leave(gone) == []
        assert sim.leave(running) == [later]

    def test_time_to_first_token_counts_the_wait_from_arrival(self) -> None:
        clock = FakeClock()
        sim = engine(clock)
        request = sim.arrive(words("s", 4), 1)
        clock.advance(0.3)
        sim.prefilled(request)
        ttft = sim.snapshot().time_to_first_token
        assert ttft.count == 1
        assert ttft.total == pytest.approx(0.3)
        assert ttft.cumulative[ttft.bounds.index(0.25)] == 0
        assert ttft.cumulative[ttft.bounds.index(0.5)] == 1

    def test_kv_cache_usage_counts_the_blocks_running_requests_hold(self) -> None:
        sim = engine(num_gpu_blocks_override=10)
        first = sim.arrive(words("s", 10), 2)  # 12 tokens: 3 blocks
        assert sim.snapshot().kv_cache_usage == pytest.approx(0.3)
        sim.leave(first)
        assert sim.snapshot().kv_cache_usage == 0.0
        for _ in range(5):
            sim.arrive(words("s", 10), 2)
        assert sim.snapshot().kv_cache_usage == 1.0  # held beyond capacity reads as full

    def test_decode_time_is_per_output_token(self) -> None:
        assert VllmConfig(decode_ms_per_token=20).decode_seconds(5) == pytest.approx(0.1)
