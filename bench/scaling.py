"""How the tiered graph and `CostTracker` scale: plan size, chain length, and memory over runs.

    python bench/scaling.py [--runs 5] [--memory-runs 10000]

On zero-latency fake models (so only the framework's time is measured):

- `independent`: plans of 16 to 256 independent subtasks (one wave of parallel `Send`
  workers), with and without a `CostTracker`, with `invoke`, with `ainvoke`, and with
  `ainvoke` while CPython's garbage collector is paused for the run (its cost grows with the
  objects alive, whoever made them): milliseconds per subtask should stay flat;
- `chain`: plans of 10 to 100 subtasks, each depending on the one before (one worker per
  step), measured the same ways: milliseconds per subtask should stay flat too (no work
  quadratic in the plan's size in dispatch, the state's reducers or the tracker);
- `memory`: traced memory (tracemalloc) of 10,000 runs of a two-subtask plan with one
  tracker reset after every run, with a new tracker per run, and with one tracker never
  reset (which keeps every call's record, by design, until `reset()`).

Writes bench/results/scaling.json and bench/results/scaling.png.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine

from tiered_agents import CostTracker, Tier, create_tiered_graph
from tiered_agents.testing import FakeChatModel, echo_worker, planner_responder

TASK = {"task": "Review the supplier contracts and compare their terms."}
MODES = ("sync", "async", "async_gc_paused")


def plan(n: int, *, chain: bool) -> dict[str, Any]:
    return {"subtasks": [
        {"id": f"s{i}", "instruction": f"Summarise contract {i}",
         "depends_on": [f"s{i - 1}"] if chain and i > 1 else []}
        for i in range(1, n + 1)]}


def graph(n: int, *, chain: bool) -> Any:
    frontier = Tier("frontier", FakeChatModel(respond=planner_responder([plan(n, chain=chain)]),
                                              model_name="gpt-5", provider="openai",
                                              keep_calls=False))
    small = Tier("small", FakeChatModel(respond=echo_worker, model_name="gpt-5-mini",
                                        provider="openai", keep_calls=False))
    return create_tiered_graph(planner=frontier, tiers=[small, frontier], max_subtasks=n)


def per_subtask(n: int, runs: int, *, chain: bool) -> dict[str, Any]:
    """Median milliseconds per subtask of a run, untraced and traced (interleaved): with
    `invoke`, with `ainvoke`, and with `ainvoke` while the garbage collector is paused for the
    run (collected between runs), which leaves only the framework's own work."""
    g = graph(n, chain=chain)
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    row: dict[str, Any] = {"subtasks": n}
    for mode in MODES:
        times: dict[bool, list[float]] = {False: [], True: []}
        for i in range(runs + 1):
            for traced in ((False, True) if i % 2 else (True, False)):
                config = {"callbacks": [CostTracker(tracer_provider=provider)]} if traced else {}
                gc.collect()
                if mode == "async_gc_paused":
                    gc.disable()
                start = time.perf_counter()
                try:
                    out = g.invoke(TASK, config) if mode == "sync" else \
                        asyncio.run(g.ainvoke(TASK, config))
                finally:
                    gc.enable()
                if i:  # the first round warms up
                    times[traced].append(time.perf_counter() - start)
                assert len(out["results"]) == n
                provider.force_flush()
                exporter.clear()
        row[mode] = {"ms_per_subtask": statistics.median(times[False]) / n * 1e3,
                     "ms_per_subtask_traced": statistics.median(times[True]) / n * 1e3}
    provider.shutdown()
    return row


def memory(runs: int, every: int) -> dict[str, Any]:
    """Traced memory after every `every` runs, for three ways of using trackers."""
    g = graph(2, chain=False)
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    out: dict[str, Any] = {"runs": list(range(every, runs + 1, every))}
    for mode in ("reset_after_each_run", "tracker_per_run", "never_reset"):
        shared = CostTracker(tracer_provider=provider)
        g.invoke(TASK, {"callbacks": [shared]})
        shared.reset()
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        kib = []
        for i in range(1, runs + 1):
            tracker = CostTracker(tracer_provider=provider) if mode == "tracker_per_run" \
                else shared
            g.invoke(TASK, {"callbacks": [tracker]})
            if mode == "reset_after_each_run":
                tracker.reset()
            if i % every == 0 or i % 200 == 0:  # the exporter's buffer is not the tracker's
                provider.force_flush()
                exporter.clear()
            if i % every == 0:
                gc.collect()
                kib.append((tracemalloc.get_traced_memory()[0] - base) / 1024)
        tracemalloc.stop()
        out[mode] = {"kib_above_start": kib,
                     "kib_per_1000_runs_after_first_1000": (kib[-1] - kib[0]) /
                     max(1, (runs - every) / 1000)}
    provider.shutdown()
    return out


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    for key, label in (("independent", "independent (one wave)"),
                       ("chain", "chain (one worker per step)")):
        rows = result[key]
        x = [r["subtasks"] for r in rows]
        a.plot(x, [r["async_gc_paused"]["ms_per_subtask"] for r in rows], "o-", label=label)
        a.plot(x, [r["async_gc_paused"]["ms_per_subtask_traced"] for r in rows], "o--",
               label=f"{label}, traced")
    a.set_xscale("log", base=2)
    a.set_xlabel("subtasks in the plan")
    a.set_ylabel("ms per subtask (median run)")
    a.set_ylim(bottom=0)
    a.legend(fontsize=7)
    a.set_title("Time per subtask (ainvoke, collector paused)", fontsize=9)
    mem = result["memory"]
    for mode in ("reset_after_each_run", "tracker_per_run", "never_reset"):
        b.plot(mem["runs"], [k / 1024 for k in mem[mode]["kib_above_start"]], label=mode)
    b.set_xlabel("runs")
    b.set_ylabel("MiB above start (tracemalloc)")
    b.legend(fontsize=7)
    b.set_title("CostTracker memory", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--memory-runs", type=int, default=10_000)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" /
                                             "scaling.json"))
    args = parser.parse_args()
    result: dict[str, Any] = {
        "command": f"python bench/scaling.py --runs {args.runs} "
                   f"--memory-runs {args.memory_runs}",
        "machine": machine(),
        "independent": [per_subtask(n, args.runs, chain=False) for n in (16, 32, 64, 128, 256)],
        "chain": [per_subtask(n, args.runs, chain=True) for n in (10, 25, 50, 100)],
        "memory": memory(args.memory_runs, max(1, args.memory_runs // 10)),
    }
    for key in ("independent", "chain"):
        rows = result[key]
        result[f"{key}_largest_vs_smallest"] = {
            f"{mode}{suffix}": rows[-1][mode][f"ms_per_subtask{suffix}"] /
            rows[0][mode][f"ms_per_subtask{suffix}"]
            for mode in MODES for suffix in ("", "_traced")}
    out = Path(args.out)
    out.write_text(json.dumps(result, indent=2) + "\n")
    plot(result, out.with_suffix(".png"))
    for key in ("independent", "chain"):
        for row in result[key]:
            print(f"{key:>11} {row['subtasks']:>4}: " + ", ".join(
                f"{mode} {row[mode]['ms_per_subtask']:.3f} "
                f"({row[mode]['ms_per_subtask_traced']:.3f} traced)" for mode in MODES))
    for mode in ("reset_after_each_run", "tracker_per_run", "never_reset"):
        print(f"{mode:>22}: {result['memory'][mode]['kib_above_start'][-1]:.0f} KiB after "
              f"{args.memory_runs} runs")


if __name__ == "__main__":
    main()
