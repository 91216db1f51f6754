"""Cheap liveness probes for instances: a GET (`/models` by default) on OpenAI-compatible APIs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infrastructure.llm.errors import describe_error
from infrastructure.llm.fleet.instance import Instance

DEFAULT_PROBE_TIMEOUT = 5.0
MODELS_PATH = "/models"


@dataclass(frozen=True)
class ProbeResult:
    instance: str
    healthy: bool
    error: str | None = None


def is_probed(instance: Instance) -> bool:
    """Whether probes reach the instance over HTTP; in-process providers are always reachable."""
    return instance.provider == "openai"


def _client(model: Any, attribute: str, timeout: float) -> Any:
    return getattr(model, attribute).with_options(timeout=timeout, max_retries=0)


def _get(client: Any, path: str) -> Any:
    """GET `path` relative to the client's base_url (sync, or awaitable on an async client).

    `/models` goes through the typed model list, which also checks the answer's shape; any
    other path only needs a 2xx answer, so its body is taken as raw bytes and never parsed.
    """
    return client.models.list() if path == MODELS_PATH else client.get(path, cast_to=bytes)


def probe_path(
    instance: Instance, path: str = MODELS_PATH, timeout: float = DEFAULT_PROBE_TIMEOUT
) -> ProbeResult:
    """GET `path` relative to the instance's base_url; healthy on any 2xx answer in time."""
    if not is_probed(instance):
        return ProbeResult(instance.id, True)
    try:
        _get(_client(instance.chat_model, "root_client", timeout), path)
    except Exception as exc:
        return ProbeResult(instance.id, False, describe_error(exc))
    return ProbeResult(instance.id, True)


async def aprobe_path(
    instance: Instance, path: str = MODELS_PATH, timeout: float = DEFAULT_PROBE_TIMEOUT
) -> ProbeResult:
    """Async twin of `probe_path`."""
    if not is_probed(instance):
        return ProbeResult(instance.id, True)
    try:
        model = instance.models.for_running_loop()
        await _get(_client(model, "root_async_client", timeout), path)
    except Exception as exc:
        return ProbeResult(instance.id, False, describe_error(exc))
    return ProbeResult(instance.id, True)


def probe(instance: Instance, timeout: float = DEFAULT_PROBE_TIMEOUT) -> ProbeResult:
    """Ask the instance for its model list; in-process providers are always reachable."""
    return probe_path(instance, MODELS_PATH, timeout)


async def aprobe(instance: Instance, timeout: float = DEFAULT_PROBE_TIMEOUT) -> ProbeResult:
    """Async twin of `probe`."""
    return await aprobe_path(instance, MODELS_PATH, timeout)
