"""Number fields take finite numbers only: no inf or nan (`.inf`, `1e400`), and no booleans
(YAML 1.1 reads `yes`, `on` and friends as true, which pydantic would take as 1).

Every int and float field of every config model is checked, found from the models themselves,
so a field added later is covered too.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
from pydantic import BaseModel, ValidationError

from infrastructure.llm.config import LLMConfig
from infrastructure.llm.config import schema as schema_module
from infrastructure.llm.config.legacy_fallback import LegacyGlobalFallback
from infrastructure.llm.config.schema import (
    BackoffConfig,
    CacheConfig,
    CircuitBreakerConfig,
    EchelonConfig,
    EndpointConfig,
    FallbackChain,
    FallbackConfig,
    HedgingConfig,
    ModelConfig,
    PollingPoolConfig,
    PollingPoolFallbackConfig,
    StateConfig,
    StrictModel,
    TaskGroupConfig,
)
from infrastructure.llm.config.validation import validation_issues
from infrastructure.llm.errors import ConfigIssue

Write = Callable[[str, str], Path]
Issue = Callable[..., ConfigIssue]
Load = Callable[..., LLMConfig]

YAML_BOOL_HINT = "(YAML reads yes/no, on/off and true/false as booleans)"

# The smallest valid input of every model read from YAML.
MINIMAL: dict[type[BaseModel], dict[str, Any]] = {
    EndpointConfig: {},
    ModelConfig: {"name": "m", "provider": "mock", "model": "x"},
    CircuitBreakerConfig: {},
    HedgingConfig: {"delay": 1},
    FallbackChain: {},
    FallbackConfig: {},
    EchelonConfig: {"models": ["a"]},
    TaskGroupConfig: {"name": "g", "echelons": {1: {"models": ["a"]}}},
    PollingPoolFallbackConfig: {},
    PollingPoolConfig: {"name": "p", "task_groups": ["g"]},
    LegacyGlobalFallback: {},
    StateConfig: {},
    CacheConfig: {},
    BackoffConfig: {},
}
# Built by the loader, never read from a file as such.
NOT_FROM_YAML = {schema_module.InstanceConfig, LLMConfig}


def _subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _number_types(annotation: Any) -> set[type]:
    """`int` and `float` wherever they appear in an annotation (not inside containers)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _number_types(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return set().union(*(_number_types(arg) for arg in get_args(annotation)))
    return {annotation} & {int, float}


NUMBER_FIELDS = sorted(
    (
        (model, name, "an integer" if int in kinds else "a number")
        for model in MINIMAL
        for name, field in model.model_fields.items()
        if (kinds := _number_types(field.annotation))
    ),
    key=lambda case: (case[0].__name__, case[1]),
)


def test_every_config_model_is_covered() -> None:
    models = {
        cls
        for cls in _subclasses(StrictModel)
        if cls.__module__.startswith("infrastructure.llm.config")
    }
    assert models - NOT_FROM_YAML == set(MINIMAL)


def test_the_number_fields_are_found() -> None:
    found = {(model.__name__, name) for model, name, _ in NUMBER_FIELDS}
    # FallbackConfig repeats FallbackChain's three; BackoffConfig has four; PollingPoolConfig's
    # load-aware tuning four.
    assert len(found) == 41
    assert {
        ("EchelonConfig", "timeout"),
        ("EchelonConfig", "max_retries"),
        ("EchelonConfig", "priority"),
        ("HedgingConfig", "delay"),
        ("EndpointConfig", "weight"),
        ("PollingPoolConfig", "health_check_interval"),
        ("StateConfig", "op_timeout"),
        ("StateConfig", "lease_time"),
        ("BackoffConfig", "jitter"),
    } <= found


def _issues(model: type[BaseModel], name: str, value: Any) -> list[ConfigIssue]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate({**MINIMAL[model], name: value})
    return validation_issues(caught.value, "f.yaml", model)


@pytest.mark.parametrize(
    ("model", "name", "expected"),
    NUMBER_FIELDS,
    ids=[f"{model.__name__}.{name}" for model, name, _ in NUMBER_FIELDS],
)
@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, "inf", "-inf", "nan"])
def test_non_finite_numbers_are_refused(
    model: type[BaseModel], name: str, expected: str, value: Any
) -> None:
    [issue] = _issues(model, name, value)
    assert issue.path == name
    if expected == "an integer" and isinstance(value, str):
        assert issue.message.startswith("expected a valid integer")
    else:
        assert "finite number" in issue.message
    assert issue.message.endswith(f", got {value!r}")


@pytest.mark.parametrize(
    ("model", "name", "expected"),
    NUMBER_FIELDS,
    ids=[f"{model.__name__}.{name}" for model, name, _ in NUMBER_FIELDS],
)
@pytest.mark.parametrize("value", [True, False])
def test_booleans_are_refused(
    model: type[BaseModel], name: str, expected: str, value: bool
) -> None:
    [issue] = _issues(model, name, value)
    assert issue.path == name
    got = str(value).lower()
    if name == "delay":  # a number of seconds or "p95": one message for both
        assert issue.message == f"expected a number of seconds > 0 or 'p95', got {got}"
    else:
        assert issue.message == f"expected {expected}, got {got} {YAML_BOOL_HINT}"


# --- the same through files: the issue names file and field ----------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("timeout: .inf", "expected a finite number, got inf"),
        ("timeout: -.Inf", "expected a finite number, got -inf"),
        ("timeout: 1.0e+400", "expected a finite number, got inf"),
        ("timeout: 1e400", "expected a finite number, got '1e400'"),  # a string to YAML 1.1
        ("timeout: .nan", "expected a finite number, got nan"),
        ("first_chunk_timeout: .inf", "expected a finite number, got inf"),
        ("temperature: .NaN", "expected a finite number, got nan"),
        ("max_retries: yes", f"expected an integer, got true {YAML_BOOL_HINT}"),
        ("max_retries: off", f"expected an integer, got false {YAML_BOOL_HINT}"),
        ("concurrency_limit: on", f"expected an integer, got true {YAML_BOOL_HINT}"),
        ("timeout: no", f"expected a number, got false {YAML_BOOL_HINT}"),
        (
            "max_retries: y",  # not a boolean to PyYAML, and no integer either
            "expected a valid integer, unable to parse string as an integer, got 'y'",
        ),
    ],
)
def test_a_bad_number_in_a_group_file_names_file_and_field(
    write: Write, registry: Path, issue: Issue, text: str, message: str
) -> None:
    path = write("groups/g.yaml", f"name: g\nechelon1:\n  models: [alpha]\n  {text}\n")
    found = issue()
    assert (found.file, found.path, found.message) == (
        str(path),
        f"echelon1.{text.split(':')[0]}",
        message,
    )


def test_a_non_finite_number_from_the_environment_is_refused(
    write: Write, registry: Path, issue: Issue
) -> None:
    write("groups/g.yaml", "name: g\nechelon1:\n  models: [alpha]\n  timeout: ${T:-30}\n")
    found = issue({"T": "inf"})
    assert (found.path, found.message) == (
        "echelon1.timeout",
        "expected a finite number, got 'inf'",
    )


@pytest.mark.parametrize(
    ("file", "text", "path"),
    [
        (
            "polling_pools/p.yaml",
            "name: p\ntask_groups: [g]\nrecovery_time: .inf\n",
            "recovery_time",
        ),
        (
            "polling_pools/p.yaml",
            "name: p\ntask_groups: [g]\nhedging: {delay: .inf}\n",
            "hedging.delay",
        ),
        (
            "models/m.yaml",
            "models:\n  m: {provider: mock, model: x, endpoints: [{weight: .inf}]}\n",
            "models.m.endpoints[0].weight",
        ),
        (
            "global_fallback.yaml",
            "fallback:\n  circuit_breaker: {failure_threshold: yes}\n",
            "fallback.circuit_breaker.failure_threshold",
        ),
    ],
)
def test_bad_numbers_in_other_files_name_file_and_field(
    config_dir: Path, write: Write, registry: Path, issue: Issue, file: str, text: str, path: str
) -> None:
    write("groups/g.yaml", "name: g\nechelon1:\n  models: [alpha]\n")
    (config_dir / "polling_pools").mkdir()
    written = write(file, text)
    found = issue()
    assert (found.file, found.path) == (str(written), path)
    assert "finite number" in found.message or "got true" in found.message


def test_plain_booleans_still_work_for_boolean_fields(
    write: Write, registry: Path, load: Load
) -> None:
    write(
        "groups/g.yaml",
        """
        name: g
        echelon1: {models: [alpha], spill_over: true}
        echelon2: {models: [alpha], spill_over: false}
        """,
    )
    group = load().groups["g"]
    assert [echelon.spill_over for _, echelon in group.ordered_echelons()] == [True, False]


def test_whole_floats_still_work_for_integer_fields_and_ints_for_floats(
    write: Write, registry: Path, load: Load
) -> None:
    write("groups/g.yaml", "name: g\nechelon1: {models: [alpha], max_retries: 3.0, timeout: 7}\n")
    echelon = load().groups["g"].echelons[1]
    assert (echelon.max_retries, echelon.timeout) == (3, 7.0)
