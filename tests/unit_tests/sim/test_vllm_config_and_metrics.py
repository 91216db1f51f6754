"""The simulated vLLM's parameters (validation, `key=value` options, CLI flags) and its
`/metrics` text, parsed with prometheus_client's parser."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from infrastructure.llm.clock import FakeClock
from infrastructure.llm.sim.cli import _parser, _vllm_configs, main
from infrastructure.llm.sim.vllm import VllmConfig, VllmEngine
from infrastructure.llm.sim.vllm.histogram import Histogram
from infrastructure.llm.sim.vllm.metrics import render_metrics


class TestConfig:
    def test_options_override_fields_by_vllm_name(self) -> None:
        config = VllmConfig().with_options(
            "max_num_seqs=4, enable_prefix_caching=false,decode_ms_per_token=2.5"
        )
        assert config.max_num_seqs == 4
        assert config.enable_prefix_caching is False
        assert config.decode_ms_per_token == 2.5

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("max_num_seq=4", "unknown vLLM option 'max_num_seq'"),
            ("max_num_seqs", "expected key=value, got 'max_num_seqs'"),
            ("max_num_seqs=four", "max_num_seqs cannot be 'four'"),
            ("max_num_seqs=0", "max_num_seqs must be a whole number >= 1, got 0"),
            ("enable_prefix_caching=maybe", "enable_prefix_caching cannot be 'maybe'"),
            ("prefill_ms_per_token=-1", "prefill_ms_per_token must be a number >= 0"),
        ],
    )
    def test_bad_options_name_the_field_and_the_text(self, text: str, message: str) -> None:
        with pytest.raises(ValueError, match=message) as info:
            VllmConfig().with_options(text)
        assert repr(text) in str(info.value)

    def test_construction_validates_too(self) -> None:
        with pytest.raises(ValueError, match="block_size must be a whole number >= 1"):
            VllmConfig(block_size=0)


class TestCli:
    def parse(self, *argv: str) -> list[VllmConfig | None]:
        args = _parser().parse_args(list(argv))
        return _vllm_configs(args, len(args.instances or [args.mode]))

    def test_without_vllm_flags_instances_are_plain(self) -> None:
        assert self.parse("--instances", "healthy,healthy") == [None, None]

    def test_common_flags_apply_to_all_and_an_instance_can_differ(self) -> None:
        first, second, third = self.parse(
            "--instances",
            "healthy,healthy,slow:0.1",
            "--max-num-seqs",
            "8",
            "--no-enable-prefix-caching",
            "--vllm-instance",
            "1:decode_ms_per_token=40,max_num_seqs=2",
        )
        assert first == third == VllmConfig(max_num_seqs=8, enable_prefix_caching=False)
        assert second == VllmConfig(
            max_num_seqs=2, enable_prefix_caching=False, decode_ms_per_token=40
        )

    def test_plain_vllm_flag_uses_the_defaults(self) -> None:
        assert self.parse("--vllm") == [VllmConfig()]

    @pytest.mark.parametrize(
        ("override", "message"),
        [
            ("5:max_num_seqs=2", "there are only 2 instances"),
            ("max_num_seqs=2", "expected N:key=value"),
            ("0:max_num_seqs=x", "max_num_seqs cannot be 'x'"),
        ],
    )
    def test_bad_instance_settings_exit_with_a_message(
        self, override: str, message: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        with pytest.raises(SystemExit) as info:
            main(["--instances", "healthy,healthy", "--vllm-instance", override])
        assert info.value.code == 2
        error = capsys.readouterr().err
        assert message in error and repr(override) in error

    def test_flags_are_named_as_vllm_names_them(self) -> None:
        flags = {a for action in _parser()._actions for a in action.option_strings}
        assert {"--max-num-seqs", "--block-size", "--num-gpu-blocks-override"} <= flags
        assert {"--enable-prefix-caching", "--no-enable-prefix-caching"} <= flags


class TestMetricsText:
    def test_a_scrape_parses_with_vllm_names_and_the_model_label(self) -> None:
        clock = FakeClock()
        engine = VllmEngine(
            VllmConfig(max_num_seqs=1, block_size=4, num_gpu_blocks_override=8), clock
        )
        prompt = [f"w{i}" for i in range(9)]
        first = engine.arrive(prompt, 3)
        engine.arrive(prompt, 3)
        clock.advance(0.02)
        engine.prefilled(first)
        engine.leave(first)  # the second is admitted: 8 of its 9 tokens cached
        families = {
            family.name: family
            for family in text_string_to_metric_families(
                render_metrics(engine.snapshot(), 'org/model "7b"').decode()
            )
        }
        values = {
            sample.name: sample.value
            for family in families.values()
            for sample in family.samples
            if not sample.name.endswith("_bucket")
        }
        assert values["vllm:num_requests_running"] == 1
        assert values["vllm:num_requests_waiting"] == 0
        assert values["vllm:gpu_cache_usage_perc"] == values["vllm:kv_cache_usage_perc"] == 3 / 8
        assert values["vllm:prefix_cache_queries_total"] == 18
        assert values["vllm:prefix_cache_hits_total"] == 8
        assert values["vllm:time_to_first_token_seconds_count"] == 1
        assert values["vllm:time_to_first_token_seconds_sum"] == pytest.approx(0.02)
        assert families["vllm:prefix_cache_hits"].type == "counter"
        assert families["vllm:time_to_first_token_seconds"].type == "histogram"
        labels = {s.labels["model_name"] for f in families.values() for s in f.samples}
        assert labels == {'org/model "7b"'}


class TestHistogram:
    def test_a_value_on_a_bound_counts_in_that_bucket(self) -> None:
        histogram = Histogram((0.1, 0.5))
        for value in (0.1, 0.3, 7.0):
            histogram.observe(value)
        snapshot = histogram.snapshot()
        assert snapshot.cumulative == (1, 2, 3)
        assert snapshot.bounds[-1] == float("inf")

    def test_bounds_must_increase(self) -> None:
        with pytest.raises(ValueError, match="must increase"):
            Histogram((0.5, 0.1))
