"""Classification of real exception objects from openai, langchain-openai, httpx2 and httpx."""

from __future__ import annotations

import asyncio
import email.utils
import errno
import time
from types import SimpleNamespace

import httpx
import httpx2
import openai
import pytest
from langchain_core.exceptions import ModelAPIError, ModelError, OutputParserException
from langchain_openai.chat_models.base import (
    OpenAIAPIContextOverflowError,
    OpenAIAPIError,
    OpenAIAuthenticationError,
    OpenAIConnectionError,
    OpenAIContextOverflowError,
    OpenAIInvalidRequestError,
    OpenAIModelNotFoundError,
    OpenAIPermissionDeniedError,
    OpenAIRateLimitError,
    OpenAITimeoutError,
)

from infrastructure.llm.errors import (
    AllTargetsFailedError,
    CircuitOpenError,
    ConfigError,
    DeadlineExceededError,
    NoCapacityError,
    StreamInterruptedError,
)
from infrastructure.llm.resilience.error_classification import (
    MAX_RETRY_AFTER,
    ErrorKind,
    classify,
    retry_after,
)

RETRYABLE, MISCONFIGURED, FATAL = ErrorKind.RETRYABLE, ErrorKind.MISCONFIGURED, ErrorKind.FATAL
REQUEST = httpx2.Request("POST", "http://sim/v1/chat/completions")


def response(status: int, headers: dict[str, str] | None = None) -> httpx2.Response:
    return httpx2.Response(status, headers=headers, request=REQUEST)


def status_error(cls: type[openai.APIStatusError], status: int, **headers: str):
    return cls(f"status {status}", response=response(status, headers), body=None)


CASES: list[tuple[str, BaseException, ErrorKind]] = [
    # openai SDK, as raised by ChatOpenAI with max_retries=0
    ("openai 429", status_error(openai.RateLimitError, 429), RETRYABLE),
    ("openai 500", status_error(openai.InternalServerError, 500), RETRYABLE),
    ("openai 503", status_error(openai.InternalServerError, 503), RETRYABLE),
    ("openai 409", status_error(openai.ConflictError, 409), RETRYABLE),
    ("openai 408", status_error(openai.APIStatusError, 408), RETRYABLE),
    ("openai timeout", openai.APITimeoutError(REQUEST), RETRYABLE),
    ("openai connection", openai.APIConnectionError(request=REQUEST), RETRYABLE),
    ("openai stream error event", openai.APIError("boom", REQUEST, body=None), RETRYABLE),
    ("openai invalid body", openai.APIResponseValidationError(response(200), None), RETRYABLE),
    ("openai 400", status_error(openai.BadRequestError, 400), FATAL),
    ("openai 422", status_error(openai.UnprocessableEntityError, 422), FATAL),
    ("openai 413", status_error(openai.APIStatusError, 413), FATAL),
    ("openai 401", status_error(openai.AuthenticationError, 401), MISCONFIGURED),
    ("openai 403", status_error(openai.PermissionDeniedError, 403), MISCONFIGURED),
    ("openai 404", status_error(openai.NotFoundError, 404), MISCONFIGURED),
    ("openai content filter", openai.ContentFilterFinishReasonError(), FATAL),
    # langchain-openai 1.7 subclasses (openai type + langchain_core ModelError)
    ("lc rate limit", status_error(OpenAIRateLimitError, 429), RETRYABLE),
    ("lc server error", status_error(OpenAIAPIError, 502), RETRYABLE),
    ("lc timeout", OpenAITimeoutError(REQUEST), RETRYABLE),
    ("lc connection", OpenAIConnectionError(message="refused", request=REQUEST), RETRYABLE),
    ("lc invalid request", status_error(OpenAIInvalidRequestError, 400), FATAL),
    ("lc context overflow", status_error(OpenAIContextOverflowError, 400), FATAL),
    (
        "lc context overflow (APIError)",
        OpenAIAPIContextOverflowError(
            message="exceeds the context window", request=REQUEST, body=None
        ),
        FATAL,
    ),
    ("lc auth", status_error(OpenAIAuthenticationError, 401), MISCONFIGURED),
    ("lc permission", status_error(OpenAIPermissionDeniedError, 403), MISCONFIGURED),
    ("lc model not found", status_error(OpenAIModelNotFoundError, 404), MISCONFIGURED),
    # langchain_core types from other providers
    ("provider 5xx", ModelAPIError("overloaded"), RETRYABLE),
    ("provider generic", ModelError("odd"), FATAL),
    ("output parser", OutputParserException("bad json"), FATAL),
    # raw transport errors (raised mid-stream, where openai does not wrap them)
    ("httpx2 cut stream", httpx2.RemoteProtocolError("peer closed", request=REQUEST), RETRYABLE),
    ("httpx2 read timeout", httpx2.ReadTimeout("slow", request=REQUEST), RETRYABLE),
    ("httpx2 connect", httpx2.ConnectError("refused", request=REQUEST), RETRYABLE),
    ("httpx2 bad scheme", httpx2.UnsupportedProtocol("ftp://"), MISCONFIGURED),
    ("httpx2 bad url", httpx2.InvalidURL("http://[::"), MISCONFIGURED),
    (
        "httpx2 status 502",
        httpx2.HTTPStatusError("bad gateway", request=REQUEST, response=response(502)),
        RETRYABLE,
    ),
    ("httpx cut stream", httpx.RemoteProtocolError("peer closed"), RETRYABLE),
    ("httpx pool timeout", httpx.PoolTimeout("busy"), RETRYABLE),
    # builtins
    ("TimeoutError", TimeoutError(), RETRYABLE),
    ("asyncio.TimeoutError", asyncio.TimeoutError(), RETRYABLE),
    ("refused", ConnectionRefusedError(errno.ECONNREFUSED, "refused"), RETRYABLE),
    ("reset", ConnectionResetError(errno.ECONNRESET, "reset"), RETRYABLE),
    ("OSError", OSError(errno.EHOSTUNREACH, "no route"), RETRYABLE),
    # our own errors
    ("no capacity", NoCapacityError("full"), RETRYABLE),
    ("circuit open", CircuitOpenError("open"), RETRYABLE),
    ("deadline", DeadlineExceededError("late"), FATAL),
    ("stream cut after output", StreamInterruptedError("cut", "partial", ValueError()), FATAL),
    ("all failed", AllTargetsFailedError("none", [], None), FATAL),
    ("config", ConfigError([]), FATAL),
    # everything else surfaces
    ("programming error", KeyError("x"), FATAL),
    ("type error", TypeError("x"), FATAL),
    ("cancelled", asyncio.CancelledError(), FATAL),
]


@pytest.mark.parametrize(("exc", "kind"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_classify(exc: BaseException, kind: ErrorKind) -> None:
    assert classify(exc) is kind


class StatusOnly(Exception):
    def __init__(self, status_code: int) -> None:
        super().__init__(status_code)
        self.status_code = status_code


@pytest.mark.parametrize(
    ("status", "kind"),
    [(500, RETRYABLE), (429, RETRYABLE), (401, MISCONFIGURED), (404, MISCONFIGURED), (400, FATAL)],
)
def test_any_error_with_a_status_code_is_classified_by_it(status: int, kind: ErrorKind) -> None:
    assert classify(StatusOnly(status)) is kind


def test_only_instance_failures_count_against_the_breaker() -> None:
    assert RETRYABLE.instance_failure
    assert MISCONFIGURED.instance_failure
    assert not FATAL.instance_failure


def rate_limited(**headers: str) -> openai.RateLimitError:
    return status_error(openai.RateLimitError, 429, **headers)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"Retry-After": "1.5"}, 1.5),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after-ms": "soon", "retry-after": "3"}, 3.0),
        ({"retry-after": "3600"}, MAX_RETRY_AFTER),
        ({"retry-after": "-5"}, 0.0),
        ({"retry-after": "inf"}, None),
        ({"retry-after": "whenever"}, None),
        ({}, None),
    ],
)
def test_retry_after_headers(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after(rate_limited(**headers)) == expected


def test_retry_after_http_date() -> None:
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    waited = retry_after(rate_limited(**{"retry-after": date}))
    assert waited is not None and 28.0 <= waited <= 30.0
    past = email.utils.formatdate(time.time() - 30, usegmt=True)
    assert retry_after(rate_limited(**{"retry-after": past})) == 0.0


def test_retry_after_from_langchain_subclass_and_plain_dict_headers() -> None:
    exc = status_error(OpenAIRateLimitError, 429, **{"retry-after": "4"})
    assert retry_after(exc) == 4.0

    provider_error = Exception("rate limited")
    provider_error.response = SimpleNamespace(headers={"Retry-After": "7"})  # type: ignore[attr-defined]
    assert retry_after(provider_error) == 7.0


def test_retry_after_is_none_without_a_response() -> None:
    assert retry_after(openai.APITimeoutError(REQUEST)) is None
    assert retry_after(TimeoutError()) is None
