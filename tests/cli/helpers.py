"""What the `llm-wrappers` tests share: the outcome of one run, and where things are."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from conftest import openai_model

REPO_CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "llms"
API_KEY = openai_model()["api_key"]  # the secret every test registry entry carries


@dataclass(frozen=True)
class Outcome:
    """Exit status and captured output of one in-process run."""

    code: int
    out: str
    err: str


RunCli = Callable[..., Outcome]
