"""A ready tiered graph for LangGraph Server and Studio (`langgraph.json` points here).

Models come from the environment, as `"provider:model"` strings resolved by LangChain's
`init_chat_model` (install `tiered-agents[providers]` and the provider's package):

    TIERED_PLANNER_MODEL=anthropic:claude-opus-4-7   # plans, escalation target, synthesizer
    TIERED_WORKER_MODEL=openai:gpt-5-mini            # executes the subtasks
"""

from __future__ import annotations

import os

from tiered_agents import Tier, create_tiered_graph

PLANNER_MODEL = os.environ.get("TIERED_PLANNER_MODEL", "anthropic:claude-opus-4-7")
WORKER_MODEL = os.environ.get("TIERED_WORKER_MODEL", "openai:gpt-5-mini")

frontier = Tier("frontier", PLANNER_MODEL, description="planning, judgement and hard subtasks")
small = Tier("small", WORKER_MODEL, description="fast, cheap execution of clear subtasks")

graph = create_tiered_graph(planner=frontier, tiers=[small, frontier], name="plan_execute")
