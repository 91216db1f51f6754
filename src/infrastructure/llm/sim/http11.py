"""The slice of HTTP/1.1 the simulator speaks: parse requests, render responses and chunks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 32 * 1024 * 1024
LAST_CHUNK = b"0\r\n\r\n"


@dataclass(frozen=True)
class HttpRequest:
    """One parsed request; header names are lower-cased, the query string is dropped."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    keep_alive: bool


class HttpParseError(Exception):
    """The bytes on the wire are not a request we can answer; the connection must close."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def take_request(buffer: bytearray) -> HttpRequest | None:
    """Remove and return the first complete request in `buffer`, or None if it is partial."""
    head_end = buffer.find(b"\r\n\r\n")
    if head_end < 0:
        if len(buffer) > MAX_HEAD_BYTES:
            raise HttpParseError(431, "request head too large")
        return None
    lines = bytes(buffer[:head_end]).decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise HttpParseError(400, f"malformed request line {lines[0]!r}")
    method, target, version = parts
    headers = _parse_headers(lines[1:])
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise HttpParseError(501, "chunked request bodies are not supported; send Content-Length")
    length = _content_length(headers)
    body_start = head_end + 4
    if len(buffer) < body_start + length:
        return None
    body = bytes(buffer[body_start : body_start + length])
    del buffer[: body_start + length]
    return HttpRequest(
        method=method,
        path=target.split("?", 1)[0],
        headers=headers,
        body=body,
        keep_alive=_keep_alive(version, headers.get("connection", "").lower()),
    )


def render_response(
    status: int,
    body: bytes,
    *,
    keep_alive: bool,
    content_type: str = "application/json",
    headers: Iterable[tuple[str, str]] = (),
) -> bytes:
    """A complete response framed by Content-Length."""
    head = [
        f"HTTP/1.1 {status} {reason_phrase(status)}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers),
    ]
    if not keep_alive:
        head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def reason_phrase(status: int) -> str:
    """The standard phrase for `status`, or a generic one for codes outside the registry
    (e.g. 499, 520, 529), which `status:<code>` faults may use."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Server Error" if status >= 500 else "Client Error"


def render_stream_head(*, keep_alive: bool) -> bytes:
    """Status line and headers opening a chunked server-sent-events response."""
    connection = "" if keep_alive else "Connection: close\r\n"
    return (
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: text/event-stream; charset=utf-8\r\n"
        "Cache-Control: no-cache\r\n"
        f"{connection}Transfer-Encoding: chunked\r\n\r\n"
    ).encode("latin-1")


def render_chunk(data: bytes) -> bytes:
    """One chunk of a chunked body."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def _parse_headers(lines: list[str]) -> dict[str, str]:
    """Header lines to a dict of lower-cased names; malformed lines are an error."""
    headers: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise HttpParseError(400, f"malformed header line {line!r}")
        headers[name.strip().lower()] = value.strip()
    return headers


def _content_length(headers: dict[str, str]) -> int:
    """The declared body length, validated."""
    raw = headers.get("content-length", "0")
    if not raw.isdigit():
        raise HttpParseError(400, f"invalid Content-Length {raw!r}")
    length = int(raw)
    if length > MAX_BODY_BYTES:
        raise HttpParseError(413, f"request body of {length} bytes exceeds {MAX_BODY_BYTES}")
    return length


def _keep_alive(version: str, connection: str) -> bool:
    """HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 only when asked."""
    if version == "HTTP/1.0":
        return "keep-alive" in connection
    return "close" not in connection
