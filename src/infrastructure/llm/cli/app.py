"""The `llm-wrappers` parser and entry point; each subcommand lives in a module of its own."""

from __future__ import annotations

import argparse
import logging
import sys

from infrastructure.llm.cli import cache, chat, demo, health, migrate, sim, state, validate
from infrastructure.llm.cli.common import (
    CONFIG_DIR_HELP,
    CommandError,
    forwards_arguments,
    print_config_error,
)
from infrastructure.llm.errors import ConfigError, LLMWrapperError

# Each module's `add_parser(subparsers)` registers its subcommand with `run(args) -> int` as
# the parser's `run` default; adding a command is adding its module here.
COMMANDS = (validate, health, state, cache, chat, sim, demo, migrate)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_handler: logging.Handler | None = None


def build_parser() -> argparse.ArgumentParser:
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
    for command in COMMANDS:
        command.add_parser(subparsers)
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
    parser = build_parser()
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
