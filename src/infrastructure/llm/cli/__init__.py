"""`llm-wrappers`: check a config directory, probe its instances, chat through a wrapper, and
run the simulator, from the shell."""

from __future__ import annotations

from infrastructure.llm.cli.app import main

__all__ = ["main"]
