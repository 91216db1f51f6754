"""`llm-wrappers init [DIR]`: write the annotated example config, to edit into your own."""

from __future__ import annotations

import argparse
from pathlib import Path

from infrastructure.llm.cli.common import CommandError, Subparsers, config_dir
from infrastructure.llm.example_config import copy_example_config


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "init",
        description="Write the example configuration (a model registry, two task groups and "
        "two polling pools, every field explained in comments) into DIR. Its hosted models "
        "stay on loopback until you set LLM_WRAPPERS_OPENAI_URL / LLM_WRAPPERS_ANTHROPIC_URL "
        "and their keys, so no call reaches a paid API unless you ask for one.",
    )
    parser.add_argument(
        "directory",
        metavar="DIR",
        nargs="?",
        type=Path,
        help="where to write it; must not exist or be empty (default: --config-dir, "
        "$LLM_WRAPPERS_CONFIG_DIR, else configs/llms)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    destination = args.directory or config_dir(args)
    try:
        written = copy_example_config(destination)
    except FileExistsError as error:
        raise CommandError(f"{error}; choose another DIR") from None
    print(f"wrote {destination}:")
    for path in written:
        print(f"  {path}")
    print(
        "next:\n"
        f"  llm-wrappers validate --config-dir {destination}\n"
        "  llm-wrappers sim --instances healthy   # then paste its export lines in this shell\n"
        f"  llm-wrappers chat --config-dir {destination} fast_group_wrapper 'Hello'"
    )
    return 0
