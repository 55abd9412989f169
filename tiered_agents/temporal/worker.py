"""Connecting to Temporal and running workers for durable tiered graphs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langgraph.graph import StateGraph
from opentelemetry import trace
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.langgraph import LangGraphPlugin
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from tiered_agents.temporal.workflow import TieredWorkflow

__all__ = ["connect", "create_worker"]

PASSED_THROUGH = ("tiered_agents", "genai_prices", "jsonschema", "opentelemetry", "pydantic",
                  "pydantic_core", "httpx", "rich")
"""Modules the workflow sandbox shares with the worker instead of re-importing per run (our
graph code runs in the workflow only for scheduling, which is deterministic)."""


async def connect(address: str, *, namespace: str = "default",
                  tracer_provider: trace.TracerProvider | None = None,
                  **kwargs: Any) -> Client:
    """A Temporal client for durable tiered graphs: pydantic payloads (messages and results
    travel as JSON) and OpenTelemetry trace context in Temporal's headers, so that a run's
    workflow and activity spans, in whichever processes they run, form one trace.

    `tracer_provider`: where Temporal's own spans go (`None`: the global provider, which the
    library never sets); pass the one the graph's activities export to. Other arguments go to
    `Client.connect`.
    """
    tracer = trace.get_tracer(__name__, tracer_provider=tracer_provider)
    interceptors = [TracingInterceptor(tracer), *kwargs.pop("interceptors", [])]
    return await Client.connect(address, namespace=namespace,
                                data_converter=pydantic_data_converter,
                                interceptors=interceptors, **kwargs)


def create_worker(client: Client, *, task_queue: str,
                  graphs: Mapping[str, StateGraph[Any, Any, Any, Any]],
                  **kwargs: Any) -> Worker:
    """A worker that runs `TieredWorkflow` and the activities of `graphs` (built by
    `create_durable_tiered_graph` or `create_durable_cascade`) on `task_queue`.

    Start the same worker in as many processes, on as many machines, as you like: workflows
    and activities go to whichever polls first, and a run survives any of them dying. Other
    arguments go to `temporalio.worker.Worker` (`max_concurrent_activities`, ...).

    Example:
        ```python
        client = await connect("localhost:7233")
        worker = create_worker(client, task_queue="review", graphs={
            "review": create_durable_tiered_graph(frontier, [small, frontier])})
        await worker.run()
        ```
    """
    for name, builder in graphs.items():
        if not isinstance(builder, StateGraph):
            raise TypeError(
                f"graphs[{name!r}] must be an uncompiled StateGraph from "
                "create_durable_tiered_graph(...) or create_durable_cascade(...), got "
                f"{type(builder).__name__}; Temporal's plugin compiles it in the workflow.")
    runner = SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSED_THROUGH))
    return Worker(client, task_queue=task_queue, workflows=[TieredWorkflow],
                  plugins=[LangGraphPlugin(graphs=dict(graphs))],
                  workflow_runner=kwargs.pop("workflow_runner", runner), **kwargs)
