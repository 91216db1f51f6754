"""Where a configuration directory is looked for when none is named."""

from __future__ import annotations

DEFAULT_CONFIG_DIR = "configs/llms"
CONFIG_DIR_ENV = "LLM_WRAPPERS_CONFIG_DIR"
