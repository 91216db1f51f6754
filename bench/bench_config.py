"""Write a throwaway config directory for a benchmark, in the layout the loader reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def write_config_dir(
    root: Path,
    models: dict[str, dict[str, Any]],
    groups: dict[str, dict[str, Any]],
    pools: dict[str, dict[str, Any]] | None = None,
) -> Path:
    """`models/registry.yaml`, `groups/<name>.yaml`, `polling_pools/<name>.yaml` under `root`."""
    (root / "models").mkdir(parents=True, exist_ok=True)
    (root / "groups").mkdir(exist_ok=True)
    (root / "models" / "registry.yaml").write_text(yaml.safe_dump({"models": models}))
    for name, body in groups.items():
        (root / "groups" / f"{name}.yaml").write_text(yaml.safe_dump({"name": name, **body}))
    if pools:
        (root / "polling_pools").mkdir(exist_ok=True)
        for name, body in pools.items():
            path = root / "polling_pools" / f"{name}.yaml"
            path.write_text(yaml.safe_dump({"name": name, **body}))
    return root
