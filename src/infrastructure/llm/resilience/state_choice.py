"""Which shared state a fleet uses: the one the caller passes, a Redis URL the caller passes,
or what the config directory's `state.yaml` says (in memory when it says nothing)."""

from __future__ import annotations

from pydantic import SecretStr, ValidationError

from infrastructure.llm.clock import Clock
from infrastructure.llm.config.schema import StateConfig
from infrastructure.llm.errors import LLMWrapperError
from infrastructure.llm.resilience.state import InMemoryState, SharedState

StateChoice = SharedState | str | None
"""A `SharedState`, a Redis URL (`redis://...`), or None for `state.yaml`'s choice."""


def build_state(choice: StateChoice, config: StateConfig, clock: Clock) -> SharedState:
    """The state for `choice`; a URL uses the file's key prefix and timeouts."""
    if choice is not None and not isinstance(choice, str):
        return choice
    if isinstance(choice, str):
        try:
            config = StateConfig(
                backend="redis",
                url=SecretStr(choice),
                key_prefix=config.key_prefix,
                op_timeout=config.op_timeout,
                lease_time=config.lease_time,
            )
        except ValidationError as error:
            reason = error.errors()[0]["msg"].removeprefix("Value error, ")
            raise LLMWrapperError(f"state=: {reason}") from None
    if config.backend == "memory" or config.url is None:
        return InMemoryState()
    from infrastructure.llm.resilience.redis import RedisState

    return RedisState(
        config.url.get_secret_value(),
        key_prefix=config.key_prefix,
        op_timeout=config.op_timeout,
        lease_time=config.lease_time,
        clock=clock,
    )
