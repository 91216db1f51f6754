"""`llm-wrappers health`: what a row may show of an instance's URL."""

from __future__ import annotations

from infrastructure.llm.cli.health import public_url


def test_credentials_in_a_url_are_not_shown() -> None:
    assert public_url("https://user:secret@example.com:8443/v1?x=1") == (
        "https://example.com:8443/v1?x=1"
    )
    assert public_url("http://127.0.0.1:8001/v1") == "http://127.0.0.1:8001/v1"
    assert public_url(None) == "-"
