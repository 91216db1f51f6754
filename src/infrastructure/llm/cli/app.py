"""The `llm-wrappers` parser and entry point; each subcommand lives in a module of its own."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from infrastructure.llm.cli.common import (
    CONFIG_DIR_HELP,
    CommandError,
    forwards_arguments,
    print_config_error,
)
from infrastructure.llm.errors import ConfigError, LLMWrapperError

# Each subcommand and the line `llm-wrappers --help` shows for it. Its module,
# `infrastructure.llm.cli.<name>`, is imported only when the command runs (so `--help` need
# not load the routing stack); its `add_parser(subparsers)` registers the subcommand with
# `run(args) -> int` as the parser's `run` default. Adding a command is adding it here.
COMMANDS: dict[str, str] = {
    "validate": "load a config directory; list every issue (exit 1) or summarise it (exit 0)",
    "health": "probe every instance now and print a table; exit 1 unless all are healthy",
    "state": "show the breakers, cool-downs, health and slots replicas share in Redis",
    "cache": "show or clear the response caches of a config directory",
    "chat": "send one prompt through a wrapper; print the answer and what served it",
    "sim": "start simulator instances with fault modes; prints '<mode> <url>' per instance "
    "and the export lines that point the example config at them (options: llm-wrappers "
    "sim --help)",
    "demo": "run a LangGraph workflow over simulated dead, flaky and healthy instances "
    "(options: llm-wrappers demo --help)",
    "migrate": "write a legacy global fallback into each group and pool file",
    "init": "write the annotated example config into a directory (default: configs/llms)",
    "top": "a live view of wrappers and instances: breakers, in flight, calls/s, p95, errors",
}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_handler: logging.Handler | None = None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser, with `command`'s own options when it is named; every other subcommand is
    a bare entry that accepts anything (enough to list it and to learn which one was asked
    for)."""
    parser = argparse.ArgumentParser(
        prog="llm-wrappers",
        description="Check, probe and try an LLM wrapper configuration; run the simulator.",
    )
    parser.add_argument("--config-dir", metavar="DIR", help=CONFIG_DIR_HELP)
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        type=str.upper,
        help="log the package's records at this level and above to stderr (default: WARNING): "
        "DEBUG shows every attempt, INFO breaker and health changes",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, summary in COMMANDS.items():
        if name == command:
            importlib.import_module(f"{__package__}.{name}").add_parser(subparsers)
        else:
            subparsers.add_parser(name, help=summary, add_help=False)
    return parser


def _configure_logging(level: str | None) -> None:
    """With `--log-level`, send the package's records from `level` up to stderr, one line
    each; without it, Python's default shows warnings and errors."""
    global _handler
    if level is None:
        return
    package = logging.getLogger("infrastructure.llm")
    if _handler is not None:  # an earlier run in this process (tests): stderr may differ now
        package.removeHandler(_handler)
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    package.addHandler(_handler)
    package.setLevel(level)


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand and return its exit status (argparse exits with 2 on usage errors)."""
    argv = sys.argv[1:] if argv is None else argv
    chosen, _ = build_parser().parse_known_args(argv)
    parser = build_parser(chosen.command)
    args, extra = parser.parse_known_args(argv)
    if extra and not forwards_arguments(args):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.forwarded_args = extra
    _configure_logging(args.log_level)
    try:
        return args.run(args)
    except ConfigError as error:
        print_config_error(error)
    except (CommandError, LLMWrapperError) as error:
        print(f"error: {error}", file=sys.stderr)
    except KeyboardInterrupt:
        return 130
    return 1
