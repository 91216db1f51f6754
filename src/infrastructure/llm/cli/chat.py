"""`llm-wrappers chat`: send one prompt through a wrapper; print the answer and what served it.

The answer goes to stdout and the line naming what served it to stderr, so the answer alone
can be piped on.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from infrastructure.llm.cli.common import (
    CommandError,
    Subparsers,
    config_dir,
    config_dir_option,
    open_factory,
)
from infrastructure.llm.config.targets import FallbackTarget
from infrastructure.llm.errors import StreamInterruptedError, describe_error
from infrastructure.llm.wrappers.base import BaseLLMWrapper
from infrastructure.llm.wrappers.factory import LLMWrapperFactory


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "chat",
        parents=[config_dir_option()],
        description="Send PROMPT through a wrapper. The answer is printed on stdout; a line "
        "naming the wrapper, target or pool, instance, attempts, fallbacks, hedging and "
        "latency follows on stderr. Exit status 1 when no instance answered.",
    )
    parser.add_argument(
        "name",
        metavar="NAME",
        help="a wrapper (fast_group_wrapper), a task group or polling pool (fast_group, "
        "fast_pool: its <name>_wrapper), or one echelon (fast_group.echelon2: a wrapper "
        "made for it)",
    )
    parser.add_argument("prompt", metavar="PROMPT", help="the user message")
    parser.add_argument("--stream", action="store_true", help="print the answer as it streams")
    parser.add_argument("--system", metavar="TEXT", help="a system message sent first")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    messages: list[BaseMessage] = [HumanMessage(args.prompt)]
    if args.system:
        messages.insert(0, SystemMessage(args.system))
    with open_factory(config_dir(args)) as factory:
        wrapper = resolve_wrapper(factory, args.name)
        return _stream(wrapper, messages) if args.stream else _invoke(wrapper, messages)


def resolve_wrapper(factory: LLMWrapperFactory, name: str) -> BaseLLMWrapper:
    """A registered wrapper; a group or pool name means its `<name>_wrapper`; `group.echelonN`
    gets a wrapper `<target>_wrapper` of its own."""
    for candidate in (name, f"{name}_wrapper"):
        if factory.has_wrapper(candidate):
            return factory.get_wrapper(candidate)
    if _names_an_echelon(name):
        return factory.create_task_group_wrapper(f"{name}_wrapper", {"target": name})
    known = ", ".join(factory.list_wrappers()) or "none"
    raise CommandError(
        f"no wrapper, task group or polling pool named {name!r}; known wrappers: {known} "
        "(a single echelon is named like fast_group.echelon2)"
    )


def _names_an_echelon(name: str) -> bool:
    try:
        return FallbackTarget.parse(name).echelon is not None
    except ValueError:
        return False


def _invoke(wrapper: BaseLLMWrapper, messages: list[BaseMessage]) -> int:
    started = time.perf_counter()
    try:
        message = wrapper.invoke(messages)
    except Exception as error:
        return _failed(error)
    print(message.text)
    _report(message.response_metadata.get("routing", {}), time.perf_counter() - started)
    return 0


def _stream(wrapper: BaseLLMWrapper, messages: list[BaseMessage]) -> int:
    """Print tokens as they come; after a broken stream, the partial answer stays printed."""
    routing: dict[str, Any] = {}
    started = time.perf_counter()
    first_token: float | None = None
    try:
        for chunk in wrapper.stream(messages):
            routing = routing or chunk.response_metadata.get("routing", {})
            if first_token is None and chunk.text:
                first_token = time.perf_counter() - started
            print(chunk.text, end="", flush=True)
    except StreamInterruptedError as error:
        print()
        print(f"error: {error}\ncause: {describe_error(error.cause)}", file=sys.stderr)
        return 1
    except Exception as error:
        return _failed(error)
    print()
    _report(routing, time.perf_counter() - started, first_token)
    return 0


def _failed(error: Exception) -> int:
    """Report a call no instance answered (or the provider rejected); exit status 1."""
    print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
    return 1


def _report(routing: dict[str, Any], latency: float, first_token: float | None = None) -> None:
    """One `key=value` line on stderr naming what served the call, and how fast."""
    fields = [("wrapper", routing.get("wrapper"))]
    if "pool" in routing:
        fields.append(("pool", routing["pool"]))
    fields += [
        ("target", routing.get("target")),
        ("instance", routing.get("instance")),
        ("attempts", routing.get("attempts")),
        ("fallbacks", routing.get("fallbacks")),
        ("hedged", "yes" if routing.get("hedged") else "no"),
        ("latency", f"{latency:.3f}s"),
    ]
    if first_token is not None:
        fields.append(("first_token", f"{first_token:.3f}s"))
    line = " ".join(f"{key}={'-' if value is None else value}" for key, value in fields)
    print(f"served by: {line}", file=sys.stderr)
