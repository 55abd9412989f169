"""Scale out on Temporal: tiered graphs as durable workflows across many worker processes.

Needs `pip install 'tiered-agents[temporal]'` (Temporal's Python SDK and its LangGraph plugin,
`temporalio-langgraph`). The planner, each subtask's attempt (its verifier included) and the
synthesizer run as activities on any worker polling the task queue; a worker that dies mid-run
loses only its unfinished activities, which another worker runs again; every activity's
model calls come back into the workflow's durable state, so the run's cost report (per node,
tier and subtask) and its budget hold across processes, and trace context travels in
Temporal's headers, so a run is one trace.

Example:
    ```python
    from tiered_agents.temporal import (
        connect, create_durable_tiered_graph, create_worker, run_task)

    client = await connect("localhost:7233")
    worker = create_worker(client, task_queue="review", graphs={
        "review": create_durable_tiered_graph(frontier, [small, frontier])})
    async with worker:
        run = await run_task(client, {"task": "..."}, graph="review", task_queue="review")
    run.output["answer"], run.report.table()
    ```
"""

from tiered_agents.temporal.client import (
    TemporalRun,
    report_of,
    result_of,
    run_batch,
    run_task,
    start_task,
)
from tiered_agents.temporal.nodes import (
    ActivitySettings,
    create_durable_cascade,
    create_durable_tiered_graph,
)
from tiered_agents.temporal.worker import connect, create_worker
from tiered_agents.temporal.workflow import TieredRequest, TieredResult, TieredWorkflow

__all__ = [
    "ActivitySettings",
    "TemporalRun",
    "TieredRequest",
    "TieredResult",
    "TieredWorkflow",
    "connect",
    "create_durable_cascade",
    "create_durable_tiered_graph",
    "create_worker",
    "report_of",
    "result_of",
    "run_batch",
    "run_task",
    "start_task",
]
