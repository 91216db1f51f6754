"""bench/fleet.py: its figures from synthetic calls, the goals' verdicts, skipping rotations a
build lacks, and the simulator flags of the skewed workload (parsed by the simulator's CLI)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

from infrastructure.llm.sim.cli import _parser, _vllm_configs

BENCH = Path(__file__).resolve().parents[3] / "bench"
sys.path.insert(0, str(BENCH))  # bench/ is a folder of scripts, not a package

import fleet  # noqa: E402


def call(ttft: float, latency: float, started: float = 0.0, cached: int = 0) -> object:
    return fleet.Call(ttft, latency, started, started + latency, 100, cached, "reply")


FAILED = fleet.Call(math.nan, math.nan, 0.0, 0.0, 0, 0, "")


def test_figures_leave_failed_calls_out() -> None:
    run = fleet.Run("round_robin", "a", [call(0.1, 0.3), call(0.3, 0.5, 1.0, cached=50), FAILED])
    assert run.figure("ttft_mean") == pytest.approx(0.2)
    assert run.figure("latency_p99") == pytest.approx(0.5)
    assert run.throughput == pytest.approx(2 / 1.5)
    assert run.cached_share == pytest.approx(0.25)
    assert len(run.done) == 2


def test_goals_give_every_runs_ratio_and_judge_the_median(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def runs(contender: str, workload: str, ttft: list[float]) -> list[object]:
        return [fleet.Run(contender, workload, [call(t, 1.0)]) for t in ttft]

    results = {
        "a": {
            "round_robin": runs("round_robin", "a", [1.0, 1.0, 1.0]),
            "prefix_affinity": runs("prefix_affinity", "a", [0.5, 0.7, 0.55]),
            "least_loaded": runs("least_loaded", "a", [1.2, 1.1, 1.3]),
        }
    }
    fleet.print_goals(results)
    lines = capsys.readouterr().out.splitlines()
    assert (
        "  prefix_affinity mean TTFT on (a) <= 0.6x: met (median 0.55; runs 0.50, 0.70, 0.55)"
        in lines
    )
    assert any(
        "least_loaded mean TTFT on (a) <= 1.05x: NOT met (median 1.20" in line for line in lines
    )
    assert "  least_loaded p99 latency on (b): not measured" in lines


def test_unknown_rotations_are_skipped_with_a_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert fleet.available(["round_robin", "no_such_rotation"]) == ["round_robin"]
    assert "skipped: rotation 'no_such_rotation' is not in this build" in capsys.readouterr().out


def test_the_skewed_workload_slows_exactly_its_slow_instances() -> None:
    names = ",".join(["healthy"] * fleet.INSTANCES)
    args = _parser().parse_args(["--instances", names, *fleet.WORKLOADS["b"].options])
    configs = _vllm_configs(args, fleet.INSTANCES)
    slow = [i for i, c in enumerate(configs) if c.decode_ms_per_token > fleet.DECODE_MS_PER_TOKEN]
    assert slow == list(fleet.SLOW)
    for index in fleet.SLOW:
        assert configs[index].prefill_ms_per_token == pytest.approx(
            fleet.PREFILL_MS_PER_TOKEN * fleet.SLOWDOWN
        )
    assert {c.max_num_seqs for c in configs} == {fleet.SKEWED_SEQS}
