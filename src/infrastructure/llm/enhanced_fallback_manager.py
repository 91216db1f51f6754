"""Seed 004's import path for `EnhancedFallbackManager` (defined in `routing.fallback`)."""

from infrastructure.llm.routing.fallback import EnhancedFallbackManager

__all__ = ["EnhancedFallbackManager"]
