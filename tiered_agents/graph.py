"""`create_tiered_graph`: a frontier planner, small-model workers, escalation, a synthesizer."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from langchain_core.runnables import RunnableLambda
from langchain_core.tools import BaseTool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer, RetryPolicy

import tiered_agents.attributes as attr
from tiered_agents._attempt import AttemptSettings
from tiered_agents._budget import check_interrupt
from tiered_agents._calls import as_tool, node_pair
from tiered_agents._nodes import (
    GraphSettings,
    dispatch,
    plan_steps,
    route,
    synthesize_steps,
    work_steps,
)
from tiered_agents.budget import Budget
from tiered_agents.escalation import EscalationPolicy
from tiered_agents.plan import Plan, check_schemas
from tiered_agents.retry import check_retry
from tiered_agents.state import TieredInput, TieredOutput, TieredState
from tiered_agents.tiers import Tier, check_count, check_ladder, reference_of
from tiered_agents.verifiers import Verifier

__all__ = ["create_tiered_graph"]


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
    tiers = check_ladder(tiers, planner=planner, synthesizer=synthesizer)
    check_count("max_subtasks", max_subtasks)
    check_count("max_tool_rounds", max_tool_rounds)
    named = check_schemas(schemas)
    if check_plan is not None and not callable(check_plan):
        raise TypeError("check_plan must be a function taking the plan and returning a problem "
                        f"(str) or None; got {type(check_plan).__name__}.")
    check_interrupt(budget, checkpointer)
    retry = check_retry(retry_policy)
    settings = GraphSettings(
        planner=planner,
        synthesizer=synthesizer or planner,
        max_subtasks=max_subtasks,
        check_plan=check_plan,
        schemas=named,
        attempts=AttemptSettings(
            tiers=tiers, retry_policy=retry, tools=[as_tool(t) for t in tools or []],
            max_tool_rounds=max_tool_rounds, verifier=verifier,
            escalation=escalation or EscalationPolicy(), budget=budget,
        ),
    )
    reference = reference_of(tiers[-1])

    def node(body: Any) -> RunnableLambda[Any, Any]:
        sync, asynchronous = node_pair(body, settings)
        return RunnableLambda(sync, afunc=asynchronous, name=body.__name__)

    builder = StateGraph(TieredState, input_schema=TieredInput, output_schema=TieredOutput)
    builder.add_node(
        "planner", node(plan_steps),
        metadata={attr.ROLE: "planner", attr.TIER: planner.name, attr.REFERENCE: reference},
    )
    builder.add_node("dispatch", RunnableLambda(
        lambda state, config: dispatch(state, config, settings), name="dispatch"))
    builder.add_node(
        "worker", node(work_steps),
        metadata={attr.ROLE: "worker", attr.REFERENCE: reference},
    )
    builder.add_node(
        "synthesizer", node(synthesize_steps),
        metadata={attr.ROLE: "synthesizer", attr.TIER: settings.synthesizer.name,
                  attr.REFERENCE: reference},
    )
    builder.add_edge(START, "planner")
    builder.add_edge("planner", "dispatch")
    builder.add_conditional_edges(
        "dispatch", lambda state: route(state, settings), ["planner", "worker", "synthesizer", END]
    )
    builder.add_edge("worker", "dispatch")
    builder.add_edge("synthesizer", "dispatch")
    return builder.compile(checkpointer=checkpointer, name=name)
