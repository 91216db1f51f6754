"""The misbehaving-server modes (drip, junk 200s, status, hang_chat, echo_auth), observed the
way a client sees them: through the real openai client and ChatOpenAI, without retries.

What each client raises or returns is asserted exactly, since error classification relies
on it. Note the drip results: the `timeout` of openai/httpx bounds each read, not the whole
answer, so a body dripping faster than the timeout is never cut off by it.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import httpx
import openai
import pytest
from langchain_core.exceptions import ModelAuthenticationError, ModelInvalidRequestError
from langchain_openai import ChatOpenAI

from infrastructure.llm.sim import FaultMode, SimServer

from conftest import StartSim

USER = [{"role": "user", "content": "hello"}]


def _client(sim: SimServer, timeout: float = 5.0, api_key: str = "sk-test") -> openai.OpenAI:
    return openai.OpenAI(base_url=sim.base_url, api_key=api_key, max_retries=0, timeout=timeout)


def _chat(sim: SimServer, timeout: float = 5.0, **params: Any) -> ChatOpenAI:
    return ChatOpenAI(
        model="sim-model",
        base_url=sim.base_url,
        api_key="sk-test",
        max_retries=0,
        timeout=timeout,
        **params,
    )


def _probe_status(sim: SimServer, path: str, timeout: float = 2.0) -> int:
    try:
        with urllib.request.urlopen(f"{sim.base_url}{path}", timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _assert_probes_answer(sim: SimServer) -> None:
    started = time.monotonic()
    assert _probe_status(sim, "/models") == 200
    assert _probe_status(sim, "/health") == 200
    assert time.monotonic() - started < 0.5


# --- drip ------------------------------------------------------------------------------------


def test_drip_sends_the_head_at_once_then_one_byte_per_pause(start_sim: StartSim) -> None:
    sim = start_sim("drip:0.05")
    started = time.monotonic()
    with (
        httpx.Client(timeout=5) as http,
        http.stream("POST", f"{sim.base_url}/chat/completions", json={"messages": USER}) as r,
    ):
        assert time.monotonic() - started < 0.2
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/json"
        assert int(r.headers["content-length"]) > 100
        pieces = []
        for piece in r.iter_raw():
            pieces.append(piece)
            if len(pieces) == 3:
                break
    assert pieces == [b"{", b'"', b"i"]
    assert time.monotonic() - started >= 0.1
    assert sim.wait_for(lambda s: s.cancelled == 1).completed == 0
    _assert_probes_answer(sim)


def test_drip_body_is_a_whole_completion_of_the_announced_length(start_sim: StartSim) -> None:
    sim = start_sim("drip:0.001", reply="ok")
    response = httpx.post(f"{sim.base_url}/chat/completions", json={"messages": USER}, timeout=5)
    assert len(response.content) == int(response.headers["content-length"])
    assert response.json()["choices"][0]["message"]["content"] == "ok"
    assert sim.stats.completed == 1


def test_drip_slower_than_the_read_timeout_times_the_client_out(start_sim: StartSim) -> None:
    sim = start_sim("drip:0.4")
    with pytest.raises(openai.APITimeoutError):
        _client(sim, timeout=0.15).chat.completions.create(model="m", messages=USER)
    with pytest.raises(openai.APITimeoutError):
        _chat(sim, timeout=0.15).invoke("hello")
    with pytest.raises(openai.APITimeoutError):
        list(_chat(sim, timeout=0.15).stream("hello"))
    stats = sim.wait_for(lambda s: s.cancelled == 3)
    assert (stats.requests, stats.completed, stats.in_flight) == (3, 0, 0)


def test_drip_faster_than_the_read_timeout_outlasts_it_unnoticed(start_sim: StartSim) -> None:
    sim = start_sim("drip:0.001", reply="ok")
    started = time.monotonic()
    result = _client(sim, timeout=0.1).chat.completions.create(model="m", messages=USER)
    assert time.monotonic() - started > 0.2  # twice the timeout, yet no APITimeoutError
    assert result.choices[0].message.content == "ok"


def test_drip_stream_delivers_every_sse_byte_then_completes(start_sim: StartSim) -> None:
    sim = start_sim("drip:0.001", reply="ok")
    stream = _client(sim).chat.completions.create(model="m", messages=USER, stream=True)
    deltas = [chunk.choices[0].delta.content for chunk in stream]
    assert deltas == ["ok", None]
    assert sim.wait_for(lambda s: s.completed == 1).cancelled == 0


# --- junk 200s -------------------------------------------------------------------------------


def test_html_reaches_the_openai_client_as_a_plain_string(start_sim: StartSim) -> None:
    sim = start_sim("html")
    result: Any = _client(sim).chat.completions.create(model="m", messages=USER)
    assert isinstance(result, str)
    assert result.startswith("<!DOCTYPE html>") and "502 Bad Gateway" in result
    raw = httpx.post(f"{sim.base_url}/chat/completions", json={"messages": USER}, timeout=5)
    assert (raw.status_code, raw.headers["content-type"]) == (200, "text/html; charset=utf-8")
    assert sim.stats.junk == 2
    _assert_probes_answer(sim)


def test_html_makes_chat_openai_raise_value_error(start_sim: StartSim) -> None:
    sim = start_sim("html")
    with pytest.raises(ValueError, match="Unexpected response type from OpenAI-compatible"):
        _chat(sim).invoke("hello")


def test_no_choices_gives_a_completion_whose_choices_are_none(start_sim: StartSim) -> None:
    sim = start_sim("no_choices")
    result = _client(sim).chat.completions.create(model="asked-model", messages=USER)
    assert (result.object, result.model, result.choices) == ("chat.completion", "asked-model", None)
    with pytest.raises(TypeError, match="null value for 'choices'"):
        _chat(sim).invoke("hello")
    assert sim.stats.junk == 2


def test_bad_json_raises_json_decode_error_not_an_api_error(start_sim: StartSim) -> None:
    sim = start_sim("bad_json")
    with pytest.raises(json.JSONDecodeError) as sdk_error:
        _client(sim).chat.completions.create(model="m", messages=USER)
    assert not isinstance(sdk_error.value, openai.APIError)
    with pytest.raises(json.JSONDecodeError):
        _chat(sim).invoke("hello")
    raw = httpx.post(f"{sim.base_url}/chat/completions", json={"messages": USER}, timeout=5)
    assert raw.headers["content-type"] == "application/json"
    assert sim.stats.junk == 3


def test_empty_stream_ends_without_a_chunk(start_sim: StartSim) -> None:
    sim = start_sim("empty_stream")
    stream = _client(sim).chat.completions.create(model="m", messages=USER, stream=True)
    assert list(stream) == []  # no exception: the stream just ends
    with pytest.raises(ValueError, match="No generation chunks were returned"):
        list(_chat(sim).stream("hello"))
    with pytest.raises(ValueError, match="No generations found in stream"):
        _chat(sim, streaming=True).invoke("hello")
    assert _client(sim).chat.completions.create(model="m", messages=USER).choices is None
    assert sim.stats.junk == 4
    _assert_probes_answer(sim)


@pytest.mark.parametrize("mode", ["html", "no_choices", "bad_json"])
def test_other_junk_modes_give_streams_no_chunks(start_sim: StartSim, mode: str) -> None:
    sim = start_sim(mode)
    stream = _client(sim).chat.completions.create(model="m", messages=USER, stream=True)
    assert list(stream) == []  # the body has no `data:` lines: the SDK sees an empty stream
    with pytest.raises(ValueError, match="No generation chunks were returned"):
        list(_chat(sim).stream("hello"))
    assert sim.stats.junk == 2


@pytest.mark.parametrize(
    ("mode", "error", "message"),
    [
        ("html", ValueError, "Unexpected response type from OpenAI-compatible"),
        ("no_choices", TypeError, "null value for 'choices'"),
        ("bad_json", json.JSONDecodeError, "Unterminated string"),
        ("empty_stream", TypeError, "null value for 'choices'"),
    ],
)
async def test_async_chat_openai_sees_junk_like_the_sync_one(
    start_sim: StartSim, mode: str, error: type[Exception], message: str
) -> None:
    sim = start_sim(mode)
    with pytest.raises(error, match=message):
        await _chat(sim).ainvoke("hello")
    with pytest.raises(ValueError, match="No generation chunks were returned"):
        [chunk async for chunk in _chat(sim).astream("hello")]


# --- status ----------------------------------------------------------------------------------


def test_status_400_gives_bad_request_with_the_gateway_message(start_sim: StartSim) -> None:
    sim = start_sim("status:400:No connected db.")
    with pytest.raises(openai.BadRequestError) as sdk_error:
        _client(sim).chat.completions.create(model="m", messages=USER)
    assert sdk_error.value.status_code == 400
    assert sdk_error.value.body == {
        "message": "No connected db.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    with pytest.raises(openai.BadRequestError) as chat_error:
        _chat(sim).invoke("hello")
    assert isinstance(chat_error.value, ModelInvalidRequestError)  # langchain-openai's wrapper
    assert "No connected db." in str(chat_error.value)
    assert sim.stats.errors_sent == 2
    _assert_probes_answer(sim)


def test_status_without_message_sends_the_reason_phrase(start_sim: StartSim) -> None:
    sim = start_sim("status:422")
    with pytest.raises(openai.UnprocessableEntityError) as sdk_error:
        _client(sim).chat.completions.create(model="m", messages=USER)
    assert sdk_error.value.message == "Error code: 422 - Unprocessable Entity"
    with pytest.raises(openai.UnprocessableEntityError):
        _chat(sim).invoke("hello")


def test_status_accepts_unregistered_codes(start_sim: StartSim) -> None:
    sim = start_sim("status:529:overloaded")
    with pytest.raises(openai.InternalServerError) as sdk_error:
        _client(sim).chat.completions.create(model="m", messages=USER)
    assert sdk_error.value.status_code == 529
    assert sdk_error.value.body is not None and sdk_error.value.body["type"] == "server_error"


def test_set_fault_switches_to_and_from_status(start_sim: StartSim) -> None:
    sim = start_sim()
    client = _client(sim)
    client.chat.completions.create(model="m", messages=USER)
    sim.set_fault(FaultMode.parse("status:400:No connected db."))
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="m", messages=USER)
    sim.set_fault(FaultMode.parse("healthy"))
    assert client.chat.completions.create(model="m", messages=USER).choices
    assert (sim.stats.completed, sim.stats.errors_sent) == (2, 1)


# --- hang_chat -------------------------------------------------------------------------------


def test_hang_chat_hangs_completions_while_probes_answer(start_sim: StartSim) -> None:
    sim = start_sim("hang_chat")
    client = _client(sim, timeout=0.2)
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="m", messages=USER)
    assert [model.id for model in client.models.list()] == ["sim-model"]
    with pytest.raises(openai.APITimeoutError):
        _chat(sim, timeout=0.2).invoke("hello")
    _assert_probes_answer(sim)
    stats = sim.wait_for(lambda s: s.cancelled == 2)
    assert (stats.requests, stats.in_flight) == (2, 0)


def test_set_fault_to_hang_chat_at_runtime(start_sim: StartSim) -> None:
    sim = start_sim()
    sim.set_fault(FaultMode.parse("hang_chat"))
    with pytest.raises(openai.APITimeoutError):
        _client(sim, timeout=0.2).chat.completions.create(model="m", messages=USER)
    sim.set_fault(FaultMode.parse("healthy"))
    assert _client(sim).chat.completions.create(model="m", messages=USER).choices


# --- echo_auth -------------------------------------------------------------------------------


def test_echo_auth_repeats_the_authorization_header_in_the_401(start_sim: StartSim) -> None:
    sim = start_sim("echo_auth")
    secret = "sk-live-very-secret-123"
    with pytest.raises(openai.AuthenticationError) as sdk_error:
        _client(sim, api_key=secret).chat.completions.create(model="m", messages=USER)
    assert sdk_error.value.status_code == 401
    assert f"Authorization header: Bearer {secret}" in sdk_error.value.message
    model = ChatOpenAI(model="m", base_url=sim.base_url, api_key=secret, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as chat_error:
        model.invoke("hello")
    assert isinstance(chat_error.value, ModelAuthenticationError)
    assert f"Bearer {secret}" in str(chat_error.value)
    assert sim.stats.errors_sent == 2
    _assert_probes_answer(sim)


def test_echo_auth_without_a_header_says_so(start_sim: StartSim) -> None:
    sim = start_sim("echo_auth")
    raw = httpx.post(f"{sim.base_url}/chat/completions", json={"messages": USER}, timeout=5)
    assert raw.status_code == 401
    assert raw.json()["error"]["message"] == "Unauthorized: no Authorization header"
