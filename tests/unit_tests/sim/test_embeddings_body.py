"""The simulator's `/v1/embeddings` answers, without a server: format, options, bad input."""

from __future__ import annotations

import array
import base64
import json
import sys
from typing import Any

import pytest

from infrastructure.llm.providers.hashed_features import hashed_feature_vector
from infrastructure.llm.sim.embeddings import embeddings_body
from infrastructure.llm.sim.planning import RequestError
from infrastructure.llm.sim.stats import SimStats, StatsRecorder


def _answer(body: Any) -> dict[str, Any]:
    return json.loads(embeddings_body(body, served_model="served"))  # type: ignore[no-any-return]


def test_a_list_of_inputs_gets_one_vector_each_in_openai_format() -> None:
    answer = _answer({"model": "bge", "input": ["a cat sat", "天气"]})
    assert answer["object"] == "list"
    assert answer["model"] == "bge"
    assert answer["usage"] == {"prompt_tokens": 4, "total_tokens": 4}
    assert [(d["object"], d["index"]) for d in answer["data"]] == [
        ("embedding", 0),
        ("embedding", 1),
    ]
    assert answer["data"][0]["embedding"] == hashed_feature_vector("a cat sat")
    assert answer["data"][1]["embedding"] == hashed_feature_vector("天气")


def test_a_string_input_dimensions_and_the_served_model() -> None:
    answer = _answer({"input": "hello", "dimensions": 16})
    assert answer["model"] == "served"
    [item] = answer["data"]
    assert item["embedding"] == hashed_feature_vector("hello", 16)


def test_base64_is_little_endian_float32() -> None:
    answer = _answer({"model": "m", "input": ["hello"], "encoding_format": "base64"})
    encoded = answer["data"][0]["embedding"]
    values = array.array("f", base64.b64decode(encoded))
    if sys.byteorder == "big":
        values.byteswap()
    assert values.tolist() == pytest.approx(hashed_feature_vector("hello"), abs=1e-7)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "request body must be a JSON object"),
        ({"model": "m"}, "'input' must be a string or a non-empty list of strings"),
        ({"model": "m", "input": []}, "'input' must be a string or a non-empty list of strings"),
        ({"model": "m", "input": ["a", 1]}, "'input' must be a string or a non-empty list"),
        ({"model": "m", "input": [1, 2]}, "token arrays are not supported by the simulator"),
        ({"model": "m", "input": [[1, 2]]}, "token arrays are not supported by the simulator"),
        ({"model": 3, "input": "a"}, "'model' must be a string"),
        ({"input": "a", "dimensions": 0}, "'dimensions' must be a positive integer, got 0"),
        ({"input": "a", "dimensions": True}, "'dimensions' must be a positive integer"),
        ({"input": "a", "encoding_format": "int8"}, "'encoding_format' must be 'float' or"),
    ],
)
def test_invalid_requests_say_what_is_wrong(body: Any, message: str) -> None:
    with pytest.raises(RequestError, match=message.replace("(", r"\(")):
        embeddings_body(body, served_model="served")


def test_embeddings_have_their_own_counter_outside_in_flight() -> None:
    recorder = StatsRecorder()
    recorder.embeddings_received()
    recorder.embeddings_received()
    assert recorder.snapshot() == SimStats(embeddings=2)
    assert recorder.snapshot().in_flight == 0
    recorder.reset()
    assert recorder.snapshot().embeddings == 0
