"""OpenTelemetry spans of routed calls (the `otel` extra): a span per call and a child span
per attempt, with the GenAI semantic-convention attributes and the routing's own.

Off until `enable_tracing()`; until then a call pays one check of a module global. Exceptions
are recorded on the span that saw them and set its status to error. With a `sample_ratio`
below 1, a call outside any recording span is traced with that probability, decided here
before the SDK is asked: an SDK sampler that drops a call still builds a span for it.
"""

from __future__ import annotations

import random
from contextlib import AbstractContextManager, nullcontext
from typing import Any
from urllib.parse import urlsplit

from infrastructure.llm.errors import LLMWrapperError
from infrastructure.llm.fleet.member import Member
from infrastructure.llm.routing.call_record import CallRecord
from infrastructure.llm.routing.engine import Served

_tracer: Any = None
_CLIENT: Any = None  # opentelemetry.trace.SpanKind.CLIENT, looked up when tracing is enabled
_current_span: Any = None  # opentelemetry.trace.get_current_span, likewise
_sample_ratio = 1.0
_draw = random.random
_NO_SPAN: AbstractContextManager[None] = nullcontext(None)
"""What an untraced call or attempt enters: one shared no-op."""


def enable_tracing(tracer_provider: Any = None, sample_ratio: float = 1.0) -> None:
    """Trace routed calls with `tracer_provider` (default: the global one): every call inside
    a recording span (the caller's trace was sampled), and `sample_ratio` of the others."""
    global _tracer, _CLIENT, _current_span, _sample_ratio
    if (
        isinstance(sample_ratio, bool)
        or not isinstance(sample_ratio, (int, float))
        or not 0.0 <= sample_ratio <= 1.0  # NaN fails this too
    ):
        raise LLMWrapperError(
            f"enable_tracing: sample_ratio: expected a number from 0 to 1, got {sample_ratio!r}"
        )
    try:
        from opentelemetry import trace
    except ImportError:
        raise LLMWrapperError(
            "tracing needs opentelemetry: pip install 'langchain-llm-wrappers[otel]'"
        ) from None
    provider = tracer_provider or trace.get_tracer_provider()
    _CLIENT = trace.SpanKind.CLIENT
    _current_span = trace.get_current_span
    _sample_ratio = float(sample_ratio)
    _tracer = provider.get_tracer("infrastructure.llm")


def disable_tracing() -> None:
    global _tracer
    _tracer = None


def call_span(wrapper: str, route: str, streaming: bool) -> AbstractContextManager[Any]:
    """The span of one call through `wrapper` (None inside when tracing is off, or when this
    call is not sampled)."""
    if _tracer is None or (
        _sample_ratio < 1.0 and _draw() >= _sample_ratio and not _current_span().is_recording()
    ):
        return _NO_SPAN
    attributes = {
        "gen_ai.operation.name": "chat",
        "llm_wrappers.wrapper": wrapper,
        "llm_wrappers.route": route,
        "llm_wrappers.streaming": streaming,
    }
    return _tracer.start_as_current_span(f"chat {route}", kind=_CLIENT, attributes=attributes)


def attempt_span(member: Member) -> AbstractContextManager[Any]:
    """The span of one attempt on `member`'s instance, a child of its call's span; none when
    the sampler dropped the call's span (its children would be dropped too)."""
    if _tracer is None or not _current_span().is_recording():
        return _NO_SPAN
    instance = member.instance
    echelon = member.echelon
    facts = (
        instance.provider,
        instance.model,
        instance.model_name,
        instance.id,
        instance.base_url,
        echelon.group,
        echelon.number,
    )
    attributes = _attempt_attributes.get(facts)
    if attributes is None:
        attributes = _remember_attempt_attributes(facts)
    return _tracer.start_as_current_span(
        f"chat {instance.model}", kind=_CLIENT, attributes=attributes
    )


_ATTRIBUTE_SETS_KEPT = 4096
_attempt_attributes: dict[tuple[Any, ...], dict[str, Any]] = {}


def _remember_attempt_attributes(facts: tuple[Any, ...]) -> dict[str, Any]:
    """The attributes of an attempt span, built once per instance and echelon (the URL is
    parsed once, not per attempt)."""
    provider, model, model_name, instance_id, base_url, group, number = facts
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": provider,
        "gen_ai.request.model": model,
        "llm_wrappers.model": model_name,
        "llm_wrappers.instance": instance_id,
        "llm_wrappers.group": group,
        "llm_wrappers.echelon": number,
    }
    if base_url:
        parts = urlsplit(base_url)
        attributes["server.address"] = parts.hostname or ""
        attributes["server.port"] = parts.port or (443 if parts.scheme == "https" else 80)
    if len(_attempt_attributes) >= _ATTRIBUTE_SETS_KEPT:
        _attempt_attributes.clear()
    _attempt_attributes[facts] = attributes
    return attributes


def describe_call(span: Any, served: Served[Any], record: CallRecord) -> None:
    """Put what served the call, how, and (for an invoke) its token usage on its span."""
    if span is None or not span.is_recording():
        return
    instance = served.member.instance
    attributes: dict[str, Any] = {
        "gen_ai.request.model": instance.model,
        "llm_wrappers.model": instance.model_name,
        "llm_wrappers.instance": instance.id,
        "llm_wrappers.attempts": record.attempts,
        "llm_wrappers.fallbacks": record.fallbacks,
        "llm_wrappers.hedged": record.hedges > 0,
    }
    generations = getattr(served.value, "generations", None)
    usage = getattr(generations[0].message, "usage_metadata", None) if generations else None
    if usage:
        attributes["gen_ai.usage.input_tokens"] = usage.get("input_tokens", 0)
        attributes["gen_ai.usage.output_tokens"] = usage.get("output_tokens", 0)
    span.set_attributes(attributes)
