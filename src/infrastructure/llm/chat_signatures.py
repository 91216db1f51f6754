"""Chat models whose `_generate`/`_agenerate` signatures are computed once.

LangChain's `BaseChatModel` asks `inspect.signature` on every call whether the model's
`_generate` (or `_agenerate`) takes a `run_manager`; building that signature costs a call
about 9 µs, more than the routing of a call. A function's `__signature__`, which `inspect`
returns as it is, makes the answer a lookup.
"""

from __future__ import annotations

import inspect
from typing import TypeVar

ChatModelClass = TypeVar("ChatModelClass", bound=type)

_INSPECTED_PER_CALL = ("_generate", "_agenerate")


def signatures_computed_once(cls: ChatModelClass) -> ChatModelClass:
    """Class decorator: give the class's own `_generate` and `_agenerate` a `__signature__`."""
    for name in _INSPECTED_PER_CALL:
        method = cls.__dict__.get(name)
        if method is not None:
            method.__signature__ = inspect.signature(method)
    return cls
