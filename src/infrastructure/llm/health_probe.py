"""Cheap liveness probes for instances: `GET /models` on OpenAI-compatible servers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infrastructure.llm.errors import describe_error
from infrastructure.llm.instance import Instance

DEFAULT_PROBE_TIMEOUT = 5.0


@dataclass(frozen=True)
class ProbeResult:
    instance: str
    healthy: bool
    error: str | None = None


def _client(instance: Instance, attribute: str, timeout: float) -> Any:
    return getattr(instance.chat_model, attribute).with_options(timeout=timeout, max_retries=0)


def probe(instance: Instance, timeout: float = DEFAULT_PROBE_TIMEOUT) -> ProbeResult:
    """Ask the instance for its model list; in-process providers are always reachable."""
    if instance.provider != "openai":
        return ProbeResult(instance.id, True)
    try:
        _client(instance, "root_client", timeout).models.list()
    except Exception as exc:
        return ProbeResult(instance.id, False, describe_error(exc))
    return ProbeResult(instance.id, True)


async def aprobe(instance: Instance, timeout: float = DEFAULT_PROBE_TIMEOUT) -> ProbeResult:
    """Async twin of `probe`."""
    if instance.provider != "openai":
        return ProbeResult(instance.id, True)
    try:
        await _client(instance, "root_async_client", timeout).models.list()
    except Exception as exc:
        return ProbeResult(instance.id, False, describe_error(exc))
    return ProbeResult(instance.id, True)
