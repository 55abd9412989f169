"""Tracing overhead per model call: the same calls with and without `CostTracker`, interleaved.

    python bench/tracing_overhead.py [--calls 3000] [--runs 200]

Spans go through a real SDK `TracerProvider` with a `BatchSpanProcessor` (as in production)
to an exporter that drops them, and metrics to an SDK `MeterProvider`, so the figure covers
span creation, attribution, pricing (genai-prices lookup) and metric recording, not network I/O.
Writes bench/results/tracing_overhead.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine

from tiered_agents import CostTracker, Tier, create_tiered_graph
from tiered_agents.cli.contracts import make_contracts
from tiered_agents.cli.demo import FIELDS_SCHEMA, batch_input, scripted_tiers
from tiered_agents.testing import FakeChatModel


class DropExporter(SpanExporter):
    def export(self, spans: object) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def providers() -> tuple[TracerProvider, MeterProvider]:
    tp = TracerProvider()
    tp.add_span_processor(BatchSpanProcessor(DropExporter()))
    return tp, MeterProvider(metric_readers=[InMemoryMetricReader()])


def single_calls(n: int) -> dict[str, float]:
    model = FakeChatModel(respond=lambda m, t: "ok", model_name="gpt-5-mini", provider="openai")
    tp, mp = providers()
    tracker = CostTracker(tracer_provider=tp, meter_provider=mp)
    plain, traced = [], []
    for _ in range(200):  # warm up both paths
        model.invoke("warm up", config={"callbacks": [tracker]})
        model.invoke("warm up")
    for i in range(n):
        for with_tracker in ((False, True) if i % 2 else (True, False)):
            config = {"callbacks": [tracker]} if with_tracker else {}
            start = time.perf_counter()
            model.invoke("What is the notice period?", config=config)
            (traced if with_tracker else plain).append(time.perf_counter() - start)
        if i % 500 == 0:
            tracker.reset()
    tp.shutdown()
    return {"median_without_ms": statistics.median(plain) * 1e3,
            "median_with_ms": statistics.median(traced) * 1e3,
            "overhead_per_call_ms": (statistics.median(traced) - statistics.median(plain)) * 1e3}


def graph_runs(n: int) -> dict[str, float]:
    small, frontier = scripted_tiers()
    small = Tier("small", small.model.model_copy(update={"delay": 0.0}))
    frontier = Tier("frontier", frontier.model.model_copy(update={"delay": 0.0}))
    graph = create_tiered_graph(planner=frontier, tiers=[small, frontier],
                                schemas={"key_terms": FIELDS_SCHEMA})
    batch = batch_input(make_contracts())
    tp, mp = providers()
    plain, traced, calls = [], [], 0
    for i in range(n + 10):
        for with_tracker in ((False, True) if i % 2 else (True, False)):
            tracker = CostTracker(tracer_provider=tp, meter_provider=mp)
            config = {"callbacks": [tracker]} if with_tracker else {}
            start = time.perf_counter()
            graph.invoke(batch, config)
            elapsed = time.perf_counter() - start
            if i >= 10:
                (traced if with_tracker else plain).append(elapsed)
            if with_tracker:
                calls = tracker.report().total.calls
    tp.shutdown()
    per_run = statistics.median(traced) - statistics.median(plain)
    return {"model_calls_per_run": calls,
            "median_run_without_ms": statistics.median(plain) * 1e3,
            "median_run_with_ms": statistics.median(traced) * 1e3,
            "overhead_per_model_call_ms": per_run / calls * 1e3}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" /
                                             "tracing_overhead.json"))
    args = parser.parse_args()
    result = {"command": "python bench/tracing_overhead.py", "machine": machine(),
              "single_call": single_calls(args.calls),
              "tiered_graph_run": graph_runs(args.runs)}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
