"""Every fault mode, observed the way a client sees it: through the real openai/ChatOpenAI."""

from __future__ import annotations

import json
import random
import socket
import threading
import time
import urllib.error
import urllib.request

import openai
import pytest
from langchain_openai import ChatOpenAI

from infrastructure.llm.sim import FaultMode, SimServer

USER = [{"role": "user", "content": "one two three four five six"}]


def _client(sim: SimServer, timeout: float = 5.0) -> openai.OpenAI:
    return openai.OpenAI(base_url=sim.base_url, api_key="k", max_retries=0, timeout=timeout)


def _health_status(sim: SimServer, timeout: float = 5.0) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{sim.port}/health", timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as error:
        return error.code


def test_slow_applies_the_configured_latency() -> None:
    with SimServer(FaultMode("slow", latency=0.2)) as sim:
        client = _client(sim)
        started = time.monotonic()
        client.chat.completions.create(model="m", messages=USER)
        assert time.monotonic() - started >= 0.2
        started = time.monotonic()
        assert _health_status(sim) == 200
        assert time.monotonic() - started >= 0.2  # health checks see the slowness too


def test_slow_range_stays_above_its_lower_bound() -> None:
    with SimServer(FaultMode("slow", latency=0.05, latency_max=0.15, seed=3)) as sim:
        client = _client(sim)
        for _ in range(3):
            started = time.monotonic()
            client.chat.completions.create(model="m", messages=USER)
            assert time.monotonic() - started >= 0.05


def test_error_rate_with_a_seed_fails_a_deterministic_set_of_calls() -> None:
    calls, rate, seed = 40, 0.3, 11
    expected_rng = random.Random(seed)
    expected = [expected_rng.random() < rate for _ in range(calls)]
    with SimServer(FaultMode("error_rate", error_rate=rate, seed=seed)) as sim:
        client = _client(sim)
        outcomes = []
        for _ in range(calls):
            _health_status(sim)  # probes draw from their own RNG: no effect on the sequence
            try:
                client.chat.completions.create(model="m", messages=USER)
                outcomes.append(False)
            except openai.InternalServerError as error:
                assert error.status_code == 500
                assert error.body == {
                    "message": "simulated server error",
                    "type": "server_error",
                    "param": None,
                    "code": None,
                }
                outcomes.append(True)
        assert outcomes == expected
        assert 0 < sum(outcomes) < calls
        stats = sim.stats
        assert (stats.requests, stats.errors_sent) == (calls, sum(outcomes))
        assert stats.completed == calls - sum(outcomes)


def test_error_rate_one_fails_health_checks_too() -> None:
    with SimServer(FaultMode("error_rate", error_rate=1.0)) as sim:
        assert _health_status(sim) == 500
        with pytest.raises(openai.InternalServerError):
            _client(sim).models.list()


def test_rate_limit_sends_429_with_retry_after() -> None:
    with SimServer(FaultMode.parse("rate_limit:2")) as sim:
        with pytest.raises(openai.RateLimitError) as info:
            _client(sim).chat.completions.create(model="m", messages=USER)
        assert info.value.response.headers["retry-after"] == "2"
        assert info.value.body is not None and info.value.body["type"] == "rate_limit_error"
        assert sim.stats.errors_sent == 1
        assert _health_status(sim) == 200  # the instance is alive, only busy


def test_hang_times_the_client_out_and_counts_the_cancel() -> None:
    with SimServer(FaultMode("hang")) as sim:
        with pytest.raises(openai.APITimeoutError):
            _client(sim, timeout=0.3).chat.completions.create(model="m", messages=USER)
        stats = sim.wait_for(lambda s: s.cancelled == 1, timeout=5)
        assert (stats.requests, stats.in_flight, stats.peak_in_flight) == (1, 0, 1)
        with pytest.raises(TimeoutError):
            _health_status(sim, timeout=0.3)  # health checks hang too


def test_hang_through_chat_openai_timeout() -> None:
    with SimServer(FaultMode("hang")) as sim:
        model = ChatOpenAI(
            model="m", base_url=sim.base_url, api_key="k", max_retries=0, timeout=0.3
        )
        with pytest.raises(openai.APITimeoutError):
            model.invoke("hello")
        sim.wait_for(lambda s: s.cancelled == 1, timeout=5)


def test_stop_releases_hung_requests() -> None:
    sim = SimServer(FaultMode("hang")).start()
    errors: list[Exception] = []

    def call() -> None:
        try:
            _client(sim, timeout=30).chat.completions.create(model="m", messages=USER)
        except openai.APIError as error:
            errors.append(error)

    caller = threading.Thread(target=call)
    caller.start()
    sim.wait_for(lambda s: s.in_flight == 1, timeout=5)
    sim.stop()
    caller.join(timeout=5)
    assert not caller.is_alive()
    assert isinstance(errors[0], openai.APIConnectionError)


def test_cut_stream_breaks_after_n_chunks() -> None:
    with SimServer(FaultMode.parse("cut_stream:3")) as sim:
        received = []
        stream = _client(sim).chat.completions.create(model="m", messages=USER, stream=True)
        with pytest.raises(openai.APIConnectionError):
            for chunk in stream:
                received.append(chunk.choices[0].delta.content)
        assert received == ["Simulated ", "reply ", "to: "]
        with pytest.raises(openai.APIConnectionError):
            _client(sim).chat.completions.create(model="m", messages=USER)
        assert sim.stats.cut == 2


def test_cut_stream_through_chat_openai_keeps_the_partial_text() -> None:
    with SimServer(FaultMode("cut_stream", cut_after=2)) as sim:
        model = ChatOpenAI(model="m", base_url=sim.base_url, api_key="k", max_retries=0)
        texts: list[str] = []
        with pytest.raises(openai.APIConnectionError):
            for chunk in model.stream("hello"):
                texts.append(chunk.text)
        assert "".join(texts) == "Simulated reply "


def test_refuse_closes_the_port_and_healthy_rebinds_it() -> None:
    with SimServer() as sim:
        client = _client(sim)
        assert client.chat.completions.create(model="m", messages=USER).choices  # pooled conn
        port = sim.port
        sim.set_fault(FaultMode("refuse"))
        with pytest.raises(openai.APIConnectionError):
            client.chat.completions.create(model="m", messages=USER)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        sim.set_fault(FaultMode("healthy"))
        assert sim.port == port
        assert client.chat.completions.create(model="m", messages=USER).choices


def test_starting_in_refuse_mode_reserves_a_port() -> None:
    with SimServer(FaultMode("refuse")) as sim:
        assert sim.port > 0
        with pytest.raises(openai.APIConnectionError):
            _client(sim).chat.completions.create(model="m", messages=USER)
        sim.set_fault(FaultMode("healthy"))
        assert _health_status(sim) == 200


def test_client_that_stops_reading_a_paced_stream_is_counted_cancelled() -> None:
    with SimServer(FaultMode(chunk_delay=0.05)) as sim:
        stream = _client(sim).chat.completions.create(model="m", messages=USER, stream=True)
        iterator = iter(stream)
        first = next(iterator)
        assert first.choices[0].delta.content == "Simulated "
        stream.close()
        stats = sim.wait_for(lambda s: s.cancelled == 1, timeout=5)
        assert stats.completed == 0


def test_paced_stream_completes_when_read_to_the_end() -> None:
    with SimServer(FaultMode(chunk_delay=0.01)) as sim:
        stream = _client(sim).chat.completions.create(model="m", messages=USER, stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in stream)
        assert text == "Simulated reply to: one two three four five six"
        assert sim.wait_for(lambda s: s.completed == 1, timeout=5).cancelled == 0


def test_set_fault_switches_behaviour_at_runtime(sim: SimServer) -> None:
    client = _client(sim)
    client.chat.completions.create(model="m", messages=USER)
    sim.set_fault(FaultMode("error_rate", error_rate=1.0))
    assert sim.fault.mode == "error_rate"
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="m", messages=USER)
    sim.set_fault(FaultMode())
    client.chat.completions.create(model="m", messages=USER)
    assert (sim.stats.completed, sim.stats.errors_sent) == (2, 1)
    sim.reset_stats()
    assert sim.stats.requests == 0


def test_lifecycle_guards(sim: SimServer) -> None:
    with pytest.raises(RuntimeError, match="already running"):
        sim.start()
    port = sim.port
    sim.stop()
    sim.stop()  # idempotent
    sim.start()  # restarts on the same port
    assert sim.port == port
    assert _health_status(sim) == 200
    with pytest.raises(TimeoutError, match="never matched"):
        sim.wait_for(lambda s: s.requests > 0, timeout=0.05)


def test_bad_http_is_answered_and_closed(sim: SimServer) -> None:
    with socket.create_connection(("127.0.0.1", sim.port), timeout=5) as sock:
        sock.sendall(b"NONSENSE\r\n\r\n")
        reply = sock.recv(65536)
    status, _, rest = reply.partition(b"\r\n")
    assert status == b"HTTP/1.1 400 Bad Request"
    body = json.loads(rest.split(b"\r\n\r\n", 1)[1])
    assert "malformed request line" in body["error"]["message"]
