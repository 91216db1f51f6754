"""`POST /v1/embeddings`: the hashed word feature vectors of the inputs, in OpenAI's format.

`input` is a string or a non-empty list of strings (token arrays are refused), `dimensions`
(optional) sets the vector length (default 768), `encoding_format` is `float` (the default)
or `base64` (little-endian float32, what the openai SDK asks for unless told otherwise).
"""

from __future__ import annotations

import array
import base64
import sys
from typing import Any

from infrastructure.llm.providers.hashed_features import DEFAULT_DIMENSIONS, hashed_feature_vector
from infrastructure.llm.sim.payloads import dump
from infrastructure.llm.sim.planning import RequestError


def embeddings_body(body: Any, *, served_model: str) -> bytes:
    """The answer to a parsed request body; RequestError if the body is invalid."""
    if not isinstance(body, dict):
        raise RequestError("request body must be a JSON object")
    texts = _inputs(body.get("input"))
    model = body.get("model") or served_model
    if not isinstance(model, str):
        raise RequestError("'model' must be a string")
    dimensions = body.get("dimensions", DEFAULT_DIMENSIONS)
    if isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1:
        raise RequestError(f"'dimensions' must be a positive integer, got {dimensions!r}")
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise RequestError(f"'encoding_format' must be 'float' or 'base64', got {encoding!r}")
    data = [
        {"object": "embedding", "index": index, "embedding": _encode(vector, encoding)}
        for index, vector in enumerate(hashed_feature_vector(t, dimensions) for t in texts)
    ]
    tokens = sum(len(text.split()) for text in texts)  # words stand in for tokens
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return dump({"object": "list", "data": data, "model": model, "usage": usage})


def _inputs(value: Any) -> list[str]:
    """The texts to embed: `input` as a string or a non-empty list of strings."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return value
    if isinstance(value, list) and value and all(isinstance(item, (int, list)) for item in value):
        raise RequestError("token arrays are not supported by the simulator; send strings")
    raise RequestError("'input' must be a string or a non-empty list of strings")


def _encode(vector: list[float], encoding: str) -> list[float] | str:
    """The vector as JSON numbers, or as base64 of its little-endian float32 values."""
    if encoding == "float":
        return vector
    values = array.array("f", vector)
    if sys.byteorder == "big":
        values.byteswap()
    return base64.b64encode(values.tobytes()).decode("ascii")
