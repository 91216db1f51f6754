"""The example configuration shipped with the package: what `llm-wrappers demo` runs, what
`llm-wrappers init` copies, and the environment that points it at simulated instances."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

EXAMPLE_CONFIG_DIR = Path(__file__).resolve().parent / "llms"

# The variables that set the example registry's instance URLs, in the order
# `endpoint_environment` deals URLs to them: the two hosted models, then the local fleet.
ENDPOINT_VARIABLES = (
    "LLM_WRAPPERS_OPENAI_URL",
    "LLM_WRAPPERS_ANTHROPIC_URL",
    "VLLM_URL_1",
    "VLLM_URL_2",
    "VLLM_URL_3",
    "VLLM_LLAMA_URL",
)


def endpoint_environment(urls: Sequence[str]) -> dict[str, str]:
    """Each of `ENDPOINT_VARIABLES` set to one of `urls`, dealt in turn (with one URL, all of
    them point at it)."""
    if not urls:
        raise ValueError("endpoint_environment needs at least one URL")
    return {name: urls[index % len(urls)] for index, name in enumerate(ENDPOINT_VARIABLES)}


def copy_example_config(destination: Path) -> list[Path]:
    """Write the example configuration into `destination` (created; it must not hold files
    yet) and return the files written, relative to it."""
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise FileExistsError(f"{destination} already exists and is not an empty directory")
    shutil.copytree(EXAMPLE_CONFIG_DIR, destination, dirs_exist_ok=True)
    return sorted(path.relative_to(destination) for path in destination.rglob("*.yaml"))
