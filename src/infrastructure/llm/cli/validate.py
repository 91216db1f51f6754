"""`llm-wrappers validate`: load a config directory and say what it defines, or every issue."""

from __future__ import annotations

import argparse

from infrastructure.llm.cli.common import Subparsers, config_dir, config_dir_option, open_factory


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "validate",
        parents=[config_dir_option()],
        description="Load a config directory as the wrappers would and build every wrapper. "
        "On success print what it defines; otherwise print every issue, one per line as "
        "'file: field.path: message', on stderr and exit with status 1.",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    directory = config_dir(args)
    with open_factory(directory) as factory:
        config = factory.task_group_manager.config
        wrappers = factory.list_wrappers()
    instances = sum(len(model.instances()) for model in config.models.values())
    print(f"{directory}: valid")
    print(
        f"  {_count(len(config.models), 'model')}, {_count(instances, 'instance')}, "
        f"{_count(len(config.groups), 'task group')}, {_count(len(config.pools), 'polling pool')}"
    )
    print(f"  wrappers: {', '.join(wrappers) or 'none'}")
    return 0


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
