"""`tiered-agents temporal worker` and `tiered-agents temporal run`: scale out on Temporal.

The worker serves the tiered graph with the tiers `graphs/plan_execute.py` uses (from the
environment: `TIERED_PLANNER_MODEL`, `TIERED_WORKER_MODEL`, or `local`), or the demo's
scripted models with `--fake`; start it in as many processes and on as many machines as you
like. `run` starts one workflow per task and prints each answer and the batch's cost report.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from pathlib import Path
from typing import Any

from rich.console import Console

__all__ = ["add_commands"]

GRAPH = "tiered"


def add_commands(commands: Any) -> None:
    temporal = commands.add_parser(
        "temporal", help="run tiered graphs as durable Temporal workflows").add_subparsers(
        dest="temporal", required=True)
    for name, helptext, handler in (
            ("worker", "serve the tiered graph's workflows and activities", _worker),
            ("run", "run tasks (one workflow each) and print answers and costs", _run)):
        sub = temporal.add_parser(name, help=helptext)
        sub.add_argument("--address", default="127.0.0.1:7233",
                         help="Temporal frontend HOST:PORT (default 127.0.0.1:7233)")
        sub.add_argument("--namespace", default="default")
        sub.add_argument("--task-queue", default="tiered-agents")
        sub.add_argument("--graph", default=GRAPH, help=f"registered graph name ({GRAPH})")
        sub.set_defaults(run=handler)
        if name == "worker":
            sub.add_argument("--fake", action="store_true",
                             help="serve the demo's scripted fake models (no keys needed)")
            sub.add_argument("--max-concurrent-activities", type=int, default=100)
            sub.add_argument("--trace-file", help="write this worker's spans to a JSONL file")
            sub.add_argument("--otlp", help="send this worker's spans to an OTLP/HTTP endpoint")
        else:
            sub.add_argument("task", nargs="?", help="the task, as text")
            sub.add_argument("--batch", help="a file of tasks: one per line, as text or as "
                                             'JSON ({"task": ..., "documents": {...}})')
            sub.add_argument("--json", help="write every run's output and report to this file")


def _worker(args: argparse.Namespace) -> int:
    from tiered_agents.cli.tracing import tracer_provider
    from tiered_agents.temporal import connect, create_durable_tiered_graph, create_worker

    console = Console()
    provider = tracer_provider(args)
    if args.fake:
        from tiered_agents.cli.demo import FIELDS_SCHEMA, scripted_tiers

        small, frontier = scripted_tiers()
        schemas = {"key_terms": FIELDS_SCHEMA}
    else:
        from tiered_agents.environment import tiers_from_environment

        small, frontier = tiers_from_environment()
        schemas = {}
    builder = create_durable_tiered_graph(frontier, [small, frontier], schemas=schemas,
                                          tracer_provider=provider)

    async def serve() -> None:
        client = await connect(args.address, namespace=args.namespace, tracer_provider=provider)
        worker = create_worker(client, task_queue=args.task_queue, graphs={args.graph: builder},
                               max_concurrent_activities=args.max_concurrent_activities)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with worker:
            console.print(f"worker serving graph [bold]{args.graph}[/bold] "
                          f"({small.model_name} → {frontier.model_name}) on task queue "
                          f"[bold]{args.task_queue}[/bold] at {args.address}; Ctrl-C stops it")
            await stop.wait()

    try:
        asyncio.run(serve())
    finally:
        if provider is not None:
            provider.shutdown()
    return 0


def _inputs(args: argparse.Namespace) -> list[dict[str, Any]]:
    if args.batch:
        items = []
        for line in Path(args.batch).read_text(encoding="utf-8").splitlines():
            if line.strip():
                value = json.loads(line) if line.lstrip().startswith("{") else {"task": line}
                items.append(value)
        return items
    if args.task:
        return [{"task": args.task}]
    raise SystemExit("give a task (tiered-agents temporal run \"...\") or --batch FILE")


def _run(args: argparse.Namespace) -> int:
    from tiered_agents.temporal import connect, run_batch
    from tiered_agents.tracing.report import CostReport

    console = Console()
    inputs = _inputs(args)

    async def go() -> list[Any]:
        client = await connect(args.address, namespace=args.namespace)
        return await run_batch(client, inputs, graph=args.graph, task_queue=args.task_queue)

    runs = asyncio.run(go())
    failed = 0
    for run in runs:
        if run.error:
            failed += 1
            console.print(f"[red]{run.workflow_id}: {run.error}[/red]")
        else:
            answer = str((run.output or {}).get("answer") or "")
            console.print(f"[bold]{run.workflow_id}[/bold]: {answer[:300]}")
    report = CostReport(calls=[call for run in runs for call in run.report.calls],
                        references=tuple(dict.fromkeys(
                            name for run in runs for name in run.report.references)))
    console.print(report.table())
    console.print(f"{len(runs) - failed} of {len(runs)} runs finished")
    if args.json:
        Path(args.json).write_text(json.dumps(
            [{"workflow_id": r.workflow_id, "output": r.output, "error": r.error,
              "report": r.report.to_dict()} for r in runs], indent=2, default=str) + "\n")
    return 1 if failed else 0
