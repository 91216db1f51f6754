"""Fault modes: how a simulated instance misbehaves, and the `mode:arg` syntax of the CLI."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal, get_args

Mode = Literal[
    "healthy",
    "slow",
    "error_rate",
    "rate_limit",
    "hang",
    "cut_stream",
    "refuse",
    "drip",
    "html",
    "no_choices",
    "bad_json",
    "empty_stream",
    "status",
    "hang_chat",
    "echo_auth",
]
MODES: tuple[str, ...] = get_args(Mode)

JUNK_MODES: frozenset[str] = frozenset({"html", "no_choices", "bad_json", "empty_stream"})
"""Modes answering chat completions with a 200 that is not a usable completion."""

_BARE_MODES = ("healthy", "hang", "refuse", "hang_chat", "echo_auth", *sorted(JUNK_MODES))

FAULT_SYNTAX = (
    "healthy, slow:0.2, slow:0.1-0.5, error_rate:0.3, rate_limit, rate_limit:2, hang, "
    "hang_chat, cut_stream, cut_stream:3, refuse, drip:0.05, html, no_choices, bad_json, "
    "empty_stream, status:400, status:400:No connected db., echo_auth"
)


@dataclass(frozen=True)
class FaultMode:
    """One instance's behaviour; every field is validated so a typo fails at construction.

    `latency` delays every answer (any mode); in mode "slow" with `latency_max` the delay is
    drawn uniformly from [latency, latency_max]. `error_rate` is the fraction of requests
    answered 500 (mode "error_rate") or 429 (mode "rate_limit"; 0 means every request).
    `cut_after` is how many stream chunks are sent before the connection is cut.
    `drip_delay` is the pause between body bytes in mode "drip". `status_code` and
    `status_message` are the answer of mode "status" (message None: the reason phrase).
    """

    mode: Mode = "healthy"
    latency: float = 0.0
    latency_max: float | None = None
    error_rate: float = 0.0
    retry_after: float = 1.0
    cut_after: int = 2
    chunk_delay: float = 0.0
    drip_delay: float = 0.05
    status_code: int = 500
    status_message: str | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown fault mode {self.mode!r}; expected one of {MODES}")
        _require(self.latency >= 0, f"latency must be >= 0, got {self.latency}")
        if self.latency_max is not None:
            _require(
                self.latency_max >= self.latency,
                f"latency_max ({self.latency_max}) must be >= latency ({self.latency})",
            )
        _require(
            0.0 <= self.error_rate <= 1.0, f"error_rate must be in [0, 1], got {self.error_rate}"
        )
        _require(self.retry_after >= 0, f"retry_after must be >= 0, got {self.retry_after}")
        _require(self.cut_after >= 0, f"cut_after must be >= 0, got {self.cut_after}")
        _require(self.chunk_delay >= 0, f"chunk_delay must be >= 0, got {self.chunk_delay}")
        _require(self.drip_delay > 0, f"drip_delay must be > 0 seconds, got {self.drip_delay}")
        _require(
            not isinstance(self.status_code, bool)
            and isinstance(self.status_code, int)
            and 400 <= self.status_code <= 599,
            f"status_code must be a 4xx or 5xx HTTP status (400-599), got {self.status_code!r}",
        )
        _require(
            self.status_message is None
            or (isinstance(self.status_message, str) and bool(self.status_message.strip())),
            "status_message must not be empty (None means the status's reason phrase)",
        )

    def draw_delay(self, rng: random.Random) -> float:
        """Seconds to wait before answering one request."""
        if self.mode == "slow" and self.latency_max is not None:
            return rng.uniform(self.latency, self.latency_max)
        return self.latency

    def draw_failure(self, rng: random.Random) -> bool:
        """Whether this request gets the mode's error status (500 or 429)."""
        if self.mode == "error_rate":
            return rng.random() < self.error_rate
        if self.mode == "rate_limit":
            return self.error_rate == 0.0 or rng.random() < self.error_rate
        return False

    @classmethod
    def parse(cls, text: str) -> FaultMode:
        """Build a fault from CLI syntax such as `slow:0.1-0.5` or `status:400:No connected db.`.

        Every error message names the fault text it was given.
        """
        name, sep, arg = text.strip().partition(":")
        name, arg = name.strip(), arg.strip()
        if name not in MODES:
            raise ValueError(f"unknown fault mode {name!r} in {text!r}; use one of: {FAULT_SYNTAX}")
        if sep and not arg:
            raise ValueError(f"fault {text!r} has an empty argument after ':'")
        try:
            return _build(name, text, arg)
        except ValueError as error:
            if repr(text) in str(error):
                raise
            raise ValueError(f"{error} (in fault {text!r})") from None


def _build(name: str, text: str, arg: str) -> FaultMode:
    """The fault for a known mode name and its (possibly empty) argument."""
    if name in _BARE_MODES:
        if arg:
            raise ValueError(f"fault mode {name!r} takes no argument, got {text!r}")
        return FaultMode(name)  # type: ignore[arg-type]
    if name == "slow":
        return _parse_slow(text, arg)
    if name == "error_rate":
        if not arg:
            raise ValueError("error_rate needs a fraction, e.g. 'error_rate:0.3'")
        return FaultMode("error_rate", error_rate=_number(text, arg))
    if name == "rate_limit":
        return FaultMode("rate_limit", retry_after=_number(text, arg)) if arg else FaultMode(name)
    if name == "drip":
        if not arg:
            raise ValueError("drip needs the seconds between body bytes, e.g. 'drip:0.05'")
        return FaultMode("drip", drip_delay=_number(text, arg))
    if name == "status":
        return _parse_status(text, arg)
    if not arg:
        return FaultMode("cut_stream")
    if not arg.isdigit():
        raise ValueError(f"cut_stream takes a whole number of chunks, got {text!r}")
    return FaultMode("cut_stream", cut_after=int(arg))


def _parse_slow(text: str, arg: str) -> FaultMode:
    """`slow:0.2` is a fixed delay, `slow:0.1-0.5` a uniform random one."""
    if not arg:
        raise ValueError("slow needs a latency in seconds, e.g. 'slow:0.2' or 'slow:0.1-0.5'")
    low, dash, high = arg.partition("-")
    if dash:
        return FaultMode("slow", latency=_number(text, low), latency_max=_number(text, high))
    return FaultMode("slow", latency=_number(text, low))


def _parse_status(text: str, arg: str) -> FaultMode:
    """`status:422` answers 422 with the reason phrase; `status:400:No connected db.` a message.

    The message is everything after the second colon, so it may contain colons itself.
    """
    if not arg:
        raise ValueError("status needs an HTTP status, e.g. 'status:422' or 'status:400:Oops'")
    code, sep, message = arg.partition(":")
    code, message = code.strip(), message.strip()
    if not code.isdigit():
        raise ValueError(f"status takes a whole HTTP status code, got {code!r} in {text!r}")
    if sep and not message:
        raise ValueError(f"fault {text!r} has an empty message after the status code")
    return FaultMode("status", status_code=int(code), status_message=message or None)


def _number(text: str, value: str) -> float:
    """Parse a float argument, naming the whole fault text when it is not a number."""
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"expected a number in fault {text!r}, got {value!r}") from None


def _require(condition: bool, message: str) -> None:
    """Raise ValueError with `message` unless `condition` holds."""
    if not condition:
        raise ValueError(message)
