"""`python -m tiered_agents.cli`: the same as the `tiered-agents` command."""

from tiered_agents.cli import main

raise SystemExit(main())
