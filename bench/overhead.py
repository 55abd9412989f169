"""Per-call overhead of tracing and of `create_tiered_graph`, measured side by side.

    python bench/overhead.py [--runs 100] [--rounds 3] [--subtasks 16] [--profile VARIANT]

One graph shape throughout: a planner, `--subtasks` parallel `Send` workers, a synthesizer,
on zero-latency fake models (so only the framework's own time is measured). In each round,
every variant runs `--runs` times, in an order that rotates from round to round:

- `bare`: a hand-written LangGraph graph;
- `noop_handler`: the same graph with a LangChain callback handler that does nothing (what
  any callback-based instrumentation pays before doing anything);
- `spans_floor`: a minimal handler that makes the spans `CostTracker` makes (one per node,
  one per model call; one attribute each): the floor for this trace shape on the SDK;
- `spans_attributes`: the same minimal handler, with as many attributes as `CostTracker`
  writes on each span (node spans: two, then four totals at the end; chat spans: ten): the
  floor for this trace shape and content;
- `cost_tracker`: `CostTracker` with an SDK tracer provider, spans to an in-memory exporter
  (metrics go to the global meter provider, left unset, as in the issue's set-up);
- `cost_tracker_metrics`: the same, with an SDK meter provider (in-memory reader) too;
- `openinference`: OpenInference's LangChain instrumentor on the same SDK tracer provider,
  instrumented for its round only;
- `tiered`: `create_tiered_graph` on the same fakes, doing the same work (parse a JSON plan,
  fan out, synthesize), against `bare` as the hand-written equivalent;

and the figures are the medians over rounds of each round's median time per model call.
`--profile VARIANT` prints a yappi profile (all threads, CPU time) of one variant instead.
Writes bench/results/overhead.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import operator
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine

from tiered_agents import CostTracker, Tier, create_tiered_graph
from tiered_agents.plan import parse_plan
from tiered_agents.testing import FakeChatModel, echo_worker, planner_responder

GOAL = 1.3


def fakes(subtasks: int) -> tuple[FakeChatModel, FakeChatModel]:
    plan = {"subtasks": [{"id": f"s{i}", "instruction": f"Summarise contract {i}"}
                         for i in range(1, subtasks + 1)]}
    frontier = FakeChatModel(respond=planner_responder([plan]), model_name="gpt-5",
                             provider="openai")
    small = FakeChatModel(respond=echo_worker, model_name="gpt-5-mini", provider="openai")
    return frontier, small


class State(TypedDict, total=False):
    task: str
    subtasks: list[dict[str, Any]]
    results: Annotated[dict[str, str], operator.or_]
    answer: str


def hand_written(frontier: FakeChatModel, small: FakeChatModel, subtasks: int) -> Any:
    """What a LangGraph user writes by hand: plan, fan out with `Send`, synthesize."""

    def planner(state: State) -> State:
        reply = frontier.invoke([HumanMessage(f"Plan this task in at most {subtasks} "
                                              f"subtasks, as JSON:\n{state['task']}")])
        plan = parse_plan(str(reply.content), max_subtasks=subtasks)
        return {"subtasks": [dict(s) for s in plan["subtasks"]], "results": {}}

    def fan_out(state: State) -> list[Send]:
        return [Send("worker", {"task": state["task"], "subtask": s})
                for s in state["subtasks"]]

    def worker(payload: dict[str, Any]) -> State:
        subtask = payload["subtask"]
        reply = small.invoke([HumanMessage(f"Task: {payload['task']}\n\nYour subtask:\n"
                                           f"{subtask['instruction']}")])
        return {"results": {subtask["id"]: str(reply.content)}}

    def synthesizer(state: State) -> State:
        results = "\n".join(f"{k}: {v}" for k, v in sorted(state["results"].items()))
        reply = frontier.invoke([HumanMessage(f"Task: {state['task']}\n\n"
                                              f"Subtask results:\n{results}")])
        return {"answer": str(reply.content)}

    builder = StateGraph(State)
    builder.add_node("planner", planner)
    builder.add_node("worker", worker)
    builder.add_node("synthesizer", synthesizer)
    builder.add_edge(START, "planner")
    builder.add_conditional_edges("planner", fan_out, ["worker"])
    builder.add_edge("worker", "synthesizer")
    builder.add_edge("synthesizer", END)
    return builder.compile()


class NoopHandler(BaseCallbackHandler):
    """Hears every event `CostTracker` hears and does nothing."""

    run_inline = True

    def on_chain_start(self, *args: Any, **kwargs: Any) -> None: ...
    def on_chain_end(self, *args: Any, **kwargs: Any) -> None: ...
    def on_chat_model_start(self, *args: Any, **kwargs: Any) -> None: ...
    def on_llm_end(self, *args: Any, **kwargs: Any) -> None: ...


class SpansFloor(NoopHandler):
    """Makes the spans `CostTracker` makes for this graph and nothing else: one per run of a
    chain (the workflow and its nodes) and one per model call, each with one attribute."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self.tracer, self.spans = tracer, {}

    def _start(self, name: str, run_id: Any, parent_run_id: Any) -> None:
        parent = self.spans.get(parent_run_id)
        context = trace.set_span_in_context(parent) if parent is not None else None
        self.spans[run_id] = self.tracer.start_span(name, context=context,
                                                    attributes={"node": name})

    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: Any,
                       parent_run_id: Any = None, **kwargs: Any) -> None:
        self._start("node", run_id, parent_run_id)

    def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: Any,
                            parent_run_id: Any = None, **kwargs: Any) -> None:
        self._start("chat", run_id, parent_run_id)

    def on_chain_end(self, outputs: Any, *, run_id: Any, **kwargs: Any) -> None:
        span = self.spans.pop(run_id, None)
        if span is not None:
            span.end()

    def on_llm_end(self, response: Any, *, run_id: Any, **kwargs: Any) -> None:
        self.spans.pop(run_id).end()


_NODE = {"tiered_agents.node": "worker", "openinference.span.kind": "CHAIN"}
_TOTALS = {"tiered_agents.agg.calls": 1, "tiered_agents.agg.input_tokens": 24,
           "tiered_agents.agg.output_tokens": 6, "tiered_agents.agg.cost_usd": 1.8e-05}
_CHAT = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-5-mini",
         "tiered_agents.node": "worker", "openinference.span.kind": "LLM",
         "gen_ai.provider.name": "openai", "gen_ai.response.model": "gpt-5-mini",
         "gen_ai.usage.input_tokens": 24, "gen_ai.usage.output_tokens": 6,
         "gen_ai.usage.cost.amount": 1.8e-05, "gen_ai.usage.cost.currency": "USD"}


class SpansWithAttributes(SpansFloor):
    """`SpansFloor` with as many attributes on each span as `CostTracker` writes here."""

    def _start(self, name: str, run_id: Any, parent_run_id: Any) -> None:
        parent = self.spans.get(parent_run_id)
        context = trace.set_span_in_context(parent) if parent is not None else None
        self.spans[run_id] = self.tracer.start_span(
            name, context=context, attributes=_CHAT if name == "chat" else _NODE)

    def on_chain_end(self, outputs: Any, *, run_id: Any, **kwargs: Any) -> None:
        span = self.spans.pop(run_id, None)
        if span is not None:
            span.set_attributes(_TOTALS)
            span.end()


class Variants:
    """The variants, built once; `run(name)` invokes one of them once."""

    def __init__(self, subtasks: int) -> None:
        self.subtasks = subtasks
        frontier, small = fakes(subtasks)
        self.bare = hand_written(frontier, small, subtasks)
        self.tiered = create_tiered_graph(planner=Tier("frontier", frontier),
                                          tiers=[Tier("small", small), Tier("frontier", frontier)],
                                          max_subtasks=subtasks)
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
        self.task = {"task": "Review the supplier contracts and compare their terms."}
        self.calls = subtasks + 2

    def callable(self, name: str) -> Callable[[], Any]:
        if name in {"bare", "openinference"}:
            return lambda: self.bare.invoke(self.task)
        if name == "tiered":
            return lambda: self.tiered.invoke(self.task)
        if name == "noop_handler":
            return lambda: self.bare.invoke(self.task, {"callbacks": [NoopHandler()]})
        if name in {"spans_floor", "spans_attributes"}:
            tracer = self.tracer_provider.get_tracer("floor")
            handler = SpansFloor if name == "spans_floor" else SpansWithAttributes
            return lambda: self.bare.invoke(self.task, {"callbacks": [handler(tracer)]})
        if name in {"cost_tracker", "cost_tracker_metrics"}:
            meters = self.meter_provider if name == "cost_tracker_metrics" else None

            def traced() -> Any:  # one tracker per run, as the README advises
                tracker = CostTracker(tracer_provider=self.tracer_provider,
                                      meter_provider=meters)
                out = self.bare.invoke(self.task, {"callbacks": [tracker]})
                assert tracker.report().total.calls == self.calls
                return out
            return traced
        raise ValueError(name)

    def round(self, name: str, runs: int) -> float:
        """The median seconds per model call over `runs` runs of variant `name`."""
        instrumentor = None
        if name == "openinference":
            from openinference.instrumentation.langchain import LangChainInstrumentor
            instrumentor = LangChainInstrumentor()
            instrumentor.instrument(tracer_provider=self.tracer_provider)
        run = self.callable(name)
        try:
            gc.collect()  # the garbage of the round before is not this round's to collect
            run()  # warm-up
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                run()
                times.append(time.perf_counter() - start)
                self.spans.clear()
        finally:
            if instrumentor is not None:
                instrumentor.uninstrument()
        return statistics.median(times) / self.calls


NAMES = ("bare", "noop_handler", "spans_floor", "spans_attributes", "cost_tracker",
         "cost_tracker_metrics", "openinference", "tiered")


def measure(runs: int, rounds: int, subtasks: int) -> dict[str, Any]:
    variants = Variants(subtasks)
    per_round: dict[str, list[float]] = {name: [] for name in NAMES}
    for r in range(rounds):
        order = NAMES[r % len(NAMES):] + NAMES[:r % len(NAMES)]
        for name in order:
            per_round[name].append(variants.round(name, runs))
    summary = {name: {"median_ms_per_call": statistics.median(v) * 1e3,
                      "min_ms_per_call": min(v) * 1e3, "max_ms_per_call": max(v) * 1e3,
                      "rounds_ms_per_call": [x * 1e3 for x in v]}
               for name, v in per_round.items()}
    def ratio(name: str) -> float:
        return statistics.median(per_round[name]) / statistics.median(per_round["bare"])

    ratios = {f"{name}_vs_bare": ratio(name) for name in NAMES if name not in {"bare", "tiered"}}
    ratios["tiered_vs_hand_written"] = ratio("tiered")
    per_round_ratios = {
        name: [t / b for t, b in zip(per_round[name], per_round["bare"], strict=True)]
        for name in NAMES if name != "bare"}
    goals = ("cost_tracker_vs_bare", "tiered_vs_hand_written")
    return {"variants": summary, "ratios": ratios, "ratios_per_round": per_round_ratios,
            "goal": GOAL, "meets_goal": {k: ratios[k] <= GOAL for k in goals},
            "model_calls_per_run": variants.calls}


def profile(name: str, runs: int, subtasks: int) -> None:
    """Print where one variant's CPU time goes, in every thread (LangGraph runs parallel
    `Send` tasks on a thread pool, which cProfile would not see)."""
    import yappi

    variants = Variants(subtasks)
    run = variants.callable(name)
    run()
    yappi.set_clock_type("cpu")
    yappi.start()
    for _ in range(runs):
        run()
    yappi.stop()
    stats = sorted(yappi.get_func_stats(), key=lambda s: -s.ttot)
    print(f"{'total s':>8} {'own s':>8} {'calls':>8}  function")
    for stat in stats[:60]:
        where = stat.module.rsplit("site-packages/", 1)[-1]
        print(f"{stat.ttot:8.3f} {stat.tsub:8.3f} {stat.ncall:8d}  {where}:{stat.lineno} "
              f"{stat.name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--subtasks", type=int, default=16)
    parser.add_argument("--profile", choices=NAMES)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" /
                                             "overhead.json"))
    args = parser.parse_args()
    if args.profile:
        profile(args.profile, args.runs, args.subtasks)
        return
    result = {"command": f"python bench/overhead.py --runs {args.runs} --rounds {args.rounds} "
                         f"--subtasks {args.subtasks}",
              "machine": machine(),
              **measure(args.runs, args.rounds, args.subtasks)}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("ratios", "meets_goal")}, indent=2))
    for name, v in result["variants"].items():
        print(f"{name:>20}: {v['median_ms_per_call']:.3f} ms/call "
              f"({v['min_ms_per_call']:.3f}-{v['max_ms_per_call']:.3f})")


if __name__ == "__main__":
    main()
