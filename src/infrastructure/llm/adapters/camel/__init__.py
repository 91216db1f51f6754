"""The CAMEL model backend (`pip install 'langchain-llm-wrappers[camel]'`): a CAMEL `ChatAgent`,
and OASIS agents built on it, get the routing of a wrapper chosen by name.

`WrapperModelBackend` and `OfflineTokenCounter` import `camel` on first use, so the converters
in this package work without it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infrastructure.llm.adapters.camel.backend import WrapperModelBackend
    from infrastructure.llm.adapters.camel.token_counter import OfflineTokenCounter

_EXPORTS = {
    "WrapperModelBackend": "infrastructure.llm.adapters.camel.backend",
    "OfflineTokenCounter": "infrastructure.llm.adapters.camel.token_counter",
}

__all__ = ["OfflineTokenCounter", "WrapperModelBackend"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
