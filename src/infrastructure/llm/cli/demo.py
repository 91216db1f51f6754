"""`llm-wrappers demo`: the end-to-end demo on simulated instances (`infrastructure.demo`)."""

from __future__ import annotations

import argparse

from infrastructure import demo
from infrastructure.llm.cli.common import Subparsers, add_forwarding_parser


def add_parser(subparsers: Subparsers) -> None:
    add_forwarding_parser(subparsers, "demo", run)


def run(args: argparse.Namespace) -> int:
    forwarded = list(args.forwarded_args)
    if args.config_dir and "--config-dir" not in forwarded:
        forwarded = ["--config-dir", args.config_dir, *forwarded]
    return demo.main(forwarded)
