"""What the subcommands share: where the config directory is, and how problems are reported."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from infrastructure.llm.config.location import CONFIG_DIR_ENV, DEFAULT_CONFIG_DIR
from infrastructure.llm.errors import ConfigError

if TYPE_CHECKING:
    from infrastructure.llm.wrappers.factory import LLMWrapperFactory

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
Run: TypeAlias = Callable[[argparse.Namespace], int]

CONFIG_DIR_HELP = f"configuration directory (default: ${CONFIG_DIR_ENV}, else {DEFAULT_CONFIG_DIR})"


class CommandError(Exception):
    """A request the command cannot carry out; shown as `error: <message>`, exit status 1."""


def config_dir_option() -> argparse.ArgumentParser:
    """A parent parser taking `--config-dir` after the subcommand too.

    Its default is SUPPRESS, so it never overwrites a `--config-dir` given before the
    subcommand.
    """
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--config-dir", metavar="DIR", default=argparse.SUPPRESS, help=CONFIG_DIR_HELP
    )
    return parent


def config_dir(args: argparse.Namespace) -> Path:
    """The directory to load: `--config-dir`, else `$LLM_WRAPPERS_CONFIG_DIR`, else the default."""
    chosen = args.config_dir or os.environ.get(CONFIG_DIR_ENV)
    return Path(chosen or DEFAULT_CONFIG_DIR)


def open_factory(directory: Path, state: str | None = None) -> LLMWrapperFactory:
    """The factory for `directory`, with `<group>_wrapper` and `<pool>_wrapper` registered;
    `state` a Redis URL overriding the directory's `state.yaml`."""
    from infrastructure.llm.wrappers.factory import LLMWrapperFactory  # imported on use only

    if not directory.is_dir():
        raise CommandError(
            f"configuration directory {str(directory)!r} not found "
            f"(pass --config-dir or set ${CONFIG_DIR_ENV})"
        )
    return LLMWrapperFactory.from_config_dir(directory, state=state)


def print_config_error(error: ConfigError) -> None:
    """Every issue on a line of its own (`file: field.path: message`), on stderr."""
    count = len(error.issues)
    print(f"invalid configuration: {count} issue{'s' if count != 1 else ''}", file=sys.stderr)
    for issue in error.issues:
        print(issue, file=sys.stderr)


def add_forwarding_parser(subparsers: Subparsers, name: str, run: Run) -> None:
    """Register a command with no options of its own: everything after its name, `--help`
    included, reaches `run` as `args.forwarded_args`."""
    parser = subparsers.add_parser(name, add_help=False)
    parser.set_defaults(run=run, forwards_args=True)


def forwards_arguments(args: argparse.Namespace) -> bool:
    """Whether the chosen command passes unrecognised arguments on (see `add_forwarding_parser`)."""
    return bool(getattr(args, "forwards_args", False))
