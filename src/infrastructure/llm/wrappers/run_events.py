"""What a wrapper tells the LangChain run of a call besides its answer: each fallback hop as
a custom event, which LangSmith lists on the run and `astream_events` yields.

The routing facts themselves travel as the answer's `generation_info["routing"]`, so they
appear in the run's outputs as well as in `response_metadata`.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.callbacks.manager import ahandle_event, handle_event

from infrastructure.llm.routing.call_record import CallRecord

FALLBACK_EVENT = "llm_wrappers_fallback"
"""The name of the custom event sent for each hop: data `from_target`, `to_target`,
`reason`, `error_type`, `time`."""


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


def _hop_events(
    run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None,
    record: CallRecord,
) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """The arguments of `handle_event` for each hop (none without a run)."""
    if run_manager is None:
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
