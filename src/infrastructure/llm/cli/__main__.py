"""`python -m infrastructure.llm.cli`: the same as the `llm-wrappers` command."""

from infrastructure.llm.cli.app import main

raise SystemExit(main())
