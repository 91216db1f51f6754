"""`llm-wrappers top`: a live terminal view of a fleet's wrappers and instances, read from
their Prometheus metrics endpoint or from the shared state in Redis."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from infrastructure.llm.cli.common import (
    CommandError,
    Subparsers,
    config_dir,
    config_dir_option,
    open_factory,
)
from infrastructure.llm.clock import Clock, MonotonicClock
from infrastructure.llm.observability.top.watch import Source, SourceError, live, once
from infrastructure.llm.redaction import one_line

DEFAULT_KEY_PREFIX = "llm-wrappers:"
NOT_A_TERMINAL_WIDTH = 160
"""Columns of a frame printed to a file or pipe: wide enough for every column of the view."""


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "top",
        parents=[config_dir_option()],
        help="a live view of wrappers and instances: breakers, in flight, calls/s, p95, errors",
        description="A live view of a fleet, refreshed every --interval seconds (Ctrl-C "
        "quits). From --metrics-url (a factory's serve_metrics endpoint): per wrapper, calls "
        "in flight, calls, calls/s, p95 latency of answered calls and errors; per instance, "
        "breaker state, attempts in flight, attempts, attempts/s, p95 latency of answered "
        "attempts (a stream's: to its first chunk), failed attempts and their commonest kind. "
        "From Redis (--redis URL, else the config directory's state.yaml): what replicas "
        "share there, per instance the breaker, consecutive failures, cool-down and pool "
        "health, per target the concurrency slots taken; Redis keeps no latencies or call "
        "counts, so p95, calls, errors and an instance's in flight show as '–' there, and "
        "calls/s only for targets "
        "with an rpm_limit (its admissions over the last 60 s). A metrics frame's rates cover "
        "the time since the previous refresh; the first frame shows counts since start.",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--metrics-url", metavar="URL", help="the metrics page, e.g. http://127.0.0.1:9464/metrics"
    )
    source.add_argument(
        "--redis",
        metavar="URL",
        help="read this Redis (default: the one in the config directory's state.yaml)",
    )
    parser.add_argument(
        "--key-prefix",
        metavar="PREFIX",
        help=f"with --redis: the replicas' key prefix (default: {DEFAULT_KEY_PREFIX!r})",
    )
    parser.add_argument(
        "--interval",
        metavar="SECONDS",
        type=_seconds,
        default=1.0,
        help="seconds between refreshes (default: 1); with --once, between the two scrapes "
        "whose difference gives the rates (0: one scrape, counts since start)",
    )
    parser.add_argument(
        "--once", action="store_true", help="print one frame to stdout and exit (no terminal)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.key_prefix is not None and args.redis is None:
        raise CommandError("--key-prefix goes with --redis")
    if not args.once and args.interval <= 0:
        raise CommandError("--interval must be > 0 for the live view (0 only with --once)")
    rendering = _rendering()
    clock = MonotonicClock()
    try:
        with _source(args, clock) as source:
            if args.once:
                frame = once(source, clock, args.interval)
                _console().print(rendering.render(frame))
            else:
                _watch(rendering, source, clock, args.interval)
    except SourceError as exc:
        raise CommandError(str(exc)) from None
    except KeyboardInterrupt:  # Ctrl-C is how the live view ends
        pass
    return 0


def _watch(rendering: ModuleType, source: Source, clock: Clock, interval: float) -> None:
    from rich.live import Live

    console = _console()
    with Live(console=console, auto_refresh=False, transient=False) as view:
        live(
            source,
            clock,
            interval,
            lambda frame: view.update(rendering.render(frame), refresh=True),
        )


@contextlib.contextmanager
def _source(args: argparse.Namespace, clock: Clock) -> Iterator[Source]:
    """The source the options name, closed after."""
    if args.metrics_url is not None:
        yield _metrics_source(args.metrics_url, clock)
        return
    from infrastructure.llm.cli.state import configured_instances, shared_state, state_line
    from infrastructure.llm.observability.top.redis_source import RedisSource

    if args.redis is not None:
        state = _redis_state(args.redis, args.key_prefix or DEFAULT_KEY_PREFIX)
        try:
            yield RedisSource(state, state_line)
        finally:
            state.close()
        return
    with open_factory(config_dir(args)) as factory:
        manager = factory.task_group_manager
        state = shared_state(manager, config_dir(args))
        yield RedisSource(state, state_line, configured_instances(manager))


def _metrics_source(url: str, clock: Clock) -> Source:
    try:
        from infrastructure.llm.observability.top.metrics_source import MetricsSource
    except ImportError as exc:
        if exc.name != "prometheus_client" and not (exc.name or "").startswith(
            "prometheus_client."
        ):
            raise
        raise CommandError(
            "llm-wrappers top --metrics-url needs prometheus_client: "
            "pip install 'langchain-llm-wrappers[metrics]'"
        ) from None
    return MetricsSource(url, clock)


def _redis_state(url: str, key_prefix: str) -> Any:
    from infrastructure.llm.resilience.redis import RedisState

    try:
        return RedisState(url, key_prefix=key_prefix)
    except (ImportError, ValueError) as exc:
        raise CommandError(f"--redis: {one_line(str(exc))}") from None


def _rendering() -> ModuleType:
    """The rendering module, or a CommandError naming the extra when `rich` is missing."""
    try:
        from infrastructure.llm.observability.top import render
    except ImportError as exc:
        if not (exc.name or "").startswith("rich"):
            raise
        raise CommandError(
            "llm-wrappers top needs rich: pip install 'langchain-llm-wrappers[top]'"
        ) from None
    return render


def _console() -> Any:
    """A console on stdout: the terminal's width there, else wide enough for the tables."""
    from rich.console import Console

    width = None if sys.stdout.isatty() else NOT_A_TERMINAL_WIDTH
    return Console(file=sys.stdout, width=width)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds >= 0, got {text!r}")
    return value
