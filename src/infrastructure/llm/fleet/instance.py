"""One instance: one endpoint of one model, owning the chat model that talks to it."""

from __future__ import annotations

from dataclasses import dataclass, field

from langchain_core.language_models import BaseChatModel

from infrastructure.llm.providers.chat_models import ChatModels
from infrastructure.llm.redaction import public_url


@dataclass(eq=False, repr=False)
class Instance:
    """A routable endpoint; `weight` steers weighted pools, `metrics_url` least-loaded ones."""

    id: str
    model_name: str
    provider: str
    model: str
    base_url: str | None = field(repr=False)
    models: ChatModels = field(repr=False)
    weight: float = 1.0
    metrics_url: str | None = field(default=None, repr=False)
    """Where its Prometheus metrics are; None: `/metrics` at the root of `base_url`."""

    @property
    def chat_model(self) -> BaseChatModel:
        """The chat model for sync calls; async calls use `models.for_running_loop()`."""
        return self.models.sync()

    @property
    def public_url(self) -> str | None:
        """`base_url` without credentials, for reprs, stats and messages."""
        return public_url(self.base_url) if self.base_url else None

    def describe(self) -> dict[str, str | None]:
        """Public facts about the instance; never includes credentials."""
        return {
            "instance": self.id,
            "model": self.model_name,
            "provider": self.provider,
            "base_url": self.public_url,
        }

    def __repr__(self) -> str:
        return (
            f"Instance(id={self.id!r}, model_name={self.model_name!r}, "
            f"provider={self.provider!r}, model={self.model!r}, base_url={self.public_url!r})"
        )
