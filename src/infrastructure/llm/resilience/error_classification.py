"""The one place that decides what an exception means for routing.

Policy:
  * RETRYABLE: the instance or the network failed; try again (another instance, later).
    Timeouts, refused/reset connections, cut streams, 5xx, 408, 409, 429, our own
    NoCapacityError / CircuitOpenError (move to the next target), AttemptTimeoutError (an
    attempt outlived its limit) and InvalidResponseError (a 200 that is no completion).
  * MISCONFIGURED: this instance cannot serve anyone (401, 403, 404 incl. model not found,
    a malformed endpoint URL): skip it and go on.
  * FATAL: stop and raise to the caller; neither retries nor fallbacks can help. The request
    itself is bad (other 4xx: 400, 413, 422, context too long, content policy), our
    DeadlineExceededError (the call's time is up), a stream cut after output was delivered,
    and any exception this module does not know, so programming errors surface instead of
    being retried. The exception is the OSError family (network-level), which is RETRYABLE.
"""

from __future__ import annotations

import asyncio
import email.utils
import importlib
import math
import time
from datetime import timezone
from enum import Enum
from typing import Any

import openai
from langchain_core.exceptions import (
    ContextOverflowError,
    ModelAuthenticationError,
    ModelError,
    ModelInvalidRequestError,
    ModelNotFoundError,
    ModelPermissionDeniedError,
)

from infrastructure.llm.errors import (
    AttemptTimeoutError,
    CircuitOpenError,
    InvalidResponseError,
    LLMWrapperError,
    NoCapacityError,
    describe_error,
)
from infrastructure.llm.resilience.time_limits import AttemptLimit

MAX_RETRY_AFTER = 60.0
"""Longest `Retry-After` honoured, in seconds; a server asking for more gets this much."""


class ErrorKind(Enum):
    """What an error means for routing (see the module docstring for the policy)."""

    RETRYABLE = "retryable"
    MISCONFIGURED = "misconfigured"
    FATAL = "fatal"

    @property
    def instance_failure(self) -> bool:
        """Whether the error counts against the instance's circuit breaker.

        FATAL errors do not: an instance that answered "bad request" is alive.
        """
        return self is not ErrorKind.FATAL


def http_error_types(*names: str) -> tuple[type[BaseException], ...]:
    """The named exception classes of whichever of httpx2 / httpx is installed."""
    found: list[type[BaseException]] = []
    for module_name in ("httpx2", "httpx"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        found.extend(getattr(module, name) for name in names if hasattr(module, name))
    return tuple(found)


# Checked in order; the first match decides.
_OWN_RETRYABLE = (NoCapacityError, CircuitOpenError, AttemptTimeoutError, InvalidResponseError)
_MODEL_MISCONFIGURED = (ModelAuthenticationError, ModelPermissionDeniedError, ModelNotFoundError)
_MODEL_FATAL = (ModelInvalidRequestError, ContextOverflowError)
# A bad base_url or header value: the instance's configuration, not the request, is wrong.
_HTTP_MISCONFIGURED = http_error_types("UnsupportedProtocol", "LocalProtocolError", "InvalidURL")
_NETWORK_RETRYABLE = (
    # httpx timeouts, connect/read/write errors, RemoteProtocolError (a stream cut mid-read).
    *http_error_types("TransportError"),
    # Without a status: connection and timeout errors, error events in a stream.
    openai.APIError,
    TimeoutError,
    asyncio.TimeoutError,
    OSError,
)

# A client that gave up waiting: the attempt's time limit ran out on the instance.
_TIMEOUTS = (
    openai.APITimeoutError,
    *http_error_types("TimeoutException"),
    TimeoutError,
    asyncio.TimeoutError,
)

_MISCONFIGURED_STATUS = frozenset({401, 403, 404})
_RETRYABLE_4XX = frozenset({408, 409, 429})


def classify(exc: BaseException) -> ErrorKind:
    """Decide whether `exc` is RETRYABLE, MISCONFIGURED or FATAL for routing."""
    if isinstance(exc, LLMWrapperError):
        return ErrorKind.RETRYABLE if isinstance(exc, _OWN_RETRYABLE) else ErrorKind.FATAL
    if isinstance(exc, ModelError):
        if isinstance(exc, _MODEL_MISCONFIGURED):
            return ErrorKind.MISCONFIGURED
        if isinstance(exc, _MODEL_FATAL):
            return ErrorKind.FATAL
        if exc.is_retryable:
            return ErrorKind.RETRYABLE
    status = status_code(exc)
    if status is not None:
        return _classify_status(status)
    if isinstance(exc, _HTTP_MISCONFIGURED):
        return ErrorKind.MISCONFIGURED
    if isinstance(exc, _NETWORK_RETRYABLE):
        return ErrorKind.RETRYABLE
    return ErrorKind.FATAL


def attempt_error(exc: Exception, limit: AttemptLimit, instance: str) -> Exception:
    """What an attempt's error says, given what its limit saw: a request the limit cut, or a
    client timeout, is the instance's slowness and names the time it had; an error raised
    after the server answered 2xx, not about the network, means the answer was unusable.
    Else `exc` itself.

    The new error keeps `exc` as its cause.
    """
    if limit.cut:
        error: Exception = AttemptTimeoutError(
            f"{instance}: no complete answer within {limit.timeout:.3g}s "
            f"(the server was still sending: {describe_error(exc)})"
        )
    elif isinstance(exc, _TIMEOUTS) and not isinstance(exc, LLMWrapperError):
        error = AttemptTimeoutError(
            f"{instance}: no answer within {limit.timeout:.3g}s ({describe_error(exc)})"
        )
    elif (
        limit.answered
        and status_code(exc) is None
        and not isinstance(exc, (LLMWrapperError, *_NETWORK_RETRYABLE))
    ):
        error = InvalidResponseError(
            f"{instance}: answered 2xx with something that is not a chat completion "
            f"({describe_error(exc)})"
        )
    else:
        return exc
    error.__cause__ = exc
    return error


def is_rejection(exc: BaseException) -> bool:
    """Whether the instance refused the request as bad (400, 422). Gateways answer so for
    faults of their own too (a LiteLLM proxy without its database answers `400 No connected
    db.`), so a refusal is confirmed on another instance before it ends a call."""
    return status_code(exc) in (400, 422)


def is_request_fault(exc: BaseException) -> bool:
    """Whether the request itself is at fault, so no other instance or target can do better.

    Our own routing errors are never the request's fault: they end one target, not the call.
    """
    return not isinstance(exc, LLMWrapperError) and classify(exc) is ErrorKind.FATAL


def status_code(exc: BaseException) -> int | None:
    """The HTTP status an error carries, on itself or on its `response`."""
    status = getattr(exc, "status_code", None)
    if not isinstance(status, int):
        status = getattr(getattr(exc, "response", None), "status_code", None)
    return status if isinstance(status, int) else None


def _classify_status(status: int) -> ErrorKind:
    if status in _MISCONFIGURED_STATUS:
        return ErrorKind.MISCONFIGURED
    if 400 <= status < 500 and status not in _RETRYABLE_4XX:
        return ErrorKind.FATAL
    # 5xx, 408/409/429, or a success status on an error: the server sent nothing usable.
    return ErrorKind.RETRYABLE


def retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait (`retry-after-ms` or `Retry-After`, in seconds or
    as an HTTP date), capped at MAX_RETRY_AFTER; None when the error carries no such header."""
    headers = getattr(getattr(exc, "response", None), "headers", None)
    if headers is None:
        return None
    millis = _header(headers, "retry-after-ms")
    if millis is not None:
        seconds = _parse_float(millis)
        if seconds is not None:
            return _cap(seconds / 1000.0)
    value = _header(headers, "retry-after")
    if value is None:
        return None
    seconds = _parse_float(value)
    if seconds is None:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = when.timestamp() - time.time()
    return _cap(seconds)


def _header(headers: Any, name: str) -> str | None:
    """A header value from case-insensitive (httpx) or plain-dict headers."""
    value = headers.get(name)
    if value is None:
        value = headers.get(name.title())
    return value if isinstance(value, str) else None


def _parse_float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _cap(seconds: float) -> float:
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)
