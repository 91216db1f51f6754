"""DecomposeNode: split the last user question into sub-questions, answer them in parallel
(LangGraph `Send`), merge the answers into one reply.

Inside, a small graph: `split` -> one `answer` per sub-question, sent in parallel -> `merge`.
The node returns `{"messages": [AIMessage(merged)], "decomposition": {...}}`, and with
`on_error: message` also `errors` and `last_error` when a part failed (see `WorkflowState`).
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Send
from pydantic import BaseModel, ConfigDict, Field, model_validator

from infrastructure.graph.decomposition.merge import (
    NearQuestion,
    SubAnswer,
    synthesis_request,
    with_headings,
)
from infrastructure.graph.decomposition.rules import split_question
from infrastructure.graph.decomposition.structured import SubQuestions, split_request, usable
from infrastructure.graph.error_handler import ErrorHandler, ErrorRecord
from infrastructure.graph.nodes.settings import parse_settings
from infrastructure.graph.nodes.state_node import StateNode
from infrastructure.llm.cache.lookup import NearAnswer
from infrastructure.llm.errors import LLMWrapperError, describe_error
from infrastructure.llm.redaction import redact
from infrastructure.llm.wrappers.factory import LLMWrapperFactory

logger = logging.getLogger(__name__)

CONTEXT_HEADING = "Related questions answered before:"


class DecomposeSettings(BaseModel):
    """What a DecomposeNode asks, of which wrappers, and what it does when a part fails."""

    model_config = ConfigDict(extra="forbid")

    answer_wrapper: str
    answer_prompt: str | None = None
    splitter: Literal["rules", "llm"] = "rules"
    split_wrapper: str | None = None
    max_sub_questions: int = Field(default=8, ge=1)
    merge: Literal["headings", "synthesize"] = "headings"
    merge_wrapper: str | None = None
    cache_context: bool = False
    context_limit: int = Field(default=3, ge=1)
    on_error: Literal["raise", "message"] = "raise"
    error_language: Literal["en", "zh"] | None = None

    @model_validator(mode="after")
    def _wrappers_match_modes(self) -> DecomposeSettings:
        for mode, wanted, key in (
            (self.splitter, "llm", "split_wrapper"),
            (self.merge, "synthesize", "merge_wrapper"),
        ):
            named = getattr(self, key) is not None
            if mode == wanted and not named:
                raise ValueError(f"{key}: required when {_mode_key(key)} is {wanted!r}")
            if mode != wanted and named:
                raise ValueError(f"{key}: only used when {_mode_key(key)} is {wanted!r}")
        return self


def _mode_key(key: str) -> str:
    return "splitter" if key == "split_wrapper" else "merge"


class Decomposition(TypedDict):
    """What the state records: the question, how it was split, the parts and their answers."""

    question: str
    splitter: Literal["rules", "llm"]
    fallback: str | None
    sub_questions: list[str]
    answers: list[SubAnswer]


class _Run(TypedDict, total=False):
    """The inner graph's state."""

    question: str
    splitter: Literal["rules", "llm"]
    fallback: str | None
    sub_questions: list[str]
    answers: Annotated[list[SubAnswer], operator.add]
    reply: str
    errors: list[ErrorRecord]


class _Part(TypedDict):
    """What one `answer` branch is sent."""

    index: int
    question: str


class DecomposeNode(StateNode):
    """A LangGraph node answering a complex question part by part through named wrappers.

    The wrappers named in `config` must exist in `wrapper_factory` (checked here, so a
    workflow fails at build time); with `cache_context`, the answer wrapper needs a semantic
    cache. The input state is never mutated.
    """

    def __init__(
        self,
        wrapper_factory: LLMWrapperFactory,
        *,
        config: Mapping[str, Any],
        name: str = "decompose",
    ) -> None:
        self.name = name
        self.wrapper_factory = wrapper_factory
        self.settings = parse_settings(DecomposeSettings, config, f"node {name!r}")
        if self.settings.error_language is None:
            ErrorHandler.configured_language()  # a bad LLM_WRAPPERS_LANGUAGE fails at build
        for key in ("answer_wrapper", "split_wrapper", "merge_wrapper"):
            wrapper = getattr(self.settings, key)
            if wrapper is not None:
                try:
                    wrapper_factory.get_wrapper(wrapper)
                except LLMWrapperError as exc:
                    raise LLMWrapperError(f"node {name!r}: {key}: {exc}") from None
        if self.settings.cache_context:
            cache = wrapper_factory.get_wrapper(self.settings.answer_wrapper).response_cache
            if cache is None or cache.policy.search is None:
                raise LLMWrapperError(
                    f"node {name!r}: cache_context: wrapper {self.settings.answer_wrapper!r} "
                    "has no semantic cache (cache: {mode: semantic} on its group or pool)"
                )
        self.graph = self._graph()

    # -- the inner graph ----------------------------------------------------------------------

    def _graph(self) -> CompiledStateGraph:
        graph = StateGraph(_Run)
        graph.add_node("split", RunnableLambda(self._split, self._asplit, name="split"))
        graph.add_node("answer", RunnableLambda(self._answer, self._aanswer, name="answer"))
        graph.add_node("merge", RunnableLambda(self._merge, self._amerge, name="merge"))
        graph.add_edge(START, "split")
        graph.add_conditional_edges("split", self._fan_out, ["answer"])
        graph.add_edge("answer", "merge")
        graph.add_edge("merge", END)
        return graph.compile(name=self.name)

    @staticmethod
    def _fan_out(run: _Run) -> list[Send]:
        """One `answer` branch per sub-question, all run in the same step."""
        return [
            Send("answer", _Part(index=index, question=question))
            for index, question in enumerate(run["sub_questions"])
        ]

    # -- split --------------------------------------------------------------------------------

    def _split(self, run: _Run, config: RunnableConfig) -> _Run:
        question = run["question"]
        if self.settings.splitter == "rules":
            return self._split_by_rules(question)
        try:
            output = self._splitter().invoke(split_request(question), config)
            return self._split_by_model(usable(output))
        except Exception as exc:
            return self._split_by_rules(question, exc)

    async def _asplit(self, run: _Run, config: RunnableConfig) -> _Run:
        question = run["question"]
        if self.settings.splitter == "rules":
            return self._split_by_rules(question)
        try:
            output = await self._splitter().ainvoke(split_request(question), config)
            return self._split_by_model(usable(output))
        except Exception as exc:
            return self._split_by_rules(question, exc)

    def _splitter(self) -> Runnable[Any, Any]:
        assert self.settings.split_wrapper is not None
        model = self.wrapper_factory.get_wrapper(self.settings.split_wrapper)
        return model.with_structured_output(SubQuestions)

    def _split_by_model(self, parts: list[str]) -> _Run:
        return {"splitter": "llm", "fallback": None, "sub_questions": self._capped(parts)}

    def _split_by_rules(self, question: str, failure: Exception | None = None) -> _Run:
        """The rules' split; after `failure` of the model splitter, saying so in the log and
        in `decomposition.fallback`."""
        fallback = None
        if failure is not None:
            fallback = redact(describe_error(failure))
            logger.warning(
                "node %r: split_wrapper %r gave no usable sub-questions (%s); split by rules",
                self.name,
                self.settings.split_wrapper,
                fallback,
            )
        parts = self._capped(split_question(question))
        return {"splitter": "rules", "fallback": fallback, "sub_questions": parts}

    def _capped(self, parts: list[str]) -> list[str]:
        """At most `max_sub_questions` parts: the ones past the limit join the last."""
        limit = self.settings.max_sub_questions
        if len(parts) <= limit:
            return parts
        return [*parts[: limit - 1], " ".join(parts[limit - 1 :])]

    # -- answer -------------------------------------------------------------------------------

    def _answer(self, part: _Part, config: RunnableConfig) -> _Run:
        try:
            model = self._answerer()
            near = self._near(model, part["question"])
            reply = model.invoke(self._request(part["question"], near), config)
        except Exception as exc:
            return self._failed_part(part, exc)
        return self._answered(part, reply, near)

    async def _aanswer(self, part: _Part, config: RunnableConfig) -> _Run:
        try:
            model = self._answerer()
            near = await self._anear(model, part["question"])
            reply = await model.ainvoke(self._request(part["question"], near), config)
        except Exception as exc:
            return self._failed_part(part, exc)
        return self._answered(part, reply, near)

    def _answerer(self) -> BaseChatModel:
        return self.wrapper_factory.get_wrapper(self.settings.answer_wrapper)

    def _prompt(self) -> list[BaseMessage]:
        prompt = self.settings.answer_prompt
        return [SystemMessage(prompt)] if prompt else []

    def _near(self, model: BaseChatModel, question: str) -> list[NearAnswer]:
        """Cached pairs near `question` among plain answer calls (prompt + question)."""
        cache = getattr(model, "response_cache", None)
        if not self.settings.cache_context or cache is None:
            return []
        return cache.neighbours(question, self._prompt())[: self.settings.context_limit]

    async def _anear(self, model: BaseChatModel, question: str) -> list[NearAnswer]:
        cache = getattr(model, "response_cache", None)
        if not self.settings.cache_context or cache is None:
            return []
        found = await cache.aneighbours(question, self._prompt())
        return found[: self.settings.context_limit]

    def _request(self, question: str, near: Sequence[NearAnswer]) -> list[BaseMessage]:
        """The answer prompt, the neighbours as context when there are any, the question."""
        system = [self.settings.answer_prompt or ""]
        if near:
            pairs = "\n\n".join(f"Q: {n.question}\nA: {n.answer}" for n in near)
            system.append(f"{CONTEXT_HEADING}\n\n{pairs}")
        text = "\n\n".join(part for part in system if part)
        return [*([SystemMessage(text)] if text else []), HumanMessage(question)]

    @staticmethod
    def _answered(part: _Part, reply: BaseMessage, near: Sequence[NearAnswer]) -> _Run:
        context = [NearQuestion(question=n.question, similarity=n.similarity) for n in near]
        answer = SubAnswer(
            index=part["index"],
            question=part["question"],
            answer=reply.text,
            context=context,
            error=None,
        )
        return {"answers": [answer]}

    def _failed_part(self, part: _Part, exc: Exception) -> _Run:
        record, text = self._handled(exc)
        answer = SubAnswer(
            index=part["index"], question=part["question"], answer=text, context=[], error=record
        )
        return {"answers": [answer]}

    def _handled(self, exc: Exception) -> tuple[ErrorRecord, str]:
        """Raise `exc` (`on_error: raise`), or its record and the user's message."""
        if self.settings.on_error == "raise":
            raise exc
        update = ErrorHandler(self.settings.error_language).handle_llm_error(exc, {})
        return update["last_error"], update["user_message"]

    # -- merge --------------------------------------------------------------------------------

    def _merge(self, run: _Run, config: RunnableConfig) -> _Run:
        answers = _in_order(run)
        if self.settings.merge == "headings" or len(answers) == 1:
            return self._merged(answers, with_headings(answers))
        try:
            reply = self._merger().invoke(synthesis_request(run["question"], answers), config)
        except Exception as exc:
            return self._merged(answers, with_headings(answers), exc)
        return self._merged(answers, reply.text)

    async def _amerge(self, run: _Run, config: RunnableConfig) -> _Run:
        answers = _in_order(run)
        if self.settings.merge == "headings" or len(answers) == 1:
            return self._merged(answers, with_headings(answers))
        request = synthesis_request(run["question"], answers)
        try:
            reply = await self._merger().ainvoke(request, config)
        except Exception as exc:
            return self._merged(answers, with_headings(answers), exc)
        return self._merged(answers, reply.text)

    def _merger(self) -> BaseChatModel:
        assert self.settings.merge_wrapper is not None
        return self.wrapper_factory.get_wrapper(self.settings.merge_wrapper)

    def _merged(
        self, answers: list[SubAnswer], reply: str, failure: Exception | None = None
    ) -> _Run:
        """The reply and the errors of the failed parts; a synthesis that failed (with
        `on_error: message`) leaves the headings and adds its own error."""
        errors = [item["error"] for item in answers if item["error"] is not None]
        if failure is not None:
            errors.append(self._handled(failure)[0])
        return {"reply": reply, "errors": errors}

    # -- the node -----------------------------------------------------------------------------

    def execute(
        self, state: Mapping[str, Any], config: RunnableConfig | None = None
    ) -> dict[str, Any]:
        """Decompose the last user message of `state`; return the state update."""
        return self._update(state, self.graph.invoke(self._start(state), config))

    async def aexecute(
        self, state: Mapping[str, Any], config: RunnableConfig | None = None
    ) -> dict[str, Any]:
        """Async twin of `execute`."""
        return self._update(state, await self.graph.ainvoke(self._start(state), config))

    def _start(self, state: Mapping[str, Any]) -> _Run:
        for message in reversed(state.get("messages") or []):
            if isinstance(message, HumanMessage):
                return {"question": message.text}
        raise LLMWrapperError(f"node {self.name!r}: the state has no user message to decompose")

    @staticmethod
    def _update(state: Mapping[str, Any], run: _Run) -> dict[str, Any]:
        answers = _in_order(run)
        decomposition = Decomposition(
            question=run["question"],
            splitter=run["splitter"],
            fallback=run["fallback"],
            sub_questions=run["sub_questions"],
            answers=answers,
        )
        update: dict[str, Any] = {
            "messages": [AIMessage(run["reply"])],
            "decomposition": decomposition,
        }
        if run["errors"]:
            update["errors"] = [*(state.get("errors") or []), *run["errors"]]
            update["last_error"] = run["errors"][-1]
        return update


def _in_order(run: _Run) -> list[SubAnswer]:
    return sorted(run.get("answers") or [], key=lambda item: item["index"])
