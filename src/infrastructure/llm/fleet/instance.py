"""One instance: one endpoint of one model, owning the chat model that talks to it."""

from __future__ import annotations

from dataclasses import dataclass, field

from langchain_core.language_models import BaseChatModel

from infrastructure.llm.providers.chat_models import ChatModels


@dataclass(eq=False)
class Instance:
    """A routable endpoint; `weight` steers weighted pools."""

    id: str
    model_name: str
    provider: str
    model: str
    base_url: str | None
    models: ChatModels = field(repr=False)
    weight: float = 1.0

    @property
    def chat_model(self) -> BaseChatModel:
        """The chat model for sync calls; async calls use `models.for_running_loop()`."""
        return self.models.sync()

    @property
    def accepts_request_timeout(self) -> bool:
        """Whether the chat model takes a per-request `timeout` keyword (the OpenAI SDK does)."""
        return self.provider == "openai"

    def describe(self) -> dict[str, str | None]:
        """Public facts about the instance; never includes credentials."""
        return {
            "instance": self.id,
            "model": self.model_name,
            "provider": self.provider,
            "base_url": self.base_url,
        }
