"""Migrate an LLM config directory from the legacy global fallback; the same as
`llm-wrappers migrate` (see docs/migration.md). Run `python scripts/migrate_llm_config.py --help`.
"""

from __future__ import annotations

import sys

from infrastructure.llm.cli.app import main

if __name__ == "__main__":
    sys.exit(main(["migrate", *sys.argv[1:]]))
