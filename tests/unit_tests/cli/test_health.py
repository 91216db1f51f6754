"""What `llm-wrappers health` (and every other report) may show of an instance's URL."""

from __future__ import annotations

from infrastructure.llm.redaction import public_url


def test_credentials_in_a_url_are_not_shown() -> None:
    assert public_url("https://user:secret@example.com:8443/v1?x=1") == (
        "https://example.com:8443/v1?x=1"
    )
    assert public_url("http://127.0.0.1:8001/v1") == "http://127.0.0.1:8001/v1"
    assert public_url("http://h/v1?api_key=abc123secret") == "http://h/v1?api_key=***"
