"""How errors are summarised for fallback histories, probes and final messages."""

from __future__ import annotations

from infrastructure.llm.errors import describe_error, error_summary


def test_summary_is_the_first_line_cut_to_the_limit() -> None:
    exc = RuntimeError("x" * 300 + "\nsecond line")
    assert error_summary(exc) == "x" * 200
    assert describe_error(exc) == "RuntimeError: " + "x" * 200


def test_an_error_without_a_message_is_named_by_its_type() -> None:
    # A timeout raised with no message must not break the history or the final error.
    assert error_summary(TimeoutError()) == ""
    assert describe_error(TimeoutError()) == "TimeoutError"
