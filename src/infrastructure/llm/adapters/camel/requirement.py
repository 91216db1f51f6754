"""The one check that camel-ai is installed, with an error that names the extra to install."""

from __future__ import annotations

import importlib.util

from infrastructure.llm.errors import LLMWrapperError


def require_camel() -> None:
    """Raise a clear error when camel-ai is missing (it is the `camel` extra)."""
    if importlib.util.find_spec("camel") is None:
        raise LLMWrapperError(
            "the CAMEL adapter needs camel-ai: pip install 'langchain-llm-wrappers[camel]' "
            "(in a virtualenv of its own: camel-ai pins pydantic<=2.12.0)"
        )
