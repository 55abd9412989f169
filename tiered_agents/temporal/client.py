"""Starting durable tiered runs and reading their results and cost reports."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError

from tiered_agents.temporal.workflow import TieredRequest, TieredResult, TieredWorkflow
from tiered_agents.tracing.report import CallRecord, CostReport

__all__ = ["TemporalRun", "report_of", "result_of", "run_batch", "run_task", "start_task"]


@dataclass
class TemporalRun:
    """One durable run: its output (or its error, with the finished work) and its report."""

    workflow_id: str
    output: dict[str, Any] | None
    """The graph's output as JSON data (dollar amounts as exact decimal strings, messages as
    dicts)."""
    report: CostReport
    error: str | None = None
    """Why the run failed (`None` when it finished)."""
    partial: dict[str, Any] = field(default_factory=dict)
    """For a failed run: the state it had reached (finished subtasks' results included)."""


def report_of(calls: Iterable[Mapping[str, Any]]) -> CostReport:
    """The `CostReport` of a run's calls (from `TieredResult.calls` or the `calls` query)."""
    records, references = [], []
    for call in calls:
        records.append(CallRecord.from_dict(call))
        for name in call.get("references") or ():
            if name not in references:
                references.append(name)
    return CostReport(calls=records, references=tuple(references))


async def start_task(client: Client, input: Mapping[str, Any], *, graph: str, task_queue: str,
                     workflow_id: str | None = None
                     ) -> WorkflowHandle[TieredWorkflow, TieredResult]:
    """Start one run of the registered graph `graph` on `input` (`{"task": ...}`, with
    `documents` if any) and return its handle (query `calls`, signal `resume`)."""
    return await client.start_workflow(
        TieredWorkflow.run, TieredRequest(graph=graph, input=dict(input)),
        id=workflow_id or f"{graph}-{uuid.uuid4()}", task_queue=task_queue)


async def result_of(handle: WorkflowHandle[TieredWorkflow, TieredResult]) -> TemporalRun:
    """Wait for a run and read its output and report; a failed run comes back with its
    error and the work it finished."""
    try:
        result = await handle.result()
    except WorkflowFailureError as exc:
        cause = exc.cause
        details = cause.details[0] if isinstance(cause, ApplicationError) and cause.details \
            else {}
        details = details if isinstance(details, dict) else {}
        return TemporalRun(handle.id, None, report_of(details.get("calls") or []),
                           error=str(cause.message if isinstance(cause, ApplicationError)
                                     else exc), partial=details.get("state") or {})
    return TemporalRun(handle.id, result.output, report_of(result.calls))


async def run_task(client: Client, input: Mapping[str, Any], *, graph: str, task_queue: str,
                   workflow_id: str | None = None) -> TemporalRun:
    """Run one input to the end on the workers of `task_queue`."""
    return await result_of(await start_task(client, input, graph=graph, task_queue=task_queue,
                                            workflow_id=workflow_id))


async def run_batch(client: Client, inputs: Iterable[Mapping[str, Any]], *, graph: str,
                    task_queue: str, id_prefix: str | None = None) -> list[TemporalRun]:
    """Start every input at once (one workflow each) and wait for all, in input order; a
    failed run does not stop the others."""
    prefix = id_prefix or f"{graph}-{uuid.uuid4().hex[:8]}"
    handles = [await start_task(client, item, graph=graph, task_queue=task_queue,
                                workflow_id=f"{prefix}-{i}")
               for i, item in enumerate(inputs)]
    return list(await asyncio.gather(*(result_of(h) for h in handles)))
