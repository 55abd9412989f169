"""Write a research brief with a tiered team whose workers may call a tool.

Run on real providers (needs `pip install 'tiered-agents[providers,otel]'` and API keys):

    TIERED_PLANNER_MODEL=anthropic:claude-opus-4-7 TIERED_WORKER_MODEL=openai:gpt-5-mini \
        python examples/research_brief.py "What limits the range of electric trucks?"
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from env_models import env_tier

from tiered_agents import CostTracker, create_tiered_graph

NOTES = {
    "battery": "Pack energy density (~160-200 Wh/kg at pack level) caps range per kg carried.",
    "weather": "Cold weather cuts usable capacity by 10-30% and adds cabin heating load.",
    "charging": "Megawatt charging (MCS) targets 1 MW+, so a 30-minute stop adds ~300 km.",
}


def lookup_notes(topic: str) -> str:
    """Return the team's research notes on a topic (battery, weather or charging)."""
    return NOTES.get(topic.lower().strip(), f"No notes on {topic!r}; topics: {sorted(NOTES)}")


def main() -> None:
    question = " ".join(sys.argv[1:]) or "What limits the range of electric trucks?"
    frontier = env_tier("frontier", "TIERED_PLANNER_MODEL", "anthropic:claude-opus-4-7")
    small = env_tier("small", "TIERED_WORKER_MODEL", "openai:gpt-5-mini")
    graph = create_tiered_graph(planner=frontier, tiers=[small, frontier],
                                tools=[lookup_notes], max_tool_rounds=4, name="research_brief")
    tracker = CostTracker(reference=frontier)
    out = graph.invoke({"task": f"Write a one-page research brief: {question}"},
                       config={"callbacks": [tracker]})
    print(out["answer"], "\n")
    print(tracker.report().table())


if __name__ == "__main__":
    main()
