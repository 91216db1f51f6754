"""`offline_fallback` in group and pool files: `none` unless a file opts in with `mock`; any
other value is refused, naming file and field."""

from __future__ import annotations

from pathlib import Path

from .test_config_embeddings import Issue, Load, Write

GROUP = "name: {name}\nechelon1: {{models: [alpha]}}\n{extra}"
POOL = "name: {name}\ntask_groups: [{group}]\n{extra}"


def test_offline_answers_are_opt_in_per_group_and_per_pool(
    config_dir: Path, registry: Path, write: Write, load: Load
) -> None:
    (config_dir / "polling_pools").mkdir()
    write("groups/g.yaml", GROUP.format(name="g", extra=""))
    write("groups/h.yaml", GROUP.format(name="h", extra="offline_fallback: mock\n"))
    write("polling_pools/p.yaml", POOL.format(name="p", group="g", extra=""))
    write("polling_pools/q.yaml", POOL.format(name="q", group="h", extra="offline_fallback: mock"))
    config = load()
    assert [config.groups[n].offline_fallback for n in ("g", "h")] == ["none", "mock"]
    assert [config.pools[n].offline_fallback for n in ("p", "q")] == ["none", "mock"]


def test_an_unknown_offline_fallback_names_file_and_field(
    config_dir: Path, registry: Path, write: Write, issue: Issue
) -> None:
    path = write("groups/g.yaml", GROUP.format(name="g", extra="offline_fallback: simulate\n"))
    found = issue()
    assert (found.file, found.path) == (str(path), "offline_fallback")
    assert "'none'" in found.message and "'mock'" in found.message
    assert "simulate" in found.message


def test_a_pool_with_a_bad_offline_fallback_is_refused(
    config_dir: Path, registry: Path, write: Write, issue: Issue
) -> None:
    (config_dir / "polling_pools").mkdir()
    write("groups/g.yaml", GROUP.format(name="g", extra=""))
    path = write(
        "polling_pools/p.yaml", POOL.format(name="p", group="g", extra="offline_fallback: yes")
    )
    found = issue()
    assert (found.file, found.path) == (str(path), "offline_fallback")
