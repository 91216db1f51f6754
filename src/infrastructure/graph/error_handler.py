"""Turn a failure inside a LangGraph node into a state update a person can read.

A node that catches an exception hands it to `ErrorHandler` and returns what it gets back instead
of crashing the graph. The result keeps the rest of the state, appends an `ErrorRecord` (technical,
secrets-free) to `errors`, and carries a short, polite message for the end user in English or
Simplified Chinese. What an exception *means* (retryable, misconfigured, fatal) is decided by
`infrastructure.llm.resilience.error_classification`; this module only words it for people.

Two ways to use it, with the same methods:

    state = ErrorHandler.handle_llm_error(exc, state)               # the configured language
    state = ErrorHandler(language="zh").handle_llm_error(exc, state)

The language of a handler not given one is set once per process, in this order of precedence:
`ErrorHandler.configure(language="zh")` (the application's own choice), then the environment
variable `LLM_WRAPPERS_LANGUAGE` (the deployment's default), then English.

Two shapes of result:

  * `handle_llm_error` / `handle_tool_error` / `handle_state_error` / `handle_routing_error`
    return the whole new state: a new dict with every key of `state`, plus `errors` (the old
    records and the new one), `last_error` (the new record) and `user_message` (the text).
    For plain-dict states without reducers, as in the seed.
  * `update_for` returns only the delta for a messages graph: the same `errors`, `last_error` and
    `user_message`, plus `messages: [AIMessage(<user message>)]` to be appended by `add_messages`.
    Return it from a node whose state has `messages: Annotated[list, add_messages]`. LangGraph
    drops keys the state does not declare, so it also suits a bare `MessagesState`.

Either way `errors` is the complete new list, so the `errors` channel must be a plain
(last-value) list, not one with an appending reducer such as `operator.add`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Mapping
from enum import Enum
from types import MethodType
from typing import Any, ClassVar, Concatenate, Generic, Literal, ParamSpec, TypedDict, TypeVar

import openai
from langchain_core.exceptions import (
    ContextOverflowError,
    ModelInvalidRequestError,
    ModelRateLimitError,
    ModelTimeoutError,
)
from langchain_core.messages import AIMessage

from infrastructure.llm.errors import (
    AllTargetsFailedError,
    CircuitOpenError,
    ConfigError,
    DeadlineExceededError,
    LLMWrapperError,
    NoCapacityError,
    StreamInterruptedError,
    describe_error,
)
from infrastructure.llm.redaction import redact
from infrastructure.llm.resilience.error_classification import (
    ErrorKind,
    classify,
    http_error_types,
    retry_after,
    status_code,
)

logger = logging.getLogger(__name__)

Language = Literal["en", "zh"]
LANGUAGES: tuple[Language, ...] = ("en", "zh")
LANGUAGE_ENV = "LLM_WRAPPERS_LANGUAGE"
"""The environment variable naming the language of handlers not given one."""

ErrorSource = Literal["llm", "tool", "state", "routing"]
"""Where the failure happened; stored as the record's `type`."""


class ErrorCategory(str, Enum):
    """What the end user is told; one message per category and language."""

    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"
    BAD_REQUEST = "bad_request"
    MISCONFIGURED = "misconfigured"
    TOOL = "tool"
    STATE = "state"
    ROUTING = "routing"
    STREAM_INTERRUPTED = "stream_interrupted"
    UNEXPECTED = "unexpected"


class _RequiredRecordFields(TypedDict):
    type: ErrorSource
    category: str
    error_type: str
    message: str
    recoverable: bool
    retry_after: float | None
    time: float


class ErrorRecord(_RequiredRecordFields, total=False):
    """One entry of `state["errors"]`, safe to log, checkpoint and show to operators.

    `type`: the `ErrorSource`; `category`: an `ErrorCategory` value; `error_type`: the exception
    class name; `message`: `describe_error(exc)` (first line, at most 200 characters) with API
    keys, tokens and passwords masked; `recoverable`: `is_recoverable_error(exc)`; `retry_after`:
    seconds the server asked to wait, if any; `time`: `time.time()` when handled.
    Optional: `tool` (the tool's name, for tool errors when given) and `partial_text` (the text
    already delivered when a stream broke, so the partial answer is kept).
    """

    tool: str
    partial_text: str


_MESSAGES: dict[Language, dict[ErrorCategory, str]] = {
    "en": {
        ErrorCategory.RATE_LIMITED: (
            "Sorry, the service is busy right now. Please wait a moment and try again."
        ),
        ErrorCategory.UNAVAILABLE: (
            "Sorry, the AI service is temporarily unavailable. Please try again in a little while."
        ),
        ErrorCategory.TIMEOUT: "Sorry, the answer took too long. Please try again.",
        ErrorCategory.BAD_REQUEST: (
            "Sorry, your request could not be processed. It may be too long or contain content "
            "that is not allowed. Please rephrase it and try again."
        ),
        ErrorCategory.MISCONFIGURED: (
            "Sorry, the assistant is not set up correctly at the moment. "
            "Please contact the administrator."
        ),
        ErrorCategory.TOOL: (
            "Sorry, a tool the assistant needed did not work this time. Please try again shortly."
        ),
        ErrorCategory.STATE: (
            "Sorry, something went wrong with this conversation. Please try again or start over."
        ),
        ErrorCategory.ROUTING: (
            "Sorry, your request could not be sent to the right assistant. Please try again later."
        ),
        ErrorCategory.STREAM_INTERRUPTED: (
            "Sorry, the answer was interrupted. The part received so far has been kept; "
            "please ask again for the rest."
        ),
        ErrorCategory.UNEXPECTED: "Sorry, something went wrong. Please try again.",
    },
    "zh": {
        ErrorCategory.RATE_LIMITED: "抱歉，服务当前繁忙，请稍候再试。",
        ErrorCategory.UNAVAILABLE: "抱歉，AI 服务暂时不可用，请稍后再试。",
        ErrorCategory.TIMEOUT: "抱歉，回答生成超时，请重试。",
        ErrorCategory.BAD_REQUEST: (
            "抱歉，您的请求无法处理，可能内容过长或包含不允许的内容。请修改后重试。"
        ),
        ErrorCategory.MISCONFIGURED: "抱歉，助手当前配置有误，请联系管理员。",
        ErrorCategory.TOOL: "抱歉，助手所需的工具暂时无法使用，请稍后再试。",
        ErrorCategory.STATE: "抱歉，处理当前对话时出现问题，请重试或重新开始。",
        ErrorCategory.ROUTING: "抱歉，暂时无法将您的请求转给合适的助手，请稍后再试。",
        ErrorCategory.STREAM_INTERRUPTED: (
            "抱歉，回答中途被中断，已保留已收到的部分内容。如需完整回答，请重新提问。"
        ),
        ErrorCategory.UNEXPECTED: "抱歉，出现了问题，请重试。",
    },
}

_TIMEOUTS: tuple[type[BaseException], ...] = (
    TimeoutError,
    asyncio.TimeoutError,
    openai.APITimeoutError,
    ModelTimeoutError,
    *http_error_types("TimeoutException"),
)
_REQUEST_REJECTED = (
    ModelInvalidRequestError,
    ContextOverflowError,
    openai.ContentFilterFinishReasonError,
)

P = ParamSpec("P")
R = TypeVar("R")


class _LanguageBound(Generic[P, R]):
    """A method that runs on the handler it is called on or, called on the class, on a handler
    in the configured language; it lets both the seed's `ErrorHandler.handle_llm_error(e,
    state)` and `ErrorHandler(language="zh").handle_llm_error(e, state)` work. The language is
    read when the method is looked up, so a stored `ErrorHandler.handle_llm_error` keeps the
    language of that moment."""

    def __init__(self, func: Callable[Concatenate[ErrorHandler, P], R]) -> None:
        self._func = func
        self.__doc__ = func.__doc__

    def __get__(self, handler: ErrorHandler | None, owner: type[ErrorHandler]) -> Callable[P, R]:
        return MethodType(self._func, owner() if handler is None else handler)


class ErrorHandler:
    """Words node failures for the end user and records them in the graph state.

    A handler made without a `language`, and the methods called on the class, use
    `configured_language()`; see the module docstring for the order of precedence.
    """

    default_language: ClassVar[str | None] = None
    """Set by `configure`; None leaves the choice to `LLM_WRAPPERS_LANGUAGE`, then English."""

    def __init__(self, language: str | None = None) -> None:
        self.language: Language = (
            self.configured_language() if language is None else _checked(language, "language")
        )

    @classmethod
    def configure(cls, language: str) -> None:
        """Set the language of every handler not given one, for this process; it wins over
        `LLM_WRAPPERS_LANGUAGE`."""
        cls.default_language = _checked(language, "ErrorHandler.configure(language=...)")

    @classmethod
    def configured_language(cls) -> Language:
        """`configure`'s language, else `$LLM_WRAPPERS_LANGUAGE` (when set and not empty),
        else "en". A value that is not a supported language is a ValueError naming its source."""
        if cls.default_language is not None:
            return _checked(cls.default_language, "ErrorHandler.default_language")
        from_env = os.environ.get(LANGUAGE_ENV, "").strip()
        if from_env:
            return _checked(from_env, f"environment variable {LANGUAGE_ENV}")
        return "en"

    @_LanguageBound
    def handle_llm_error(self, exc: BaseException, state: Mapping[str, Any]) -> dict[str, Any]:
        """The new state after a model call failed (see the module docstring for the shape)."""
        return {**state, **self._report(exc, state, "llm", None)}

    @_LanguageBound
    def handle_tool_error(
        self, exc: BaseException, state: Mapping[str, Any], tool_name: str | None = None
    ) -> dict[str, Any]:
        """The new state after a tool failed; `tool_name`, if given, goes into the record only."""
        return {**state, **self._report(exc, state, "tool", tool_name)}

    @_LanguageBound
    def handle_state_error(self, exc: BaseException, state: Mapping[str, Any]) -> dict[str, Any]:
        """The new state after reading or updating the state itself failed."""
        return {**state, **self._report(exc, state, "state", None)}

    @_LanguageBound
    def handle_routing_error(self, exc: BaseException, state: Mapping[str, Any]) -> dict[str, Any]:
        """The new state after choosing the next node or the wrapper to call failed."""
        return {**state, **self._report(exc, state, "routing", None)}

    @_LanguageBound
    def update_for(
        self,
        exc: BaseException,
        state: Mapping[str, Any],
        *,
        source: ErrorSource = "llm",
        tool_name: str | None = None,
    ) -> dict[str, Any]:
        """Only the changes, for a node of a messages graph to return.

        `{"messages": [AIMessage], "errors": [...], "last_error": record, "user_message": text}`.
        The AIMessage's content is the user message, preceded by the partial answer when a
        stream broke after output; its `response_metadata["error"]` holds the record's
        `category`, `error_type` and `recoverable` so UIs and later nodes can tell it apart.
        """
        update = self._report(exc, state, source, tool_name)
        record: ErrorRecord = update["last_error"]
        partial = record.get("partial_text", "")
        content = f"{partial}\n\n{update['user_message']}" if partial else update["user_message"]
        message = AIMessage(
            content=content,
            response_metadata={
                "error": {key: record[key] for key in ("category", "error_type", "recoverable")}
            },
        )
        return {"messages": [message], **update}

    @_LanguageBound
    def user_message(self, exc: BaseException, source: ErrorSource = "llm") -> str:
        """The short text for the end user; it never contains the exception's own message."""
        return _MESSAGES[self.language][_category(exc, source)]

    @staticmethod
    def is_recoverable_error(exc: BaseException) -> bool:
        """Whether trying again later may succeed.

        True for what `classify` calls RETRYABLE (including NoCapacityError and
        CircuitOpenError), DeadlineExceededError, StreamInterruptedError (the whole answer can be
        asked for again) and AllTargetsFailedError whose last error is itself recoverable.
        False for everything else: ConfigError, misconfigured instances, rejected requests and
        programming errors such as ValueError, KeyError or TypeError.
        """
        if isinstance(exc, AllTargetsFailedError):
            last = exc.last_error
            return last is not None and ErrorHandler.is_recoverable_error(last)
        if isinstance(exc, (DeadlineExceededError, StreamInterruptedError)):
            return True
        return classify(exc) is ErrorKind.RETRYABLE

    @staticmethod
    def should_retry(exc: BaseException, attempt: int, max_attempts: int = 3) -> bool:
        """Whether to try again after attempt number `attempt` (counting from 1) failed."""
        return attempt < max_attempts and ErrorHandler.is_recoverable_error(exc)

    def _report(
        self,
        exc: BaseException,
        state: Mapping[str, Any],
        source: ErrorSource,
        tool_name: str | None,
    ) -> dict[str, Any]:
        """The keys every handler changes: `errors`, `last_error` and `user_message`."""
        record: ErrorRecord = {
            "type": source,
            "category": _category(exc, source).value,
            "error_type": type(exc).__name__,
            "message": redact(describe_error(exc)),
            "recoverable": ErrorHandler.is_recoverable_error(exc),
            "retry_after": retry_after(exc),
            "time": time.time(),
        }
        if tool_name is not None:
            record["tool"] = tool_name
        if isinstance(exc, StreamInterruptedError) and exc.partial_text:
            record["partial_text"] = exc.partial_text
        logger.warning("%s error in a graph node: %s", source, record["message"])
        return {
            "errors": [*(state.get("errors") or []), record],
            "last_error": record,
            "user_message": self.user_message(exc, source),
        }


def _checked(language: str, source: str) -> Language:
    """`language` if it is supported; otherwise a ValueError naming `source`."""
    if language not in LANGUAGES:
        raise ValueError(
            f"{source}: unsupported language {language!r}; expected one of: {', '.join(LANGUAGES)}"
        )
    return language  # type: ignore[return-value]


def _category(exc: BaseException, source: ErrorSource) -> ErrorCategory:
    """What to tell the user: fixed for tool, state and routing failures, by cause for models."""
    if source == "tool":
        return ErrorCategory.TOOL
    if source == "state":
        return ErrorCategory.STATE
    if source == "routing":
        return ErrorCategory.ROUTING
    return _llm_category(exc)


def _llm_category(exc: BaseException) -> ErrorCategory:
    if isinstance(exc, StreamInterruptedError):
        return ErrorCategory.STREAM_INTERRUPTED
    if isinstance(exc, AllTargetsFailedError):
        last = exc.last_error
        if last is not None and classify(last) is ErrorKind.MISCONFIGURED:
            return ErrorCategory.MISCONFIGURED
        return ErrorCategory.UNAVAILABLE
    if isinstance(exc, CircuitOpenError):
        return ErrorCategory.UNAVAILABLE
    if isinstance(exc, DeadlineExceededError):
        return ErrorCategory.TIMEOUT
    if isinstance(exc, NoCapacityError):
        return ErrorCategory.RATE_LIMITED
    if isinstance(exc, ConfigError):
        return ErrorCategory.MISCONFIGURED
    if isinstance(exc, LLMWrapperError):
        # The factory's own errors: no wrapper by that name, bad wrapper options.
        return ErrorCategory.ROUTING
    kind = classify(exc)
    status = status_code(exc)
    if kind is ErrorKind.MISCONFIGURED:
        return ErrorCategory.MISCONFIGURED
    if kind is ErrorKind.RETRYABLE:
        if status == 429 or isinstance(exc, ModelRateLimitError):
            return ErrorCategory.RATE_LIMITED
        if status == 408 or isinstance(exc, _TIMEOUTS):
            return ErrorCategory.TIMEOUT
        return ErrorCategory.UNAVAILABLE
    if isinstance(exc, _REQUEST_REJECTED) or (status is not None and 400 <= status < 500):
        return ErrorCategory.BAD_REQUEST
    return ErrorCategory.UNEXPECTED
