"""Asking a model for the sub-questions: the schema, the prompt, and what output is usable.

The model is asked with `with_structured_output(SubQuestions)`; `usable` decides whether its
answer can be used, and says why not, so the caller can fall back to the rules.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, Field

SPLIT_INSTRUCTIONS = (
    "Split the user's question into the smallest set of self-contained sub-questions that "
    "together cover it. Keep the user's language. Resolve pronouns so each sub-question can be "
    "answered on its own. A question that is already simple is its own only sub-question."
)


class SubQuestions(BaseModel):
    """The sub-questions of one question, in the order they should be answered."""

    sub_questions: list[str] = Field(
        min_length=1, description="self-contained sub-questions, in the user's language"
    )


def split_request(question: str) -> list[BaseMessage]:
    """The messages asking a model to split `question`."""
    return [SystemMessage(SPLIT_INSTRUCTIONS), HumanMessage(f'Question: "{question}"')]


def usable(output: Any) -> list[str]:
    """The distinct, non-blank sub-questions in `output`, in order; ValueError saying why
    there are none worth using."""
    if isinstance(output, dict):
        output = SubQuestions.model_validate(output)
    if not isinstance(output, SubQuestions):
        raise ValueError(f"expected SubQuestions, got {type(output).__name__}")
    parts = [part.strip() for part in output.sub_questions if part.strip()]
    if not parts:
        raise ValueError("the model returned no sub-question that is not blank")
    return list(dict.fromkeys(parts))
