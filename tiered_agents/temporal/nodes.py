"""Tiered graphs whose model-calling nodes run as Temporal activities.

`create_durable_tiered_graph` and `create_durable_cascade` build the same graphs as
`create_tiered_graph` and `create_cascade`, uncompiled, for Temporal's LangGraph plugin
(`temporalio.langgraph.LangGraphPlugin(graphs={name: builder})`): the planner, every `Send`
worker (one activity per subtask attempt), the verifier (inside its worker's attempt) and the
synthesizer run as activities on any worker polling the task queue; `dispatch`, routing and
the state stay in the workflow, so the run's spend lives in its durable state.
"""

from __future__ import annotations

import asyncio
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any

from langchain_core.messages import convert_to_messages
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langchain_core.tools import BaseTool
from langgraph.errors import GraphBubbleUp
from langgraph.graph import StateGraph
from langgraph.types import RetryPolicy
from opentelemetry import metrics, trace
from temporalio import activity
from temporalio.common import RetryPolicy as ActivityRetryPolicy
from temporalio.exceptions import ApplicationError

from tiered_agents._calls import Body, Inline, Nodes, Update, run_async
from tiered_agents._nodes import graph_settings, tiered_builder
from tiered_agents.budget import Budget
from tiered_agents.cascade import CascadeState, cascade_builder, cascade_settings
from tiered_agents.escalation import EscalationPolicy
from tiered_agents.plan import Plan
from tiered_agents.state import TieredState
from tiered_agents.tiers import Tier
from tiered_agents.tracing.tracker import CostTracker
from tiered_agents.verifiers import Verifier

__all__ = ["CALLS", "ActivitySettings", "DurableCascadeState", "DurableTieredState",
           "create_durable_cascade", "create_durable_tiered_graph"]

CALLS = "calls"
"""The state key where each activity leaves the model calls it made (`CallRecord.to_dict()`),
so the workflow holds the run's cost report in its durable state."""


class DurableTieredState(TieredState, total=False):
    calls: Annotated[list[dict[str, Any]], operator.add]
    """Every model call of the run, as its activity's tracker recorded it."""


class DurableCascadeState(CascadeState, total=False):
    calls: Annotated[list[dict[str, Any]], operator.add]
    """Every model call of the run, as its activity's tracker recorded it."""


@dataclass(frozen=True)
class ActivitySettings:
    """How Temporal runs the model-calling nodes.

    Errors raised by a node are final for Temporal: each model call has already been retried
    by the graph's own `retry_policy` (transient provider errors, `Retry-After` honoured, no
    successful call repeated), and the rest (a bad plan, a failed subtask, a spent budget) are
    not transient. So Temporal retries an activity only when the library could not: its worker
    died or stopped heart-beating, or it ran past its timeout. No error is retried twice.
    """

    start_to_close_timeout: timedelta = timedelta(minutes=10)
    """The longest one node may run (a planner on a slow frontier model, a worker with tools)."""
    heartbeat_timeout: timedelta = timedelta(seconds=30)
    """How soon a dead worker's activities are given to another worker (they heart-beat every
    third of this)."""
    maximum_attempts: int = 5
    """Tries of a node whose worker was lost or that timed out, before the run fails."""
    node_timeouts: Mapping[str, timedelta] = field(default_factory=dict)
    """`start_to_close_timeout` per node name (`{"planner": timedelta(minutes=20)}`)."""

    def options(self, node: str) -> dict[str, Any]:
        """The node's metadata for Temporal's LangGraph plugin."""
        return {
            "execute_in": "activity",
            "start_to_close_timeout": self.node_timeouts.get(node, self.start_to_close_timeout),
            "heartbeat_timeout": self.heartbeat_timeout,
            "retry_policy": ActivityRetryPolicy(maximum_attempts=self.maximum_attempts),
            "summary": f"tiered-agents {node}",
        }


@dataclass(frozen=True)
class _Tracing:
    tracer_provider: trace.TracerProvider | None
    meter_provider: metrics.MeterProvider | None
    capture_content: bool | None


class _ActivityNodes(Nodes):
    """Model-calling nodes as activities; the others run in the workflow."""

    def __init__(self, activities: ActivitySettings, tracing: _Tracing) -> None:
        self.activities, self.tracing = activities, tracing

    def model_node(self, name: str, body: Body, settings: Any) -> tuple[Any, dict[str, Any]]:
        tracing = self.tracing

        async def node(state: Any, config: RunnableConfig) -> Update:
            return await _run_activity(name, body, settings, tracing, state=state, config=config)

        # The plugin names an activity's cached result by its function's module and qualified
        # name, and rejects closures: name it after the node, which is what it is.
        node.__module__, node.__name__, node.__qualname__ = __name__, name, f"node_{name}"
        return node, self.activities.options(name)

    def inline_node(self, name: str, func: Inline) -> tuple[Any, dict[str, Any]]:
        async def node(state: Any, config: RunnableConfig) -> Update:
            return func(state, config)

        return node, {"execute_in": "workflow"}


async def _heartbeat(every: float) -> None:
    while True:
        activity.heartbeat()
        await asyncio.sleep(every)


async def _run_activity(name: str, body: Body, settings: Any, tracing: _Tracing, *,
                        state: Any, config: RunnableConfig) -> Update:
    """Run one node in an activity: under its own node run, so a `CostTracker` (spans under
    the activity's span, one trace per workflow run) records its calls, which travel back in
    the update under `calls`."""
    tracker = CostTracker(tracer_provider=tracing.tracer_provider,
                          meter_provider=tracing.meter_provider,
                          capture_content=tracing.capture_content)
    metadata = dict(config.get("metadata") or {})
    tags = [*(config.get("tags") or []), f"graph:step:{metadata.get('langgraph_step', 0)}"]
    if isinstance(state, dict) and state.get("messages"):  # JSON carried them as dicts
        state = {**state, "messages": convert_to_messages(state["messages"])}

    async def run(value: Any, config: RunnableConfig) -> Update:
        return await run_async(body(value, config, settings))

    beat = None
    if activity.in_activity() and (timeout := activity.info().heartbeat_timeout):
        beat = asyncio.create_task(_heartbeat(timeout.total_seconds() / 3))
    try:
        update = await RunnableLambda(run, name=name).ainvoke(
            state, {**config, "callbacks": [tracker], "run_name": name, "tags": tags})
    except GraphBubbleUp:
        raise
    except Exception as exc:  # the graph's own retries are spent, or it is not transient
        raise ApplicationError(f"{type(exc).__name__}: {exc}", type=type(exc).__name__,
                               non_retryable=True) from exc
    finally:
        if beat is not None:
            beat.cancel()
    report = tracker.report()
    out = dict(update or {})
    out[CALLS] = [{**call.to_dict(), "references": list(report.references)}
                  for call in report.calls]
    return out


def create_durable_tiered_graph(
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
    activities: ActivitySettings | None = None,
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
    capture_content: bool | None = None,
) -> StateGraph[Any, Any, Any, Any]:
    """`create_tiered_graph`'s graph, uncompiled, with its model-calling nodes as Temporal
    activities: register it with `create_worker(graphs={"name": ...})`.

    Takes `create_tiered_graph`'s arguments (but `checkpointer` and `name`: Temporal is the
    durability, and the workflow compiles it), plus how activities run (`activities`) and
    where each activity's spans and metrics go (the worker process's providers; `None`: the
    global ones, which the library never sets).
    """
    settings = graph_settings(
        planner, tiers, synthesizer=synthesizer, tools=tools, max_subtasks=max_subtasks,
        max_tool_rounds=max_tool_rounds, check_plan=check_plan, schemas=schemas, budget=budget,
        verifier=verifier, escalation=escalation, retry_policy=retry_policy)
    return tiered_builder(settings, _ActivityNodes(activities or ActivitySettings(), _Tracing(
        tracer_provider, meter_provider, capture_content)), DurableTieredState)


def create_durable_cascade(
    tiers: Sequence[Tier],
    *,
    verifier: Verifier | None = None,
    escalation: EscalationPolicy | None = None,
    budget: Budget | None = None,
    retry_policy: RetryPolicy | None = None,
    activities: ActivitySettings | None = None,
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
    capture_content: bool | None = None,
) -> StateGraph[Any, Any, Any, Any]:
    """`create_cascade`'s graph, uncompiled, with its `answer` node (one attempt on one tier,
    verifier included) as a Temporal activity; see `create_durable_tiered_graph`."""
    settings = cascade_settings(tiers, verifier=verifier, escalation=escalation, budget=budget,
                                retry_policy=retry_policy)
    return cascade_builder(settings, _ActivityNodes(activities or ActivitySettings(), _Tracing(
        tracer_provider, meter_provider, capture_content)), DurableCascadeState)
