"""Request capture: what clients sent, as `SimServer.requests` shows it."""

from __future__ import annotations

import httpx
import openai
import pytest
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from infrastructure.llm.sim import CapturedRequest, SimServer

from conftest import StartSim

USER = [{"role": "user", "content": "hello"}]


class Answer(BaseModel):
    text: str


def _client(sim: SimServer, **params: object) -> openai.OpenAI:
    return openai.OpenAI(base_url=sim.base_url, api_key="sk-capture", max_retries=0, **params)


def _chat(sim: SimServer) -> ChatOpenAI:
    return ChatOpenAI(model="sim-model", base_url=sim.base_url, api_key="sk-c", max_retries=0)


def test_capture_keeps_the_parsed_body_and_the_headers(start_sim: StartSim) -> None:
    sim = start_sim()
    client = _client(sim, default_headers={"X-Trace": "trace-1"})
    client.chat.completions.create(model="m", messages=USER, temperature=0.5)
    [captured] = sim.requests
    assert isinstance(captured, CapturedRequest)
    assert captured.path == "/v1/chat/completions"
    assert captured.body == {"model": "m", "messages": USER, "temperature": 0.5}
    assert captured.headers["authorization"] == "Bearer sk-capture"
    assert captured.headers["x-trace"] == "trace-1"
    assert captured.headers["content-type"] == "application/json"


def test_capture_shows_how_structured_output_was_asked_for(start_sim: StartSim) -> None:
    sim = start_sim()
    _chat(sim).with_structured_output(Answer).invoke("hello")
    _chat(sim).with_structured_output(Answer, method="function_calling").invoke("hello")
    schema_request, tools_request = (captured.body for captured in sim.requests)
    assert schema_request["response_format"]["type"] == "json_schema"
    assert "tools" not in schema_request
    assert tools_request["tools"][0]["function"]["name"] == "Answer"
    assert "response_format" not in tools_request


def test_capture_is_bounded_oldest_first_and_cleared_by_reset(start_sim: StartSim) -> None:
    sim = start_sim(capture_limit=2)
    client = _client(sim)
    for number in range(3):
        client.chat.completions.create(model=f"m{number}", messages=USER)
    assert [captured.body["model"] for captured in sim.requests] == ["m1", "m2"]
    sim.reset_stats()
    assert sim.requests == []


def test_capture_sees_requests_the_fault_answers_and_skips_probes(start_sim: StartSim) -> None:
    sim = start_sim("status:400:No connected db.")
    client = _client(sim)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="m", messages=USER, stream=True)
    client.models.list()
    [captured] = sim.requests
    assert captured.body["stream"] is True


def test_capture_records_an_unparsable_body_as_none(start_sim: StartSim) -> None:
    sim = start_sim()
    reply = httpx.post(f"{sim.base_url}/chat/completions", content=b"{not json", timeout=5)
    assert reply.status_code == 400
    [captured] = sim.requests
    assert captured.body is None
    assert sim.stats.bad_requests == 1
