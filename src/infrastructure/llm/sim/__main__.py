"""`python -m infrastructure.llm.sim`: see `infrastructure.llm.sim.cli`."""

from infrastructure.llm.sim.cli import main

raise SystemExit(main())
