"""LLMNode: a LangGraph node that calls a chat model chosen by name in its config.

Settings come from three layers, later ones winning: the node's own `config`, the run's
`config["configurable"]`, then `config["configurable"][<node name>]`. The model is resolved
with priority `llm_wrapper` > `task_group` > `polling_pool` > the `llm_client` setting (a
chat model, or the name of a wrapper) > the node's default `llm_client`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AnyMessage, BaseMessage, SystemMessage
from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import BaseModel, ConfigDict, Field, InstanceOf

from infrastructure.graph.error_handler import ErrorHandler
from infrastructure.graph.nodes.settings import parse_settings
from infrastructure.graph.nodes.state_node import StateNode
from infrastructure.llm.errors import LLMWrapperError
from infrastructure.llm.wrappers.factory import LLMWrapperFactory

# Keys a LangGraph RunnableConfig may carry; any other key in `config` is a node setting.
_RUNNABLE_CONFIG_KEYS = frozenset(
    {
        "tags",
        "metadata",
        "callbacks",
        "run_name",
        "max_concurrency",
        "recursion_limit",
        "configurable",
        "run_id",
    }
)


class LLMNodeSettings(BaseModel):
    """What an LLMNode calls and how."""

    model_config = ConfigDict(extra="forbid")

    llm_wrapper: str | None = None
    task_group: str | None = None
    polling_pool: str | None = None
    llm_client: str | InstanceOf[BaseChatModel] | None = None
    """Seed 004's legacy key: a chat model, or the name of a wrapper of the node's factory."""
    system_prompt: str | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    on_error: Literal["raise", "message"] = "raise"
    error_language: Literal["en", "zh"] | None = None
    """None: the language `ErrorHandler.configured_language()` gives."""

    @classmethod
    def parse(cls, settings: Mapping[str, Any], where: str) -> LLMNodeSettings:
        """Validate settings; errors name `where` and the offending key."""
        return parse_settings(cls, settings, where)

    def named(self) -> str | None:
        """What these settings ask the wrapper factory for, by priority: a wrapper, task
        group or polling pool, else an `llm_client` given by name; None when nothing is."""
        client = self.llm_client if isinstance(self.llm_client, str) else None
        return self.llm_wrapper or self.task_group or self.polling_pool or client


class LLMNode(StateNode):
    """Reads `messages` from the state, calls the resolved model, returns `{"messages": [reply]}`.

    Use it as `builder.add_node("llm", LLMNode(...))` (sync and async runs), or call
    `execute(state, config)` / `aexecute(...)` yourself. The input state is never mutated.
    With `on_error: message` a failure becomes `ErrorHandler.update_for`'s update: a short
    `AIMessage` for the user (in `error_language`) and the error recorded under `errors`.
    """

    def __init__(
        self,
        llm_client: BaseChatModel | None = None,
        wrapper_factory: LLMWrapperFactory | None = None,
        *,
        config: Mapping[str, Any] | None = None,
        name: str = "llm_node",
    ) -> None:
        self.llm_client = llm_client
        self.wrapper_factory = wrapper_factory
        self.name = name
        self.settings = dict(config or {})
        if LLMNodeSettings.parse(self.settings, f"node {name!r}").error_language is None:
            ErrorHandler.configured_language()  # a bad LLM_WRAPPERS_LANGUAGE fails here, at build

    # -- settings and model resolution ---------------------------------------------------------

    def settings_for(self, config: Mapping[str, Any] | None) -> LLMNodeSettings:
        """The node's settings with the call's overrides applied.

        `config` is either a LangGraph RunnableConfig (overrides under `configurable`) or, as
        in `execute(state, {"llm_wrapper": ...})`, a plain dict of settings.
        """
        merged = dict(self.settings)
        config = config or {}
        merged.update({k: v for k, v in config.items() if k not in _RUNNABLE_CONFIG_KEYS})
        configurable = config.get("configurable") or {}
        merged.update({k: v for k, v in configurable.items() if k in LLMNodeSettings.model_fields})
        scoped = configurable.get(self.name)
        if isinstance(scoped, Mapping):
            merged.update(scoped)
        return LLMNodeSettings.parse(merged, f"node {self.name!r}")

    def resolve(self, settings: LLMNodeSettings) -> BaseChatModel:
        """The model to call: wrapper > task group > polling pool > `llm_client` setting >
        default client."""
        factory = self.wrapper_factory
        named = settings.named()
        if named is not None and factory is None:
            raise LLMWrapperError(
                f"node {self.name!r}: {named!r} is named but the node has no wrapper_factory"
            )
        if settings.llm_wrapper is not None:
            assert factory is not None
            return factory.get_wrapper(settings.llm_wrapper)
        if settings.task_group is not None:
            assert factory is not None
            return factory.task_group_wrapper_for(settings.task_group)
        if settings.polling_pool is not None:
            assert factory is not None
            return factory.polling_pool_wrapper_for(settings.polling_pool)
        if isinstance(settings.llm_client, str):
            assert factory is not None
            return factory.get_wrapper(settings.llm_client)
        if settings.llm_client is not None:
            return settings.llm_client
        if self.llm_client is None:
            raise LLMWrapperError(
                f"node {self.name!r}: no model to call; set llm_wrapper, task_group, "
                "polling_pool or llm_client in its config, or give the node an llm_client"
            )
        return self.llm_client

    def _prepare(
        self, settings: LLMNodeSettings, state: Mapping[str, Any]
    ) -> tuple[Runnable[LanguageModelInput, BaseMessage], list[AnyMessage]]:
        """The model with the settings' call parameters bound, and the messages to send."""
        model: Runnable[LanguageModelInput, BaseMessage] = self.resolve(settings)
        params = {
            key: value
            for key, value in (
                ("max_tokens", settings.max_tokens),
                ("temperature", settings.temperature),
            )
            if value is not None
        }
        if params:
            model = model.bind(**params)
        messages = list(state.get("messages") or [])
        if settings.system_prompt and not (messages and isinstance(messages[0], SystemMessage)):
            messages.insert(0, SystemMessage(settings.system_prompt))
        return model, messages

    @staticmethod
    def _run_config(config: Mapping[str, Any] | None) -> RunnableConfig | None:
        """The part of `config` that is a RunnableConfig (callbacks, tags...), for the model."""
        if not config:
            return None
        return RunnableConfig(
            **{k: v for k, v in config.items() if k in _RUNNABLE_CONFIG_KEYS}  # type: ignore[typeddict-item]
        )

    # -- calling ------------------------------------------------------------------------------

    def execute(
        self, state: Mapping[str, Any], config: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Call the model on the state's messages; return the state update."""
        settings = self.settings_for(config)
        try:
            model, messages = self._prepare(settings, state)
            reply = model.invoke(messages, self._run_config(config))
        except Exception as exc:
            return self._failed(settings, exc, state)
        return {"messages": [reply]}

    async def aexecute(
        self, state: Mapping[str, Any], config: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Async twin of `execute`."""
        settings = self.settings_for(config)
        try:
            model, messages = self._prepare(settings, state)
            reply = await model.ainvoke(messages, self._run_config(config))
        except Exception as exc:
            return self._failed(settings, exc, state)
        return {"messages": [reply]}

    def _failed(
        self, settings: LLMNodeSettings, exc: Exception, state: Mapping[str, Any]
    ) -> dict[str, Any]:
        if settings.on_error == "raise":
            raise exc
        return ErrorHandler(settings.error_language).update_for(exc, state)
