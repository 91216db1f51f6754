"""The `llm-wrappers` parser and entry point; each subcommand lives in a module of its own."""

from __future__ import annotations

import argparse
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llm-wrappers",
        description="Check, probe and try an LLM wrapper configuration; run the simulator.",
    )
    parser.add_argument("--config-dir", metavar="DIR", help=CONFIG_DIR_HELP)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand and return its exit status (argparse exits with 2 on usage errors)."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not forwards_arguments(args):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.forwarded_args = extra
    try:
        return args.run(args)
    except ConfigError as error:
        print_config_error(error)
    except (CommandError, LLMWrapperError) as error:
        print(f"error: {error}", file=sys.stderr)
    except KeyboardInterrupt:
        return 130
    return 1
