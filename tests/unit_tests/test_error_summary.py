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


def test_a_terse_client_error_is_followed_by_its_root_cause() -> None:
    try:
        try:
            raise ConnectionRefusedError("[Errno 111] Connection refused")
        except ConnectionRefusedError as refused:
            raise OSError("Connection error.") from refused
    except OSError as terse:
        assert describe_error(terse) == (
            "OSError: Connection error. ([Errno 111] Connection refused)"
        )


def test_a_message_that_names_its_place_loses_that_prefix_when_the_caller_names_it() -> None:
    exc = RuntimeError("a#0: the stream ended without a single chunk")
    assert describe_error(exc, "a#0") == "RuntimeError: the stream ended without a single chunk"
    assert (
        describe_error(exc, "b#0") == "RuntimeError: a#0: the stream ended without a single chunk"
    )
