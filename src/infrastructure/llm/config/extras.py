"""Whether an optional extra a config asks for is installed, and how to say it is not."""

from __future__ import annotations

import importlib.util


def missing_extra(module: str, extra: str, wanted_by: str) -> str | None:
    """None when `module` can be imported; else an error for `wanted_by` naming the extra."""
    if importlib.util.find_spec(module) is not None:
        return None
    return f"{wanted_by} needs the {extra} extra: pip install 'langchain-llm-wrappers[{extra}]'"
