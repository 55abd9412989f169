"""`create_tiered_graph`: a frontier planner, small-model workers, escalation, a synthesizer."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from langchain_core.tools import BaseTool
from langgraph.graph import StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer, RetryPolicy

from tiered_agents._budget import check_interrupt
from tiered_agents._calls import Nodes
from tiered_agents._nodes import graph_settings, tiered_builder
from tiered_agents.budget import Budget
from tiered_agents.escalation import EscalationPolicy
from tiered_agents.plan import Plan
from tiered_agents.tiers import Tier
from tiered_agents.verifiers import Verifier

__all__ = ["create_tiered_builder", "create_tiered_graph"]


def create_tiered_graph(
    planner: Tier,
    tiers: Sequence[Tier],
    *,
    synthesizer: Tier | None = None,
    tools: Sequence[BaseTool | Callable[..., Any]] | None = None,
    max_subtasks: int = 20,
    max_tool_rounds: int = 8,
    check_plan: Callable[[Plan], str | None] | None = None,
    schemas: Mapping[str, dict[str, Any]] | None = None,
    budget: Budget | None = None,
    verifier: Verifier | None = None,
    escalation: EscalationPolicy | None = None,
    retry_policy: RetryPolicy | None = None,
    checkpointer: Checkpointer = None,
    name: str = "tiered_agent",
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Build a graph where `planner` writes a plan and `tiers` (cheapest first) execute it.

    Independent subtasks run in parallel (LangGraph `Send`). A subtask starts on the tier the
    plan names (default: the cheapest); a failed call or an output that breaks the subtask's
    `expected_output` schema escalates to the next tier up. The synthesizer (default: the
    planner) writes the final answer. With a `verifier`, an answer that does not pass (by the
    `escalation` policy's threshold for its tier) escalates too; the ladder's last tier is
    always accepted.

    Example:
        ```python
        graph = create_tiered_graph(planner=frontier, tiers=[small, frontier])
        out = graph.invoke({"task": "Compare the termination clauses of ..."})
        out["answer"], out["plan"], out["results"]["s1"]["tier"]
        ```

    Args:
        planner: The tier that writes the plan.
        tiers: The worker tiers, cheapest first; names must be unique.
        synthesizer: The tier that writes the final answer; defaults to `planner`.
        tools: Tools the workers may call, in a loop of at most `max_tool_rounds` rounds.
        max_subtasks: The largest plan accepted.
        max_tool_rounds: Model turns a worker may spend calling tools before it must answer.
        check_plan: Your own rules for plans, checked after the built-in ones (once
            `per_document` subtasks are expanded): return a problem ("subtask s1 needs an
            expected_output") to send the plan back to the planner, as the built-in checks do,
            or `None` to accept it.
        schemas: Named JSON schemas for subtask outputs. The planner sees their names and
            descriptions and can set a subtask's `expected_output` to a name instead of
            writing the schema out (shorter plans, and the schema arrives exactly as you
            wrote it, descriptions included).
        budget: Dollar and token limits the graph enforces (`Budget`); `out["budget"]` reports
            the spending.
        verifier: Judges each worker answer (`ConfidenceVerifier`, `JudgeVerifier`, ...);
            `None` accepts every answer that has no error and fits its schema.
        escalation: Which tiers to climb, per-tier thresholds, agreement rules, and the
            maximum attempts per subtask; defaults to every tier in order.
        retry_policy: How each model call is retried on transient provider errors before a
            subtask escalates (LangGraph's `RetryPolicy`, applied per call so a retry never
            repeats calls that succeeded); defaults to `retry.default_retry_policy()`.
        checkpointer: A LangGraph checkpointer, for resuming runs and keeping finished work.
        name: The graph's name, used for the workflow span in traces.
    """
    check_interrupt(budget, checkpointer)
    return create_tiered_builder(
        planner, tiers, synthesizer=synthesizer, tools=tools, max_subtasks=max_subtasks,
        max_tool_rounds=max_tool_rounds, check_plan=check_plan, schemas=schemas, budget=budget,
        verifier=verifier, escalation=escalation, retry_policy=retry_policy,
    ).compile(checkpointer=checkpointer, name=name)


def create_tiered_builder(
    planner: Tier,
    tiers: Sequence[Tier],
    *,
    synthesizer: Tier | None = None,
    tools: Sequence[BaseTool | Callable[..., Any]] | None = None,
    max_subtasks: int = 20,
    max_tool_rounds: int = 8,
    check_plan: Callable[[Plan], str | None] | None = None,
    schemas: Mapping[str, dict[str, Any]] | None = None,
    budget: Budget | None = None,
    verifier: Verifier | None = None,
    escalation: EscalationPolicy | None = None,
    retry_policy: RetryPolicy | None = None,
) -> StateGraph[Any, Any, Any, Any]:
    """The tiered graph before `compile()`: the `StateGraph` that `create_tiered_graph`
    compiles, for apps that add nodes or edges of their own, or compile it themselves.
    Takes `create_tiered_graph`'s arguments but `checkpointer` and `name` (`compile`'s).

    Example:
        ```python
        builder = create_tiered_builder(frontier, [small, frontier])
        graph = builder.compile(checkpointer=InMemorySaver(), name="review")
        ```
    """
    settings = graph_settings(
        planner, tiers, synthesizer=synthesizer, tools=tools, max_subtasks=max_subtasks,
        max_tool_rounds=max_tool_rounds, check_plan=check_plan, schemas=schemas, budget=budget,
        verifier=verifier, escalation=escalation, retry_policy=retry_policy)
    return tiered_builder(settings, Nodes())
