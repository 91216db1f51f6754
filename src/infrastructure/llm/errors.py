"""Exceptions raised by the routing layer; each one says what failed and where."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from infrastructure.llm.redaction import redact


class LLMWrapperError(Exception):
    """Base class for every error this package raises on purpose."""


@dataclass(frozen=True)
class ConfigIssue:
    """One problem found in one configuration file."""

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return f"{where}: {self.message}"


class ConfigError(LLMWrapperError):
    """Configuration could not be loaded; lists every issue found, each naming file and field."""

    def __init__(self, issues: Sequence[ConfigIssue]) -> None:
        self.issues = list(issues)
        lines = [str(issue) for issue in self.issues]
        head = "invalid LLM configuration" if len(lines) != 1 else "invalid LLM configuration:"
        body = lines[0] if len(lines) == 1 else "\n".join(f"  - {line}" for line in lines)
        super().__init__(f"{head} {body}" if len(lines) == 1 else f"{head}:\n{body}")


class NoCapacityError(LLMWrapperError):
    """An echelon's concurrency or rpm limit had no room before the call's time ran out."""


class CircuitOpenError(LLMWrapperError):
    """Every instance of a target has an open circuit breaker."""


class DeadlineExceededError(LLMWrapperError):
    """The per-call deadline passed before any target answered."""


class AttemptTimeoutError(LLMWrapperError, TimeoutError):
    """An attempt took longer than it may (its timeout, or for a stream the call's deadline),
    however slowly the server kept sending; the instance was too slow."""


class InvalidResponseError(LLMWrapperError):
    """An instance answered 2xx with something that is not a chat completion (an HTML page,
    JSON without choices, a broken body, a stream without a chunk): the instance's fault."""


class EmptyStreamError(InvalidResponseError):
    """A stream ended without a single chunk."""

    def __init__(self, instance: str) -> None:
        super().__init__(f"{instance}: the stream ended without a single chunk")


class AllTargetsFailedError(LLMWrapperError):
    """Every target the fallback chain allowed was tried and none answered."""

    def __init__(self, message: str, attempts: Sequence[str], last_error: BaseException | None):
        self.attempts = list(attempts)
        self.last_error = last_error
        super().__init__(message)


class StreamInterruptedError(LLMWrapperError):
    """A stream failed after chunks were already delivered; the partial text is kept here."""

    def __init__(self, message: str, partial_text: str, cause: BaseException) -> None:
        self.partial_text = partial_text
        self.cause = cause
        super().__init__(f"{message} (after {len(partial_text)} characters of output)")


class MigrationError(LLMWrapperError):
    """A config migration could not be carried out; the message says what was left as it was."""


def error_summary(exc: BaseException, limit: int = 200) -> str:
    """The first line of an error's message, secrets masked, cut to `limit` characters ("" when
    it has none)."""
    lines = redact(str(exc)).strip().splitlines()
    return lines[0][:limit] if lines else ""


def describe_error(exc: BaseException, where: str = "") -> str:
    """`ErrorType: first line of the message`, for histories, probes and final errors.

    A message that starts with `where: ` loses that prefix (the caller names the place). A
    terse client error ("Connection error.") is followed by its root cause, which says what
    really happened ("[Errno 111] Connection refused").
    """
    summary = error_summary(exc)
    if where and summary.startswith(f"{where}: "):
        summary = summary[len(where) + 2 :]
    root = _root_cause(exc)
    if root is not None and len(summary) < _TERSE:
        detail = error_summary(root, _TERSE * 4)
        if detail and detail not in summary:
            summary = f"{summary} ({detail})" if summary else detail
    return f"{type(exc).__name__}: {summary}" if summary else type(exc).__name__


# Messages shorter than this say too little alone: the root cause is added.
_TERSE = 40


def _root_cause(exc: BaseException) -> BaseException | None:
    """The innermost explicit cause of `exc` (`raise ... from`), None when it has none."""
    root = exc.__cause__
    seen = {id(exc)}
    while root is not None and root.__cause__ is not None and id(root) not in seen:
        seen.add(id(root))
        root = root.__cause__
    return root
