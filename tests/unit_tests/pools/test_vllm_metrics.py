"""Reading load out of vLLM's Prometheus text: the samples used, labels, odd lines."""

from __future__ import annotations

from infrastructure.llm.fleet.vllm_metrics import parse_load
from infrastructure.llm.resilience.records import LoadRecord

PAGE = """\
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="llama"} 3.0
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="llama"} 7.0
vllm:kv_cache_usage_perc{engine="0",model_name="llama"} 0.42
vllm:prefix_cache_queries_total{engine="0",model_name="llama"} 200.0
vllm:prefix_cache_hits_total{engine="0",model_name="llama"} 50.0
python_gc_objects_collected_total{generation="0"} 123.0
"""


def test_reads_running_waiting_usage_and_hit_rate() -> None:
    assert parse_load(PAGE, "llama") == LoadRecord(
        running=3.0, waiting=7.0, kv_cache_usage=0.42, prefix_cache_hit_rate=0.25
    )


def test_samples_of_the_instances_model_win_over_others() -> None:
    page = PAGE + 'vllm:num_requests_waiting{model_name="other"} 100\n'
    assert parse_load(page, "llama").waiting == 7.0  # type: ignore[union-attr]


def test_without_a_matching_model_label_every_sample_is_summed() -> None:
    page = 'vllm:num_requests_running 2\nvllm:num_requests_running{engine="1"} 3\n'
    record = parse_load(page, "llama")
    assert record == LoadRecord(running=5.0, waiting=0.0)


def test_older_gpu_cache_gauge_is_read_too() -> None:
    page = (
        'vllm:num_requests_waiting{model_name="m"} 1\n'
        'vllm:gpu_cache_usage_perc{model_name="m"} 0.9\n'
    )
    assert parse_load(page, "m").kv_cache_usage == 0.9  # type: ignore[union-attr]


def test_a_page_without_queue_gauges_is_no_reading() -> None:
    assert parse_load("# nothing here\nprocess_cpu_seconds_total 1.5\n", "m") is None
    assert parse_load("", "m") is None


def test_bad_lines_are_skipped_and_values_clamped() -> None:
    page = "\n".join(
        [
            'vllm:num_requests_running{model_name="m"} not-a-number',
            'vllm:num_requests_running{model_name="m"} NaN',
            'vllm:num_requests_running{model_name="m"} 4 1700000000000',
            'vllm:num_requests_waiting{model_name="m" 9',  # unclosed labels
            'vllm:num_requests_waiting{model_name="m"} -2',
            'vllm:kv_cache_usage_perc{model_name="m"} 1.7',
        ]
    )
    assert parse_load(page, "m") == LoadRecord(running=4.0, waiting=0.0, kv_cache_usage=1.0)


def test_label_values_with_escaped_quotes_and_commas() -> None:
    name = 'we"ird, model'
    page = 'vllm:num_requests_waiting{model_name="we\\"ird, model",engine="0"} 6\n'
    assert parse_load(page, name).waiting == 6.0  # type: ignore[union-attr]
