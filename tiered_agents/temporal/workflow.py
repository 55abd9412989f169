"""`TieredWorkflow`: one run of a registered durable graph as a Temporal workflow.

The workflow compiles the graph registered under the request's name (with an in-memory
checkpointer: Temporal's history is the durability), streams it, and keeps every model call
its activities report, so the cost report survives any worker and is queryable mid-run
(`report` query). A budget interrupt waits for the `resume` signal. A run that fails raises a
non-retryable `ApplicationError` whose details hold the finished work: the state so far and
the calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.types import Command
    from temporalio.langgraph import graph

    from tiered_agents.temporal.nodes import CALLS

__all__ = ["TieredRequest", "TieredResult", "TieredWorkflow"]

INTERNAL = frozenset({CALLS, "documents"})
"""State keys not returned as output: the calls come back as the report, the documents are the
caller's own (and may be large)."""


@dataclass
class TieredRequest:
    """What to run: a registered graph's name and its input."""

    graph: str
    input: dict[str, Any]
    recursion_limit: int = 200


@dataclass
class TieredResult:
    """A finished run: the graph's output and every model call, as `CallRecord` dicts."""

    output: dict[str, Any]
    calls: list[dict[str, Any]] = field(default_factory=list)


@workflow.defn(name="TieredGraph")
class TieredWorkflow:
    """Runs one input through a durable tiered graph (or cascade)."""

    def __init__(self) -> None:
        self._calls: list[dict[str, Any]] = []
        self._interrupts: list[Any] | None = None
        self._resume: Any = None

    @workflow.run
    async def run(self, request: TieredRequest) -> TieredResult:
        app = graph(request.graph).compile(checkpointer=InMemorySaver())
        config: Any = {"configurable": {"thread_id": workflow.info().workflow_id},
                       "recursion_limit": request.recursion_limit}
        value: Any = request.input
        try:
            while True:
                async for update in app.astream(value, config, stream_mode="updates"):
                    self._collect(update)
                state = await app.aget_state(config)
                if not state.interrupts:
                    break
                self._interrupts = [i.value for i in state.interrupts]
                await workflow.wait_condition(lambda: self._resume is not None)
                value, self._resume, self._interrupts = Command(resume=self._resume), None, None
        except Exception as exc:
            finished = await app.aget_state(config)
            raise ApplicationError(
                f"{type(exc).__name__}: {exc}",
                {"state": _output(finished.values), "calls": self._calls},
                type=type(exc).__name__, non_retryable=True) from exc
        return TieredResult(output=_output(state.values), calls=self._calls)

    def _collect(self, update: dict[str, Any]) -> None:
        for node_update in update.values():
            if isinstance(node_update, dict):
                self._calls.extend(node_update.get(CALLS) or [])

    @workflow.query
    def calls(self) -> list[dict[str, Any]]:
        """Every model call so far (build a `CostReport` from them mid-run)."""
        return list(self._calls)

    @workflow.query
    def interrupts(self) -> list[Any] | None:
        """What a paused run waits on (a budget interrupt's details), or `None`."""
        return self._interrupts

    @workflow.signal
    def resume(self, value: Any) -> None:
        """Resume a paused run (`{"max_usd": 10}` raises a budget's limit)."""
        self._resume = value


def _output(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k not in INTERNAL}
