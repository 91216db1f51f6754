"""Request capture, junk bodies and outcome counting, without a server."""

from __future__ import annotations

import json

import pytest

from infrastructure.llm.sim import CapturedRequest
from infrastructure.llm.sim.capture import RequestLog
from infrastructure.llm.sim.http11 import reason_phrase, render_response
from infrastructure.llm.sim.payloads import no_choices_body, truncated_completion_body
from infrastructure.llm.sim.stats import StatsRecorder


def _entry(number: int) -> CapturedRequest:
    return CapturedRequest("/v1/chat/completions", {"x-n": str(number)}, {"n": number})


def test_request_log_keeps_the_most_recent_entries_oldest_first() -> None:
    log = RequestLog(limit=3)
    for number in range(5):
        log.add(_entry(number))
    assert [entry.body["n"] for entry in log.snapshot()] == [2, 3, 4]
    log.clear()
    assert log.snapshot() == []


def test_request_log_snapshot_is_a_copy_and_entries_are_frozen() -> None:
    log = RequestLog()
    log.add(_entry(1))
    snapshot = log.snapshot()
    snapshot.clear()
    assert len(log.snapshot()) == 1
    with pytest.raises(AttributeError):
        log.snapshot()[0].body = {}  # type: ignore[misc]


def test_request_log_limit_zero_keeps_nothing_and_negative_is_refused() -> None:
    log = RequestLog(limit=0)
    log.add(_entry(1))
    assert log.snapshot() == []
    with pytest.raises(ValueError, match="capture limit must be >= 0"):
        RequestLog(limit=-1)


def test_no_choices_body_is_a_completion_without_choices() -> None:
    body = json.loads(no_choices_body("chatcmpl-x", "m", 1))
    assert body == {"id": "chatcmpl-x", "object": "chat.completion", "created": 1, "model": "m"}


def test_truncated_completion_body_is_not_json() -> None:
    body = truncated_completion_body("chatcmpl-x", "m", 1)
    assert body.startswith(b'{"id":"chatcmpl-x"')
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)


def test_unregistered_status_codes_get_a_generic_reason_phrase() -> None:
    assert reason_phrase(400) == "Bad Request"
    assert reason_phrase(499) == "Client Error"
    assert reason_phrase(529) == "Server Error"
    assert render_response(529, b"{}", keep_alive=True).startswith(b"HTTP/1.1 529 Server Error\r\n")


def test_junk_is_an_outcome_that_ends_a_request() -> None:
    recorder = StatsRecorder()
    recorder.received()
    assert recorder.snapshot().in_flight == 1
    recorder.finished("junk")
    stats = recorder.snapshot()
    assert (stats.junk, stats.completed, stats.in_flight) == (1, 0, 0)
