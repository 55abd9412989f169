"""A worker process for the Temporal tests: the tiered graph on fake models that take time,
logging every finished model call (with the activity that made it) and exporting spans.

    python -m tests.temporal_app --address 127.0.0.1:7233 --task-queue q --calls calls.jsonl \
        --spans spans.jsonl [--latency 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from langchain_core.outputs import ChatResult
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from temporalio import activity

from tiered_agents import Tier
from tiered_agents.temporal import (
    ActivitySettings,
    connect,
    create_durable_tiered_graph,
    create_worker,
)
from tiered_agents.testing import FakeChatModel, echo_worker, planner_responder
from tiered_agents.tracing.jsonl import JsonlSpanExporter

PLAN = {"subtasks": [
    {"id": "s1", "instruction": "Summarise clause 1"},
    {"id": "s2", "instruction": "Summarise clause 2"},
    {"id": "s3", "instruction": "Compare the summaries", "depends_on": ["s1", "s2"]},
]}
"""Two waves of workers: two in parallel, then one that needs both."""
GRAPH = "review"


class LoggedModel(FakeChatModel):
    """A fake that appends one line per finished call to `log` (pid, workflow, activity and
    its attempt), so a test can tell a finished call paid again from a lost one."""

    log: str = ""

    async def _agenerate(self, messages: Any, stop: Any = None, run_manager: Any = None,
                         **kwargs: Any) -> ChatResult:
        result = await super()._agenerate(messages, stop, run_manager, **kwargs)
        if self.log and activity.in_activity():
            info = activity.info()
            line = {"pid": os.getpid(), "workflow_id": info.workflow_id,
                    "activity_id": info.activity_id, "activity_type": info.activity_type,
                    "attempt": info.attempt, "model": self.model_name}
            with open(self.log, "a", encoding="utf-8") as out:
                out.write(json.dumps(line) + "\n")
        return result


def tiers(latency: float = 0.0, log: str = "") -> tuple[Tier, Tier]:
    """The test's small and frontier tiers (the local comparison runs use them too)."""
    frontier = LoggedModel(respond=planner_responder([PLAN]), model_name="gpt-5",
                           provider="openai", delay=latency * 1.5, log=log, keep_calls=False)
    small = LoggedModel(respond=echo_worker, model_name="gpt-5-mini", provider="openai",
                        delay=latency, log=log, keep_calls=False)
    return Tier("small", small), Tier("frontier", frontier)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--task-queue", required=True)
    parser.add_argument("--calls", required=True)
    parser.add_argument("--spans", required=True)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--heartbeat", type=float, default=1.0)
    args = parser.parse_args()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(JsonlSpanExporter(args.spans)))
    small, frontier = tiers(args.latency, args.calls)
    builder = create_durable_tiered_graph(
        frontier, [small, frontier], tracer_provider=provider,
        activities=ActivitySettings(heartbeat_timeout=timedelta(seconds=args.heartbeat)))
    client = await connect(args.address, tracer_provider=provider)
    worker = create_worker(client, task_queue=args.task_queue, graphs={GRAPH: builder})
    async with worker:
        Path(args.calls).with_suffix(f".ready-{os.getpid()}").touch()
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
