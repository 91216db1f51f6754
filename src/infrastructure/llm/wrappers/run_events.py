"""What a wrapper tells the LangChain run of a call besides its answer: each fallback hop as
a custom event on the run, which its handlers' `on_custom_event` receives and
`astream_events` yields.

The routing facts themselves travel as the answer's `generation_info["routing"]`, so they
appear in the run's outputs as well as in `response_metadata`.

An invoke hands `_generate` its run manager. LangChain's `stream()`/`astream()` call
`_stream`/`_astream` without one, and so does an invoke LangChain streams because a streaming
handler is attached (LangGraph's `stream_mode="messages"`, `astream_events`); so the wrapper's
`stream`/`astream`, and its `invoke`/`ainvoke` when LangChain will stream them, fix the run
beforehand (`stream_run`): they configure the run's callback manager from the call's config,
give it to LangChain as the config's callbacks (so LangChain's own configure copies it and
adds no handler twice: an env `LangChainTracer` is found there, not made again) with the run's
id, and hand `_stream` a run manager for that run under `RUN_ARGUMENT`. Hops go out by one
rule either way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManager,
    AsyncCallbackManagerForLLMRun,
    CallbackManager,
    CallbackManagerForLLMRun,
)
from langchain_core.callbacks.manager import ahandle_event, handle_event
from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig, ensure_config
from langchain_core.utils.uuid import uuid7

from infrastructure.llm.routing.call_record import CallRecord

FALLBACK_EVENT = "llm_wrappers_fallback"
"""The name of the custom event sent for each hop: data `from_target`, `to_target`,
`reason`, `error_type`, `time`."""

RUN_ARGUMENT = "_llm_wrappers_run"
"""The keyword under which `stream()`/`astream()` hand `_stream`/`_astream` the run manager of
their run; `_stream` takes it out of its kwargs, `_get_invocation_params` leaves it out of
what is traced."""


def report_hops(run_manager: CallbackManagerForLLMRun | None, record: CallRecord) -> None:
    """Send each hop of `record` to the run's handlers as a custom event."""
    for args, kwargs in _hop_events(run_manager, record):
        handle_event(*args, **kwargs)


async def areport_hops(
    run_manager: AsyncCallbackManagerForLLMRun | None, record: CallRecord
) -> None:
    """Async twin of `report_hops`."""
    for args, kwargs in _hop_events(run_manager, record):
        await ahandle_event(*args, **kwargs)


def stream_run(
    model: BaseChatModel,
    config: RunnableConfig | None,
    ls_params: Mapping[str, Any],
    *,
    asynchronous: bool,
) -> tuple[RunnableConfig, CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun]:
    """The config to hand LangChain's `stream()`/`astream()` and the manager of the run it
    will start from it.

    The callbacks are configured here with the arguments LangChain configures them with
    (`ls_params`: the model's LangSmith params, which join the config's metadata), so
    LangChain's configure of this manager only copies it: the run gets these handlers, tags
    and metadata, none twice (it adds an env tracer, a `verbose` printer or a configure hook's
    handler only when none is there). Its one change: it hands the run a copy of each
    `LangChainTracer`, carrying the invocation params, that shares the original's map of
    runs, so the tracer the events reach holds the run too. The run's id is the caller's
    `run_id` when given, else a new one (a uuid7, as LangChain makes).
    """
    config = ensure_config(config)
    manager_class = AsyncCallbackManager if asynchronous else CallbackManager
    manager = manager_class.configure(
        config.get("callbacks"),
        model.callbacks,
        model.verbose,
        config.get("tags"),
        model.tags,
        {**(config.get("metadata") or {}), **ls_params},
        model.metadata,
    )
    run_id = config.get("run_id") or uuid7()
    run_class = AsyncCallbackManagerForLLMRun if asynchronous else CallbackManagerForLLMRun
    run = run_class(
        run_id=run_id,
        handlers=manager.handlers,
        inheritable_handlers=manager.inheritable_handlers,
        parent_run_id=manager.parent_run_id,
        tags=manager.tags,
        inheritable_tags=manager.inheritable_tags,
        metadata=manager.metadata,
        inheritable_metadata=manager.inheritable_metadata,
    )
    return {**config, "callbacks": manager, "run_id": run_id}, run


def _hop_events(
    run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None,
    record: CallRecord,
) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """The arguments of `handle_event` for each hop (none without a run)."""
    if run_manager is None or not record.hops:
        return []
    where = {
        "run_id": run_manager.run_id,
        "tags": run_manager.tags,
        "metadata": run_manager.metadata,
    }
    return [
        (
            (run_manager.handlers, "on_custom_event", "ignore_custom_event"),
            {"name": FALLBACK_EVENT, "data": asdict(hop), **where},
        )
        for hop in record.hops
    ]
