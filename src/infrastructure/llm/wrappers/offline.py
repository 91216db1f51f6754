"""Offline answers (seed 003's simulated mode): the mock provider answers the calls no
instance answered, for a group or pool that opts in with `offline_fallback: mock`.

Only a call that ends in AllTargetsFailedError goes offline. A request the model refused
(a 400 or 422, confirmed on a second instance) raises as before: a mock answer would hide a
bad request. A stream that broke after its first chunk raises StreamInterruptedError as before.
"""

from __future__ import annotations

from infrastructure.llm.config.schema import OfflineFallback
from infrastructure.llm.providers.mock import MockChatModel

OFFLINE_MODEL = "offline-mock"
"""The model name offline answers carry in their metadata."""


def offline_model(setting: OfflineFallback) -> MockChatModel | None:
    """The model that answers a wrapper's calls when no instance does, or None (they fail)."""
    return MockChatModel(model=OFFLINE_MODEL) if setting == "mock" else None
