"""Node settings validated by pydantic, with errors that name the node and the key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from infrastructure.llm.errors import LLMWrapperError

SettingsT = TypeVar("SettingsT", bound=BaseModel)


def parse_settings(model: type[SettingsT], settings: Mapping[str, Any], where: str) -> SettingsT:
    """`settings` validated as `model`; an LLMWrapperError names `where` and each bad key."""
    try:
        return model.model_validate(dict(settings))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(settings)'}: {e['msg']}"
            for e in exc.errors()
        )
        raise LLMWrapperError(f"{where}: {problems}") from None
