"""`llm-wrappers cache stats|clear`: the response caches a config directory sets up, how many
entries each store holds, and dropping them (all, or one namespace's)."""

from __future__ import annotations

import argparse

from infrastructure.llm.cache.response_cache import ResponseCache
from infrastructure.llm.cli.common import (
    CommandError,
    Subparsers,
    config_dir,
    config_dir_option,
    open_factory,
)
from infrastructure.llm.cli.table import format_table
from infrastructure.llm.wrappers.factory import LLMWrapperFactory

_PER_PROCESS = "memory: each process has its own"


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "cache",
        parents=[config_dir_option()],
        description="stats: every wrapper with a cache, its mode, store and namespace, and "
        "the entries its store holds. clear: drop the entries of every cache store (or of "
        "--namespace only). A memory store lives in each process, so only Redis stores can "
        "be counted or cleared from here.",
    )
    parser.add_argument("action", choices=("stats", "clear"))
    parser.add_argument("--namespace", metavar="N", help="only the caches of this namespace")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    with open_factory(config_dir(args)) as factory:
        caches = _caches(factory, args.namespace)
        if not caches:
            scope = f" in namespace {args.namespace!r}" if args.namespace else ""
            raise CommandError(f"no wrapper of {config_dir(args)} has a cache{scope}")
        if args.action == "stats":
            print(_stats_table(caches))
        else:
            _clear(caches)
    return 0


def _caches(factory: LLMWrapperFactory, namespace: str | None) -> dict[str, ResponseCache]:
    found = {}
    for name in factory.list_wrappers():
        cache = factory.get_wrapper(name).response_cache
        if cache is not None and namespace in (None, cache.policy.namespace):
            found[name] = cache
    return found


def _stats_table(caches: dict[str, ResponseCache]) -> str:
    rows = []
    for name, cache in caches.items():
        described = cache.describe()
        entries = _PER_PROCESS if cache.store.where == "memory" else str(cache.store.count())
        rows.append((name, described["mode"], cache.store.where, cache.policy.namespace, entries))
    return format_table(("WRAPPER", "MODE", "STORE", "NAMESPACE", "ENTRIES"), rows)


def _clear(caches: dict[str, ResponseCache]) -> None:
    stores = {id(c.store): c for c in caches.values()}  # wrappers of a namespace share one
    for cache in stores.values():
        store, namespace = cache.store, cache.policy.namespace
        if store.where == "memory":
            print(f"namespace {namespace!r} ({_PER_PROCESS}): nothing to clear from here")
        else:
            print(f"namespace {namespace!r} ({store.where}): cleared {store.clear()} entries")
