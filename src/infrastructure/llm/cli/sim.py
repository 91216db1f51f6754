"""`llm-wrappers sim`: the simulator's own command line (`python -m infrastructure.llm.sim`),
plus the `export` lines that point the example config at the instances it started."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from infrastructure.llm.cli.common import Subparsers, add_forwarding_parser
from infrastructure.llm.example_config import endpoint_environment
from infrastructure.llm.sim import cli as sim_cli


def add_parser(subparsers: Subparsers) -> None:
    add_forwarding_parser(subparsers, "sim", run)


def run(args: argparse.Namespace) -> int:
    return sim_cli.main(args.forwarded_args, on_started=print_exports)


def print_exports(urls: Sequence[str]) -> None:
    """The shell lines that send the example config's instances to `urls`, dealt in turn."""
    print(
        "# In another shell, these point the example config (llm-wrappers init) here:",
        *(f"export {name}={url}" for name, url in endpoint_environment(urls).items()),
        sep="\n",
        flush=True,
    )
