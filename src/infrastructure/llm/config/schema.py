"""Pydantic models of the LLM configuration: the model registry, task groups, polling pools.

Every model forbids unknown fields and is frozen. Cross-field checks report the exact field they
concern. References between files (models named by groups, fallback targets, groups named by
pools) are checked by the loader, which knows which file said what.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from infrastructure.llm.config.field_path import Loc
from infrastructure.llm.config.strategies import (
    FallbackStrategy,
    PoolFallbackStrategy,
    RotationStrategy,
)
from infrastructure.llm.config.targets import FallbackTarget, echelon_name
from infrastructure.llm.redaction import redact

Provider = Literal["openai", "anthropic", "mock"]
ModelKind = Literal["chat", "embeddings"]
"""What a registry model serves: chat completions (for task groups) or embeddings."""
AsyncTransport = Literal["aiohttp", "httpx"]
"""The HTTP transport of an OpenAI-compatible model's async calls."""
OfflineFallback = Literal["none", "mock"]
"""Who answers when no instance of a group or pool does: nobody (the call fails), or the mock
provider (`offline: true` in the answer's routing metadata, a WARNING per call)."""

# Keys of `params` that have their own field on ModelConfig (api_key must stay a SecretStr).
_RESERVED_PARAMS = frozenset({"model", "base_url", "api_key", "async_transport"})
# Keys of an OpenAI embeddings model's `params` the package sets itself: texts go out as plain
# strings, so no tokenizer (tiktoken's or Hugging Face's) is ever downloaded.
_EMBEDDINGS_RESERVED_PARAMS = frozenset(
    {
        "check_embedding_ctx_length",
        "tiktoken_enabled",
        "tiktoken_model_name",
        "http_client",
        "http_async_client",
    }
)
_MOCK_EMBEDDINGS_PARAMS = frozenset({"dimensions"})
_URL = re.compile(r"^https?://[^\s/]+")
_GROUP_NAME = re.compile(r"^[^.\s]+$")


def _check_url(value: str) -> str:
    """Accept only http(s) URLs. A value that is no URL at all is not echoed: it may be a key
    pasted into the wrong field."""
    if not _URL.match(value):
        got = repr(redact(value)) if "://" in value else "a value that is not a URL (not shown)"
        raise ValueError(
            f"expected an http:// or https:// URL such as http://127.0.0.1:8000/v1, got {got}"
        )
    return value


_REDIS_URL = re.compile(r"^(rediss?://[^\s/]*|unix://\S+)")


def _check_redis_url(value: SecretStr) -> SecretStr:
    """Accept redis://, rediss:// and unix:// URLs; a bad value is not echoed (it may hold a
    password)."""
    if not _REDIS_URL.match(value.get_secret_value()):
        raise ValueError(
            "expected a redis://, rediss:// or unix:// URL such as redis://127.0.0.1:6379/0 "
            "(the value is not shown: it may hold a password)"
        )
    return value


def _check_group_name(value: str) -> str:
    """Group names may not hold dots or spaces: a dot separates group and echelon in targets."""
    if not _GROUP_NAME.match(value):
        raise ValueError(
            f"expected a group name without dots or spaces (a dot separates group and echelon "
            f"in 'group.echelonN'), got {value!r}"
        )
    return value


def _check_target(value: str) -> str:
    """Accept `group` or `group.echelonN`."""
    FallbackTarget.parse(value)
    return value


def _check_health_path(value: str) -> str:
    """Accept a path relative to an instance's base_url, such as `/models`."""
    if not value.startswith("/"):
        raise ValueError(
            "expected a path starting with '/' (relative to the instance base_url) "
            f"such as '/models', got {value!r}"
        )
    return value


def _not_a_bool(expected: str) -> BeforeValidator:
    """Refuse booleans where a number is expected.

    YAML reads `yes`, `no`, `on`, `off`, `true` and `false` as booleans, and pydantic would
    take them as 1 and 0: `max_retries: yes` would mean one retry.
    """

    def check(value: Any) -> Any:
        if isinstance(value, bool):
            raise PydanticCustomError(
                "bool_for_number",
                "expected {expected}, got {got} (YAML reads yes/no, on/off and true/false "
                "as booleans)",
                {"expected": expected, "got": str(value).lower()},
            )
        return value

    return BeforeValidator(check)


def _one_delay_error(value: Any, handler: ValidatorFunctionWrapHandler) -> float | str:
    """Report a bad hedging delay once, instead of once per member of its union."""
    try:
        return handler(value)
    except ValidationError:
        # Not a "config" error: the issue then gets ", got <value>" appended like pydantic's own.
        finite = "finite " if _non_finite(value) else ""
        raise PydanticCustomError(
            "hedge_delay", f"expected a {finite}number of seconds > 0 or 'p95'"
        ) from None


def _non_finite(value: Any) -> bool:
    """Whether a value reads as inf or nan (`.inf`, `1e400`, "nan")."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return False
    try:
        return not math.isfinite(float(value))
    except (ValueError, OverflowError):
        return False


# Every whole-number and number field of the config: booleans are refused, and (by
# StrictModel's allow_inf_nan=False) so are inf and nan, e.g. `timeout: .inf` or `1e400`.
Integer = Annotated[int, _not_a_bool("an integer")]
Number = Annotated[float, _not_a_bool("a number")]
NonEmptyStr = Annotated[str, Field(min_length=1)]
HttpUrlText = Annotated[str, AfterValidator(_check_url)]
RedisUrl = Annotated[SecretStr, AfterValidator(_check_redis_url)]
GroupName = Annotated[str, AfterValidator(_check_group_name)]
TargetText = Annotated[str, AfterValidator(_check_target)]
HealthCheckPath = Annotated[str, AfterValidator(_check_health_path)]
HedgeDelay = Annotated[
    Annotated[Number, Field(gt=0)] | Literal["p95"], WrapValidator(_one_delay_error)
]


def _field_errors(title: str, errors: list[tuple[Loc, str]]) -> ValidationError:
    """A ValidationError whose errors point at the given fields (pydantic nests their locations)."""
    return ValidationError.from_exception_data(
        title,
        [
            InitErrorDetails(type=PydanticCustomError("config", message), loc=loc, input=None)
            for loc, message in errors
        ],
    )


class StrictModel(BaseModel):
    """Base of every config model: unknown fields are errors, values are immutable, numbers
    are finite (no inf or nan)."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, hide_input_in_errors=True, allow_inf_nan=False
    )


class EndpointConfig(StrictModel):
    """One instance of a model; unset `base_url`/`api_key` are inherited from the model."""

    base_url: HttpUrlText | None = None
    api_key: SecretStr | None = None
    name: NonEmptyStr | None = None
    weight: Number = Field(default=1.0, gt=0)
    metrics_url: HttpUrlText | None = None
    """The instance's Prometheus metrics (least_loaded pools); default: `/metrics` at the
    root of its base_url."""


class InstanceConfig(StrictModel):
    """A resolved endpoint: everything needed to reach one instance, under a stable id."""

    instance_id: str
    base_url: str | None
    api_key: SecretStr | None
    weight: Number
    metrics_url: str | None = None


class ModelConfig(StrictModel):
    """One registry entry: a provider's model, its default call params and its instances.

    `kind: embeddings` makes it an embeddings model (for the semantic cache): provider
    `openai` (an OpenAI-compatible `/v1/embeddings`) or `mock`, one server, no endpoints.
    """

    name: NonEmptyStr
    kind: ModelKind = "chat"
    provider: Provider
    model: NonEmptyStr
    base_url: HttpUrlText | None = None
    api_key: SecretStr | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    endpoints: list[EndpointConfig] = Field(default_factory=list)
    async_transport: AsyncTransport | None = None
    """aiohttp (the default: about twice httpx's calls a second at 100 in flight) or httpx."""

    @model_validator(mode="after")
    def _check(self) -> ModelConfig:
        errors: list[tuple[Loc, str]] = [
            (("params", key), f"{key!r} is a field of the model itself; set it outside params")
            for key in sorted(_RESERVED_PARAMS & self.params.keys())
        ]
        if self.kind == "embeddings":
            errors.extend(self._embeddings_errors())
        else:
            errors.extend(self._chat_errors())
        if errors:
            raise _field_errors(type(self).__name__, errors)
        return self

    def _chat_errors(self) -> list[tuple[Loc, str]]:
        """What is wrong with the settings of a chat model."""
        errors: list[tuple[Loc, str]] = []
        if self.async_transport is not None and self.provider != "openai":
            errors.append(
                (
                    ("async_transport",),
                    f"only provider 'openai' has a choice of transport, not {self.provider!r}",
                )
            )
        if self.provider == "openai" and self.base_url is None:
            if not self.endpoints:
                errors.append(
                    (
                        ("base_url",),
                        "provider 'openai' needs a base_url, on the model or on every endpoint",
                    )
                )
            errors.extend(
                (
                    ("endpoints", index, "base_url"),
                    "provider 'openai' needs a base_url here, since the model sets none",
                )
                for index, endpoint in enumerate(self.endpoints)
                if endpoint.base_url is None
            )
        seen: set[str] = set()
        for index, endpoint in enumerate(self.endpoints):
            instance_id = self._instance_id(index, endpoint)
            if instance_id in seen:
                errors.append(
                    (
                        ("endpoints", index, "name"),
                        f"instance id {instance_id!r} is already used by another endpoint; "
                        "endpoint names must be unique within a model",
                    )
                )
            seen.add(instance_id)
        return errors

    def _embeddings_errors(self) -> list[tuple[Loc, str]]:
        """What is wrong with the settings of an embeddings model."""
        errors: list[tuple[Loc, str]] = []
        if self.provider not in ("openai", "mock"):
            errors.append(
                (
                    ("provider",),
                    f"an embeddings model needs provider 'openai' (an OpenAI-compatible "
                    f"/v1/embeddings, as vLLM serves) or 'mock', not {self.provider!r}",
                )
            )
        if self.async_transport is not None:
            errors.append(
                (
                    ("async_transport",),
                    "async_transport applies to chat models only; remove it from this "
                    "embeddings model",
                )
            )
        if self.endpoints:
            errors.append(
                (
                    ("endpoints",),
                    "an embeddings model is one server: set base_url and api_key on the "
                    "model itself (endpoints are the instances of chat models)",
                )
            )
        elif self.provider == "openai" and self.base_url is None:
            errors.append(
                (
                    ("base_url",),
                    "provider 'openai' needs a base_url, such as http://127.0.0.1:8000/v1",
                )
            )
        if self.provider == "openai":
            errors.extend(
                (
                    ("params", key),
                    f"{key!r} is set by the package (texts are sent as plain strings, so no "
                    "tokenizer is downloaded); remove it",
                )
                for key in sorted(_EMBEDDINGS_RESERVED_PARAMS & self.params.keys())
            )
        elif self.provider == "mock":
            errors.extend(
                (
                    ("params", key),
                    f"unknown param {key!r}; a mock embeddings model takes only 'dimensions'",
                )
                for key in sorted(self.params.keys() - _MOCK_EMBEDDINGS_PARAMS)
            )
        dimensions = self.params.get("dimensions")
        if "dimensions" in self.params and (
            isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1
        ):
            errors.append(
                (
                    ("params", "dimensions"),
                    f"expected a whole number of dimensions >= 1, got {dimensions!r}",
                )
            )
        return errors

    def _instance_id(self, index: int, endpoint: EndpointConfig) -> str:
        """`<model>#<endpoint name>`, or `<model>#<index>` for an unnamed endpoint."""
        return f"{self.name}#{endpoint.name if endpoint.name is not None else index}"

    def instances(self) -> list[InstanceConfig]:
        """Resolved endpoints, inheritance applied; the model itself when it lists no endpoints."""
        endpoints = self.endpoints or [EndpointConfig()]
        return [
            InstanceConfig(
                instance_id=self._instance_id(index, endpoint),
                base_url=endpoint.base_url or self.base_url,
                api_key=endpoint.api_key or self.api_key,
                weight=endpoint.weight,
                metrics_url=endpoint.metrics_url,
            )
            for index, endpoint in enumerate(endpoints)
        ]


class CircuitBreakerConfig(StrictModel):
    """Per-instance breaker: opens after consecutive failures, probes again after recovery_time."""

    failure_threshold: Integer = Field(default=5, ge=1)
    recovery_time: Number = Field(default=60.0, gt=0)
    half_open_requests: Integer = Field(default=1, ge=1)


class BackoffConfig(StrictModel):
    """The wait before a retry that finds no free untried instance: `initial` seconds after
    the first failed attempt, times `multiplier` after each further one, capped at `maximum`,
    plus a random 0..`jitter` seconds (a server's longer Retry-After wins)."""

    initial: Number = Field(default=0.25, ge=0)
    maximum: Number = Field(default=8.0, ge=0)
    multiplier: Number = Field(default=2.0, ge=1)
    jitter: Number = Field(default=0.25, ge=0)

    @model_validator(mode="after")
    def _check(self) -> BackoffConfig:
        if self.maximum < self.initial:
            raise _field_errors(
                type(self).__name__,
                [
                    (
                        ("maximum",),
                        f"expected at least initial ({self.initial:g} s), got {self.maximum:g}",
                    )
                ],
            )
        return self


class HedgingConfig(StrictModel):
    """Start extra attempts when the first has not answered after `delay`; the first answer wins.

    `delay: p95` waits for the observed p95 latency, or `fallback_delay` until `min_samples`
    latencies have been seen.
    """

    delay: HedgeDelay
    max_extra_attempts: Integer = Field(default=1, ge=1)
    min_samples: Integer = Field(default=20, ge=1)
    fallback_delay: Number = Field(default=1.0, gt=0)


class FallbackChain(StrictModel):
    """Where a task group goes when its current target is exhausted, and how: the part of its
    fallback settings the legacy global fallback could already set."""

    strategy: FallbackStrategy = FallbackStrategy.ECHELON_DOWN
    fallback_groups: list[TargetText] = Field(default_factory=list)
    max_attempts: Integer = Field(default=3, ge=1)
    retry_delay: Number = Field(default=0.0, ge=0)
    circuit_breaker: CircuitBreakerConfig = Field(default_factory=CircuitBreakerConfig)

    @model_validator(mode="after")
    def _check(self) -> FallbackChain:
        if self.strategy is FallbackStrategy.TASK_GROUP_SWITCH and not self.fallback_groups:
            raise _field_errors(
                type(self).__name__,
                [
                    (
                        ("fallback_groups",),
                        "strategy 'task_group_switch' needs at least one fallback target "
                        "('group' or 'group.echelonN')",
                    )
                ],
            )
        return self

    def targets(self) -> list[FallbackTarget]:
        """`fallback_groups` parsed, in order."""
        return [FallbackTarget.parse(text) for text in self.fallback_groups]


class FallbackConfig(FallbackChain):
    """How a task group moves on when its current target is exhausted."""

    deadline: Number | None = Field(default=None, gt=0)
    hedging: HedgingConfig | None = None


class EchelonConfig(StrictModel):
    """One tier of a task group: its models and the limits and timing its calls obey."""

    models: list[NonEmptyStr] = Field(min_length=1)
    concurrency_limit: Integer | None = Field(default=None, ge=1)
    rpm_limit: Integer | None = Field(default=None, ge=1)
    priority: Integer | None = None
    timeout: Number = Field(default=30.0, gt=0)
    max_retries: Integer = Field(default=2, ge=0)
    temperature: Number | None = Field(default=None, ge=0, le=2)
    max_tokens: Integer | None = Field(default=None, ge=1)
    first_chunk_timeout: Number | None = Field(default=None, gt=0)
    spill_over: bool = False
    backoff: BackoffConfig = Field(default_factory=BackoffConfig)

    @model_validator(mode="after")
    def _check(self) -> EchelonConfig:
        first_index: dict[str, int] = {}
        errors: list[tuple[Loc, str]] = []
        for index, name in enumerate(self.models):
            if name in first_index:
                errors.append(
                    (
                        ("models", index),
                        f"model {name!r} is already listed at models[{first_index[name]}]",
                    )
                )
            first_index.setdefault(name, index)
        if errors:
            raise _field_errors(type(self).__name__, errors)
        return self


class CacheConfig(StrictModel):
    """A response cache (`cache:` of a group, a pool or a wrapper): exact, or semantic by
    embedding similarity; in this process or in Redis (`state.yaml`'s, or its own `url`)."""

    enabled: bool = True
    mode: Literal["exact", "semantic"] = "exact"
    backend: Literal["memory", "redis"] = "memory"
    url: RedisUrl | None = None
    """The Redis of the redis backend; default: the `url` of `state.yaml`."""
    namespace: NonEmptyStr = "default"
    """Wrappers over the same route share entries only when they share a namespace."""
    ttl: Number = Field(default=3600.0, gt=0)
    max_entries: Integer = Field(default=10_000, ge=1)
    """Entries kept in memory (least recently used go first); with Redis, the vectors each
    process indexes for semantic lookups."""
    compress: bool = True
    compress_above: Integer = Field(default=1024, ge=0)
    """Entries longer than this many bytes are stored zlib-compressed (with `compress`)."""
    include_sampled: bool = False
    """Also cache calls made with a temperature above 0."""
    embeddings: NonEmptyStr | None = None
    """A registry model of `kind: embeddings`; semantic mode needs one."""
    embed: Literal["last_user_message", "all_user_messages"] = "last_user_message"
    similarity_threshold: Number = Field(default=0.8, gt=0, le=1)
    max_candidates: Integer = Field(default=5, ge=1)

    @model_validator(mode="after")
    def _check(self) -> CacheConfig:
        errors: list[tuple[Loc, str]] = []
        if self.mode == "semantic" and self.embeddings is None:
            message = "mode 'semantic' needs embeddings: a registry model of kind embeddings"
            errors.append((("embeddings",), message))
        if self.url is not None and self.backend != "redis":
            errors.append(
                (("backend",), "a url is set but backend is 'memory': set backend: redis")
            )
        if errors:
            raise _field_errors(type(self).__name__, errors)
        return self


class TaskGroupConfig(StrictModel):
    """A named task group: echelons tried in order (1 first) and its fallback settings."""

    name: GroupName
    description: str = ""
    echelons: dict[Annotated[int, Field(ge=1)], EchelonConfig]
    fallback_config: FallbackConfig = Field(default_factory=FallbackConfig)
    cache: CacheConfig | None = None
    offline_fallback: OfflineFallback = "none"

    @model_validator(mode="after")
    def _check(self) -> TaskGroupConfig:
        numbers = sorted(self.echelons)
        if not numbers:
            raise _field_errors(
                type(self).__name__,
                [
                    (
                        ("echelons",),
                        "a task group needs at least one echelon, starting with echelon1",
                    )
                ],
            )
        missing = [n for n in range(1, numbers[-1]) if n not in self.echelons]
        if missing:
            have = ", ".join(echelon_name(n) for n in numbers)
            raise _field_errors(
                type(self).__name__,
                [
                    (
                        ("echelons", n),
                        f"{echelon_name(n)} is missing; echelons are numbered from echelon1 "
                        f"without gaps (found {have})",
                    )
                    for n in missing
                ],
            )
        return self

    def ordered_echelons(self) -> list[tuple[int, EchelonConfig]]:
        """`(number, echelon)` pairs, echelon1 first."""
        return sorted(self.echelons.items())

    def echelon_names(self) -> list[str]:
        """`echelon1`, `echelon2`, ... in order."""
        return [echelon_name(number) for number in sorted(self.echelons)]


class PollingPoolFallbackConfig(StrictModel):
    """How a polling pool retries a failed call: on other instances, or on the same one."""

    strategy: PoolFallbackStrategy = PoolFallbackStrategy.INSTANCE_ROTATION
    max_instance_attempts: Integer = Field(default=2, ge=1)


class PollingPoolConfig(StrictModel):
    """A named pool rotating calls over the instances of some task groups (or single echelons)."""

    name: GroupName
    description: str = ""
    task_groups: list[TargetText] = Field(min_length=1)
    rotation_strategy: RotationStrategy = RotationStrategy.ROUND_ROBIN
    metrics_interval: Number = Field(default=2.0, gt=0)
    """Seconds between scrapes of the instances' `/metrics` (rotation `least_loaded`)."""
    waiting_weight: Number = Field(default=2.0, ge=0)
    """What a waiting request weighs against a running one in `least_loaded`'s load."""
    load_factor: Number = Field(default=1.25, ge=1)
    """`prefix_affinity`: a member takes a call while its calls in flight stay within
    ceil(load_factor x the members' average)."""
    affinity_prefix_chars: Integer = Field(default=2048, ge=1)
    """`prefix_affinity` without a session id: how many leading characters of the prompt
    (up to its first user message) make the key."""
    health_check_interval: Number = Field(default=30.0, gt=0)
    health_check_path: HealthCheckPath = "/models"
    health_check_timeout: Number = Field(default=5.0, gt=0)
    failure_threshold: Integer = Field(default=3, ge=1)
    recovery_time: Number = Field(default=60.0, gt=0)
    fallback_config: PollingPoolFallbackConfig = Field(default_factory=PollingPoolFallbackConfig)
    hedging: HedgingConfig | None = None
    cache: CacheConfig | None = None
    offline_fallback: OfflineFallback = "none"

    @model_validator(mode="after")
    def _check(self) -> PollingPoolConfig:
        errors: list[tuple[Loc, str]] = []
        targets = self.targets()
        for index, target in enumerate(targets):
            earlier = next(
                (i for i, other in enumerate(targets[:index]) if _overlap(target, other)), None
            )
            if earlier is not None:
                errors.append(
                    (
                        ("task_groups", index),
                        f"{str(target)!r} repeats instances of {str(targets[earlier])!r} at "
                        f"task_groups[{earlier}]; list each group or echelon once",
                    )
                )
        if errors:
            raise _field_errors(type(self).__name__, errors)
        return self

    def targets(self) -> list[FallbackTarget]:
        """`task_groups` parsed, in order."""
        return [FallbackTarget.parse(text) for text in self.task_groups]


def _overlap(first: FallbackTarget, second: FallbackTarget) -> bool:
    """Whether two targets share instances: the same echelon, or a group and any of its parts."""
    if first.group != second.group:
        return False
    return first.echelon is None or second.echelon is None or first.echelon == second.echelon


class StateConfig(StrictModel):
    """Where limits, breakers, cool-downs and health live (`state.yaml`): in this process
    (`memory`), or in Redis, shared by every replica using the same `key_prefix`."""

    backend: Literal["memory", "redis"] = "memory"
    url: RedisUrl | None = None
    key_prefix: NonEmptyStr = "llm-wrappers:"
    op_timeout: Number = Field(default=0.25, gt=0)
    """Seconds one Redis operation may take before the process falls back to local state."""
    lease_time: Number = Field(default=15.0, gt=0)
    """Seconds a slot of a process that died stays taken."""

    @model_validator(mode="after")
    def _check(self) -> StateConfig:
        if self.backend == "redis" and self.url is None:
            raise _field_errors(
                type(self).__name__,
                [(("url",), "backend 'redis' needs a url, such as redis://127.0.0.1:6379/0")],
            )
        if self.backend == "memory" and self.url is not None:
            raise _field_errors(
                type(self).__name__,
                [(("backend",), "a url is set but backend is 'memory': set backend: redis")],
            )
        return self


class LLMConfig(StrictModel):
    """Everything loaded from one config directory: models, task groups, polling pools and
    where the shared state lives."""

    models: dict[str, ModelConfig] = Field(default_factory=dict)
    groups: dict[str, TaskGroupConfig] = Field(default_factory=dict)
    pools: dict[str, PollingPoolConfig] = Field(default_factory=dict)
    state: StateConfig = Field(default_factory=StateConfig)
    source_dir: Path | None = None
