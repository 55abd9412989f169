"""Wall-clock time against the frontier alone, and async throughput, on fakes that take time.

    python bench/latency.py [--repetitions 3] [--scale 1.0] [--concurrent 1000]

- `wall_clock`: one 12-subtask plan (ten independent extractions, then two comparisons that
  each wait for five of them) run on the tiered graph (workers on the small tier) and on the
  frontier tier alone (the same graph with the frontier as its only tier), alternating.
  Latencies follow real providers' shape: the frontier takes 2 s plus 20 ms per output
  token, the small model 0.4 s plus 5 ms per output token (`--scale` multiplies both, for a
  quick check); every worker writes the same answer in both modes, so only the tier
  differs.
- `throughput`: `--concurrent` runs of a two-subtask plan started at once with `ainvoke`
  (`asyncio.gather`) on fakes that take 50 ms a call, without and with a `CostTracker` per
  run: runs per second, errors, the process's CPU time per run (the event loop's work), and
  how late a 10 ms ticker woke up meanwhile (the loop's lag); then traced again with the
  garbage collector's first threshold raised to 10,000 (`gc.set_threshold`), an app setting.
  (`bench/limiter.py` runs the same with the small tier's calls limited.)

Writes bench/results/latency.json.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine

from tiered_agents import CostTracker, Tier, create_tiered_graph
from tiered_agents.testing import FakeChatModel, Reply, instruction_of, last_text

TASK = {"task": "Extract the key terms of ten supplier contracts and compare the two groups."}
ANSWER = ("Parties: Acme Ltd and Borealis GmbH. Term: 24 months from 1 March 2026, renewing "
          "for 12 months unless either party gives 90 days' written notice. Fees: EUR 4,500 "
          "a month, invoiced monthly in arrears, payable within 30 days. Liability is capped "
          "at the fees of the previous 12 months; neither party is liable for indirect loss. "
          "Governing law: Germany; courts of Munich. Termination for material breach after "
          "30 days' notice to cure. Data processing under a separate DPA (Annex 3). ")
"""What every worker answers (about 150 tokens), in both modes."""
GC_THRESHOLD = 10_000


def twelve_subtasks() -> dict[str, Any]:
    subtasks: list[dict[str, Any]] = [
        {"id": f"s{i}", "instruction": f"Extract the key terms of contract {i}"}
        for i in range(1, 11)]
    subtasks.append({"id": "s11", "instruction": "Compare contracts 1-5",
                     "depends_on": [f"s{i}" for i in range(1, 6)]})
    subtasks.append({"id": "s12", "instruction": "Compare contracts 6-10",
                     "depends_on": [f"s{i}" for i in range(6, 11)]})
    return {"subtasks": subtasks}


def frontier_respond(plan: dict[str, Any]) -> Any:
    body = json.dumps(plan)

    def respond(messages: list[BaseMessage], tools: Any) -> Reply:
        if "Subtask results:" in last_text(messages):
            return "Summary: " + ANSWER[:800]
        if instruction_of(messages):
            return ANSWER
        return f"```json\n{body}\n```"

    return respond


def worker_respond(messages: list[BaseMessage], tools: Any) -> Reply:
    return ANSWER


def wall_clock(repetitions: int, scale: float) -> dict[str, Any]:
    plan = twelve_subtasks()
    frontier = Tier("frontier", FakeChatModel(
        respond=frontier_respond(plan), model_name="gpt-5", provider="openai",
        delay=2.0 * scale, delay_per_output_token=0.020 * scale, keep_calls=False))
    small = Tier("small", FakeChatModel(
        respond=worker_respond, model_name="gpt-5-mini", provider="openai",
        delay=0.4 * scale, delay_per_output_token=0.005 * scale, keep_calls=False))
    graphs = {"tiered": create_tiered_graph(planner=frontier, tiers=[small, frontier]),
              "frontier_only": create_tiered_graph(planner=frontier, tiers=[frontier])}
    seconds: dict[str, list[float]] = {name: [] for name in graphs}
    costs: dict[str, float] = {}
    for r in range(repetitions):
        for name in (("tiered", "frontier_only") if r % 2 == 0 else
                     ("frontier_only", "tiered")):
            tracker = CostTracker()
            start = time.perf_counter()
            out = asyncio.run(graphs[name].ainvoke(TASK, {"callbacks": [tracker]}))
            seconds[name].append(time.perf_counter() - start)
            assert len(out["results"]) == 12 and out["answer"]
            costs[name] = float(tracker.report().total.cost_usd or 0)
    tiered = statistics.median(seconds["tiered"])
    alone = statistics.median(seconds["frontier_only"])
    return {"latency": {"frontier": f"{2.0 * scale} s + {20 * scale} ms per output token",
                        "small": f"{0.4 * scale} s + {5 * scale} ms per output token"},
            "seconds": seconds, "median_seconds": {"tiered": tiered, "frontier_only": alone},
            "tiered_vs_frontier_only_time": tiered / alone,
            "cost_usd": costs,
            "tiered_faster": tiered < alone}


async def concurrent_runs(n: int, traced: bool, limit: int | None = None) -> dict[str, Any]:
    two = {"subtasks": [{"id": "s1", "instruction": "Extract the key terms of contract 1"},
                        {"id": "s2", "instruction": "Extract the key terms of contract 2"}]}
    frontier = Tier("frontier", FakeChatModel(respond=frontier_respond(two), model_name="gpt-5",
                                              provider="openai", delay=0.05, keep_calls=False))
    small = Tier("small", FakeChatModel(respond=worker_respond, model_name="gpt-5-mini",
                                        provider="openai", delay=0.05, keep_calls=False),
                 max_concurrency=limit)
    graph = create_tiered_graph(planner=frontier, tiers=[small, frontier])
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=100_000))

    async def one() -> Any:
        config = {"callbacks": [CostTracker(tracer_provider=provider)]} if traced else {}
        return await graph.ainvoke(TASK, config)

    await one()  # warm-up
    lags: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            expected = time.perf_counter() + 0.010
            await asyncio.sleep(0.010)
            lags.append(max(0.0, time.perf_counter() - expected))

    tick = asyncio.create_task(ticker())
    cpu, start = time.process_time(), time.perf_counter()
    outcomes = await asyncio.gather(*(one() for _ in range(n)), return_exceptions=True)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    done.set()
    await tick
    provider.shutdown()
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    lags.sort()
    return {"runs": n, "errors": len(errors),
            "first_error": repr(errors[0]) if errors else None,
            "wall_seconds": wall, "runs_per_second": n / wall,
            "cpu_ms_per_run": cpu / n * 1e3,
            # planner, then two workers side by side, then synthesizer; with a limit on
            # the small tier, its 2n calls take turns in slots of `limit`
            "ideal_seconds": 0.15 if limit is None else 0.1 + math.ceil(2 * n / limit) * 0.05,
            "loop_lag_ms": {"p50": lags[len(lags) // 2] * 1e3,
                            "p99": lags[int(len(lags) * 0.99)] * 1e3, "max": lags[-1] * 1e3}}


def throughput(n: int) -> dict[str, Any]:
    result: dict[str, Any] = {"calls_per_run": 4, "latency_per_call_s": 0.05,
                              "untraced": asyncio.run(concurrent_runs(n, traced=False)),
                              "traced": asyncio.run(concurrent_runs(n, traced=True))}
    # With a thousand runs alive, CPython's collector scans their objects again and again;
    # an app can raise its first threshold (the library never touches it): measured here.
    default = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, default[1], default[2])
    try:
        result["traced_gc_threshold_10000"] = asyncio.run(concurrent_runs(n, traced=True))
    finally:
        gc.set_threshold(*default)
    result["gc_threshold_default"] = list(default)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--concurrent", type=int, default=1000)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" /
                                             "latency.json"))
    args = parser.parse_args()
    result = {"command": f"python bench/latency.py --repetitions {args.repetitions} "
                         f"--scale {args.scale} --concurrent {args.concurrent}",
              "machine": machine(), "wall_clock": wall_clock(args.repetitions, args.scale),
              "throughput": throughput(args.concurrent)}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    w = result["wall_clock"]
    print(f"12 subtasks: tiered {w['median_seconds']['tiered']:.2f} s, frontier only "
          f"{w['median_seconds']['frontier_only']:.2f} s "
          f"({w['tiered_vs_frontier_only_time']:.2f}x the time)")
    for mode in ("untraced", "traced", "traced_gc_threshold_10000"):
        t = result["throughput"][mode]
        print(f"{args.concurrent} concurrent ainvoke ({mode}): {t['runs_per_second']:.0f} runs/s, "
              f"{t['errors']} errors, {t['cpu_ms_per_run']:.2f} ms CPU per run, loop lag p99 "
              f"{t['loop_lag_ms']['p99']:.1f} ms")


if __name__ == "__main__":
    main()
