"""Compare the termination clauses of three contracts with a tiered team, and print the cost.

Run on real providers (needs `pip install 'tiered-agents[providers,otel]'` and API keys):

    TIERED_PLANNER_MODEL=anthropic:claude-opus-4-7 TIERED_WORKER_MODEL=openai:gpt-5-mini \
        python examples/contract_review.py

Set `OTLP_ENDPOINT=http://127.0.0.1:6006` to send the trace to Phoenix or any OTLP back end.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from env_models import env_tier

from tiered_agents import CostTracker, configure_tracing, create_tiered_graph
from tiered_agents.cli.contracts import make_contracts


def main() -> None:
    frontier = env_tier("frontier", "TIERED_PLANNER_MODEL", "anthropic:claude-opus-4-7")
    small = env_tier("small", "TIERED_WORKER_MODEL", "openai:gpt-5-mini", max_concurrency=8)
    provider = configure_tracing(otlp_endpoint=os.environ.get("OTLP_ENDPOINT"),
                                 project_name="contract-review")
    tracker = CostTracker(tracer_provider=provider)
    graph = create_tiered_graph(planner=frontier, tiers=[small, frontier], name="contract_review")
    # The contracts go in as documents: the planner sees their names and sizes only, and each
    # worker reads the contracts its subtask names.
    out = graph.invoke(
        {"task": "Compare the termination clauses of these three contracts: who may terminate, "
                 "on how much notice, and which is most favourable to the client.",
         "documents": {c.id: c.text for c in make_contracts(3)}},
        config={"callbacks": [tracker], "max_concurrency": 8},
    )
    print(out["answer"], "\n")
    for sid, result in out["results"].items():
        print(f"{sid}: tier={result['tier']} attempts={len(result['attempts'])}")
    print(tracker.report().table())
    provider.shutdown()


if __name__ == "__main__":
    main()
