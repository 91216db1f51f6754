"""`llm-wrappers sim`: the simulator's own command line, `python -m infrastructure.llm.sim`."""

from __future__ import annotations

import argparse

from infrastructure.llm.cli.common import Subparsers, add_forwarding_parser
from infrastructure.llm.sim import cli as sim_cli


def add_parser(subparsers: Subparsers) -> None:
    add_forwarding_parser(subparsers, "sim", run)


def run(args: argparse.Namespace) -> int:
    return sim_cli.main(args.forwarded_args)
