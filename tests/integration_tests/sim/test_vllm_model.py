"""The simulator as a vLLM instance over real HTTP: ChatOpenAI sees prefix-cache hits in its
usage, requests beyond `max_num_seqs` show as waiting in `/metrics`, and `/metrics` parses."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import openai
import pytest
from langchain_openai import ChatOpenAI
from prometheus_client.parser import text_string_to_metric_families

from infrastructure.llm.sim import SimServer
from infrastructure.llm.sim.vllm import VllmConfig

SYSTEM = " ".join(f"rule{i}" for i in range(200))


def metrics_url(server_url: str) -> str:
    return server_url.removesuffix("/v1") + "/metrics"


def scrape(server_url: str) -> dict[str, float]:
    """Every non-bucket sample of one `/metrics` scrape, by sample name."""
    with urllib.request.urlopen(metrics_url(server_url), timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.name.endswith("_bucket")
    }


def chat(server: SimServer) -> ChatOpenAI:
    return ChatOpenAI(
        base_url=server.base_url, api_key="sk-test", model="sim-model", max_retries=0, timeout=30
    )


def wait_until(condition: object, timeout: float = 10.0) -> None:
    """Poll `condition()` until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail("condition never held")
        time.sleep(0.01)


@pytest.fixture
def vllm_sim() -> Iterator[SimServer]:
    config = VllmConfig(prefill_ms_per_token=0.01, decode_ms_per_token=0.1)
    with SimServer(vllm=config) as server:
        yield server


def test_a_repeated_long_prefix_is_served_from_the_prefix_cache(vllm_sim: SimServer) -> None:
    llm = chat(vllm_sim)
    fresh = llm.invoke([("system", SYSTEM), ("user", "first question")])
    repeated = llm.invoke([("system", SYSTEM), ("user", "a second, different question")])
    assert fresh.usage_metadata is not None and repeated.usage_metadata is not None
    assert fresh.usage_metadata["input_token_details"]["cache_read"] == 0
    assert repeated.usage_metadata["input_token_details"]["cache_read"] == 192  # 12 full blocks
    stats = scrape(vllm_sim.base_url)
    assert stats["vllm:prefix_cache_hits_total"] == 192
    assert stats["vllm:prefix_cache_queries_total"] == 202 + 204
    assert stats["vllm:time_to_first_token_seconds_count"] == 2


def test_a_streamed_answer_reports_the_cache_hit_too(vllm_sim: SimServer) -> None:
    llm = chat(vllm_sim)
    llm.invoke([("system", SYSTEM), ("user", "warm the cache")])
    chunks = list(llm.stream([("system", SYSTEM), ("user", "now stream")], stream_usage=True))
    usage = [c.usage_metadata for c in chunks if c.usage_metadata]
    assert usage and usage[-1]["input_token_details"]["cache_read"] == 192
    assert "".join(str(c.content) for c in chunks) == "Simulated reply to: now stream"


def test_requests_beyond_max_num_seqs_wait_and_show_in_metrics() -> None:
    config = VllmConfig(max_num_seqs=1, prefill_ms_per_token=0, decode_ms_per_token=250)
    with SimServer(vllm=config) as server:
        llm = chat(server)
        answers: list[str] = []
        callers = [
            threading.Thread(
                target=lambda: answers.append(str(llm.invoke("hold the slot").content))
            )
            for _ in range(3)
        ]
        for caller in callers:
            caller.start()
        wait_until(lambda: scrape(server.base_url)["vllm:num_requests_waiting"] == 2)
        stats = scrape(server.base_url)
        assert stats["vllm:num_requests_running"] == 1
        assert 0 < stats["vllm:kv_cache_usage_perc"] == stats["vllm:gpu_cache_usage_perc"] <= 1
        for caller in callers:
            caller.join(30)
        assert answers == ["Simulated reply to: hold the slot"] * 3
        stats = scrape(server.base_url)
        assert (stats["vllm:num_requests_running"], stats["vllm:num_requests_waiting"]) == (0, 0)
        assert stats["vllm:kv_cache_usage_perc"] == 0


def test_a_client_leaving_the_queue_frees_its_place() -> None:
    config = VllmConfig(max_num_seqs=1, prefill_ms_per_token=0, decode_ms_per_token=200)
    with SimServer(vllm=config) as server:
        holder = threading.Thread(target=lambda: chat(server).invoke("hold the slot"))
        holder.start()
        wait_until(lambda: scrape(server.base_url)["vllm:num_requests_running"] == 1)
        impatient = ChatOpenAI(
            base_url=server.base_url, api_key="sk-test", model="m", max_retries=0, timeout=0.3
        )
        with pytest.raises(openai.APITimeoutError):
            impatient.invoke("give up waiting")
        wait_until(lambda: server.stats.cancelled == 1)
        assert scrape(server.base_url)["vllm:num_requests_waiting"] == 0
        holder.join(30)
        assert server.stats.completed == 1


def test_metrics_is_404_without_a_vllm_model() -> None:
    with SimServer() as server:
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(metrics_url(server.base_url), timeout=5)
        assert info.value.code == 404


def test_cli_instances_take_their_own_vllm_settings() -> None:
    command = [
        sys.executable,
        "-m",
        "infrastructure.llm.sim",
        "--instances",
        "healthy,healthy",
        "--prefill-ms-per-token",
        "0",
        "--decode-ms-per-token",
        "0",
        "--vllm-instance",
        "1:enable_prefix_caching=false",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        urls = [process.stdout.readline().split("\t")[1].strip() for _ in range(2)]
        hits = []
        for url in urls:
            llm = ChatOpenAI(base_url=url, api_key="sk-test", model="m", max_retries=0, timeout=10)
            for question in ("one", "two"):
                llm.invoke([("system", SYSTEM), ("user", question)])
            hits.append(scrape(url)["vllm:prefix_cache_hits_total"])
        assert hits == [192, 0]
    finally:
        process.terminate()
        process.wait(timeout=10)
