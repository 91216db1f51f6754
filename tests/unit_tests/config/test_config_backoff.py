"""An echelon's `backoff` section: defaults are today's values; bad values name file and field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from infrastructure.llm.config import LLMConfig
from infrastructure.llm.config.schema import BackoffConfig
from infrastructure.llm.errors import ConfigIssue

Write = Callable[[str, str], Path]
Issue = Callable[..., ConfigIssue]
Load = Callable[..., LLMConfig]


def test_without_a_backoff_section_an_echelon_keeps_todays_backoff(
    write: Write, registry: Path, load: Load
) -> None:
    write("groups/g.yaml", "name: g\nechelon1: {models: [alpha]}\n")
    backoff = load().groups["g"].echelons[1].backoff
    assert backoff == BackoffConfig(initial=0.25, maximum=8.0, multiplier=2.0, jitter=0.25)


def test_each_echelon_reads_its_own_backoff(write: Write, registry: Path, load: Load) -> None:
    write(
        "groups/g.yaml",
        """
        name: g
        echelon1:
          models: [alpha]
          backoff: {initial: 2, maximum: 10, multiplier: 2, jitter: 0}
        echelon2:
          models: [alpha]
          backoff: {initial: 1, maximum: 16, jitter: 0}
        """,
    )
    echelons = load().groups["g"].echelons
    assert echelons[1].backoff == BackoffConfig(initial=2, maximum=10, multiplier=2, jitter=0)
    assert echelons[2].backoff == BackoffConfig(initial=1, maximum=16, multiplier=2, jitter=0)


def test_a_negative_initial_names_file_and_field(
    write: Write, registry: Path, issue: Issue
) -> None:
    path = write("groups/g.yaml", "name: g\nechelon1: {models: [alpha], backoff: {initial: -1}}\n")
    found = issue()
    assert (found.file, found.path) == (str(path), "echelon1.backoff.initial")
    assert found.message == "expected a number >= 0, got -1"


def test_a_multiplier_below_one_is_refused(write: Write, registry: Path, issue: Issue) -> None:
    path = write(
        "groups/g.yaml", "name: g\nechelon1: {models: [alpha], backoff: {multiplier: 0.5}}\n"
    )
    found = issue()
    assert (found.file, found.path) == (str(path), "echelon1.backoff.multiplier")
    assert found.message == "expected a number >= 1, got 0.5"


def test_a_maximum_below_initial_names_maximum(write: Write, registry: Path, issue: Issue) -> None:
    path = write(
        "groups/g.yaml",
        "name: g\n"
        + "echelon2: {models: [alpha], backoff: {initial: 4, maximum: 2}}\n"
        + "echelon1: {models: [alpha]}\n",
    )
    found = issue()
    assert (found.file, found.path) == (str(path), "echelon2.backoff.maximum")
    assert found.message == "expected at least initial (4 s), got 2"


def test_an_unknown_backoff_key_is_refused_by_name(
    write: Write, registry: Path, issue: Issue
) -> None:
    write("groups/g.yaml", "name: g\nechelon1: {models: [alpha], backoff: {min: 2}}\n")
    found = issue()
    assert found.path == "echelon1.backoff.min"
    assert "jitter" in found.message  # the allowed keys are listed


def test_a_boolean_jitter_is_refused(write: Write, registry: Path, issue: Issue) -> None:
    write("groups/g.yaml", "name: g\nechelon1: {models: [alpha], backoff: {jitter: yes}}\n")
    found = issue()
    assert found.path == "echelon1.backoff.jitter"
    assert "YAML reads yes/no" in found.message
