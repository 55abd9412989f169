"""Tiers configured by environment variables, as the ready graphs and the Temporal workers use.

    TIERED_PLANNER_MODEL=anthropic:claude-opus-4-7   # plans, escalation target, synthesizer
    TIERED_WORKER_MODEL=openai:gpt-5-mini            # executes the subtasks

Models are `"provider:model"` strings resolved by LangChain's `init_chat_model` (install
`tiered-agents[providers]` and the provider's package). `TIERED_PLANNER_MODEL=local` serves the
embedded local models instead (`tiered-agents[local]`). A model that cannot be built (no API
key, a missing package) becomes a stand-in whose first call fails naming what to set, so a
server or worker still starts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatResult

from tiered_agents.tiers import Tier

__all__ = ["PLANNER_VARIABLE", "WORKER_VARIABLE", "UnconfiguredModel", "tiers_from_environment"]

PLANNER_VARIABLE = "TIERED_PLANNER_MODEL"
WORKER_VARIABLE = "TIERED_WORKER_MODEL"
DEFAULTS = {PLANNER_VARIABLE: "anthropic:claude-opus-4-7", WORKER_VARIABLE: "openai:gpt-5-mini"}


class UnconfiguredModel(BaseChatModel):
    """Stands in for a model that could not be built, so a graph still loads; every call
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


def tiers_from_environment(environ: Mapping[str, str] | None = None) -> tuple[Tier, Tier]:
    """The `(small, frontier)` tiers the environment names (see the module's docstring)."""
    env = os.environ if environ is None else environ
    planner = env.get(PLANNER_VARIABLE, DEFAULTS[PLANNER_VARIABLE])
    if planner == "local":
        from tiered_agents.local import local_tiers

        small, frontier = local_tiers()
        return small, frontier
    return (_tier("small", env.get(WORKER_VARIABLE, DEFAULTS[WORKER_VARIABLE]), WORKER_VARIABLE,
                  "fast, cheap execution of clear subtasks"),
            _tier("frontier", planner, PLANNER_VARIABLE,
                  "planning, judgement and hard subtasks"))
