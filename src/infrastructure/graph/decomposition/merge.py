"""Putting sub-answers together: numbered headings, or the request for a model to synthesise."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from infrastructure.graph.error_handler import ErrorRecord

SYNTHESIS_INSTRUCTIONS = (
    "You are given a question and answers to its parts. Write one coherent answer to the whole "
    "question from them, in the question's language. Do not mention the parts."
)


class NearQuestion(TypedDict):
    """A cached question given to a sub-question as context, and how similar it was."""

    question: str
    similarity: float


class SubAnswer(TypedDict):
    """One sub-question and its answer; on failure (with `on_error: message`) the answer is the
    user message and `error` the record, else `error` is None."""

    index: int
    question: str
    answer: str
    context: list[NearQuestion]
    error: ErrorRecord | None


def with_headings(answers: Sequence[SubAnswer]) -> str:
    """The answers under numbered headings of their sub-questions; one answer stands alone."""
    if len(answers) == 1:
        return answers[0]["answer"]
    return "\n\n".join(
        f"### {number}. {item['question']}\n\n{item['answer']}"
        for number, item in enumerate(answers, 1)
    )


def synthesis_request(question: str, answers: Sequence[SubAnswer]) -> list[BaseMessage]:
    """The messages asking a model to merge `answers` into one answer to `question`."""
    parts = "\n\n".join(
        f"Part {number}: {item['question']}\nAnswer: {item['answer']}"
        for number, item in enumerate(answers, 1)
    )
    return [SystemMessage(SYNTHESIS_INSTRUCTIONS), HumanMessage(f"Question: {question}\n\n{parts}")]
