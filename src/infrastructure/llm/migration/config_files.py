"""The group and pool files of a config directory, as raw bytes, and whether each already
sets its own `fallback_config`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from infrastructure.llm.config.loader import GROUPS_DIR, POOLS_DIR, yaml_files
from infrastructure.llm.config.yaml_reader import (
    UnreadableFileError,
    load_yaml,
    read_config_bytes,
)
from infrastructure.llm.errors import ConfigError, ConfigIssue

FileKind = Literal["group", "pool"]
FALLBACK_KEY = "fallback_config"


@dataclass(frozen=True)
class ConfigFile:
    """One group or pool file as it is on disk."""

    kind: FileKind
    path: Path
    name: str
    raw: bytes
    has_fallback: bool

    def relative(self, root: Path) -> str:
        return str(self.path.relative_to(root))


def scan_config_files(root: Path) -> list[ConfigFile]:
    """Every group file, then every pool file, in name order (the directory must already have
    loaded without issues). Files are read within the loader's limits, in case one was
    replaced since."""
    found: list[ConfigFile] = []
    for kind, directory in (("group", GROUPS_DIR), ("pool", POOLS_DIR)):
        for path in yaml_files(root / directory):
            try:
                raw = read_config_bytes(path)
            except UnreadableFileError as error:
                raise ConfigError([ConfigIssue(str(path), "", str(error))]) from None
            data = load_yaml(raw.decode("utf-8"))
            found.append(ConfigFile(kind, path, str(data["name"]), raw, FALLBACK_KEY in data))
    return found
