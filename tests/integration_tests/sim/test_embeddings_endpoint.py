"""`POST /v1/embeddings` through the real openai client: vectors, counting, fault modes."""

from __future__ import annotations

import time

import openai
import pytest

from infrastructure.llm.providers.hashed_features import hashed_feature_vector
from infrastructure.llm.sim import FaultMode, SimServer

USER = [{"role": "user", "content": "hello there"}]


def _client(sim: SimServer, timeout: float = 5.0) -> openai.OpenAI:
    return openai.OpenAI(base_url=sim.base_url, api_key="k", max_retries=0, timeout=timeout)


def test_float_vectors_are_the_hashed_feature_vectors(
    sim: SimServer, client: openai.OpenAI
) -> None:
    texts = ["How do I reset my password?", "如何重置密码？"]
    result = client.embeddings.create(model="bge-m3", input=texts, encoding_format="float")
    assert result.model == "bge-m3"
    assert [item.index for item in result.data] == [0, 1]
    assert [item.embedding for item in result.data] == [hashed_feature_vector(t) for t in texts]
    assert result.usage.prompt_tokens == result.usage.total_tokens == 7  # words: 6 + 1


def test_the_sdk_default_base64_decodes_to_the_same_vectors(client: openai.OpenAI) -> None:
    result = client.embeddings.create(model="m", input="hello", dimensions=64)
    [item] = result.data
    assert item.embedding == pytest.approx(hashed_feature_vector("hello", 64), abs=1e-7)


def test_embeddings_are_counted_apart_from_chat(sim: SimServer, client: openai.OpenAI) -> None:
    client.embeddings.create(model="m", input="one")
    client.embeddings.create(model="m", input=["two", "three"])
    client.chat.completions.create(model="m", messages=USER)
    stats = sim.stats
    assert (stats.embeddings, stats.requests, stats.completed) == (2, 1, 1)
    assert [request.path for request in sim.requests] == ["/v1/chat/completions"]


def test_a_bad_request_is_a_400_naming_the_problem(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="'dimensions' must be a positive integer"):
        client.embeddings.create(model="m", input="x", dimensions=0)


@pytest.mark.parametrize(
    ("fault", "error", "status"),
    [
        (FaultMode("status", status_code=503), openai.InternalServerError, 503),
        (FaultMode("error_rate", error_rate=1.0), openai.InternalServerError, 500),
        (FaultMode("rate_limit"), openai.RateLimitError, 429),
        (FaultMode("echo_auth"), openai.AuthenticationError, 401),
    ],
)
def test_failing_faults_fail_embeddings(
    fault: FaultMode, error: type[openai.APIStatusError], status: int
) -> None:
    with SimServer(fault) as sim, pytest.raises(error) as caught:
        _client(sim).embeddings.create(model="m", input="x")
    assert caught.value.status_code == status
    assert sim.stats.embeddings == 1


def test_hang_never_answers_and_refuse_refuses() -> None:
    with SimServer(FaultMode("hang")) as sim:
        with pytest.raises(openai.APITimeoutError):
            _client(sim, timeout=0.3).embeddings.create(model="m", input="x")
        sim.set_fault(FaultMode("refuse"))
        with pytest.raises(openai.APIConnectionError):
            _client(sim).embeddings.create(model="m", input="x")


def test_latency_delays_embeddings() -> None:
    with SimServer(FaultMode("slow", latency=0.2)) as sim:
        started = time.monotonic()
        _client(sim).embeddings.create(model="m", input="x")
        assert time.monotonic() - started >= 0.2


@pytest.mark.parametrize("mode", ["hang_chat", "cut_stream", "html", "no_choices", "drip:0.01"])
def test_chat_only_faults_leave_embeddings_healthy(mode: str) -> None:
    with SimServer(FaultMode.parse(mode)) as sim:
        result = _client(sim).embeddings.create(model="m", input="x", encoding_format="float")
        assert result.data[0].embedding == hashed_feature_vector("x")
