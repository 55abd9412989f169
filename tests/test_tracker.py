"""CostTracker: spans, attribution, aggregation without double counting, metrics, safety."""

from __future__ import annotations

import itertools
import json
import time
import warnings
from decimal import Decimal
from typing import Any

import pytest
from langchain_core.caches import InMemoryCache
from langchain_core.globals import set_llm_cache
from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode
from typing_extensions import TypedDict

from tiered_agents import CostTracker, Price, Tier, create_tiered_graph
from tiered_agents import attributes as attr
from tiered_agents.errors import UnpricedModelWarning
from tiered_agents.testing import (
    FakeChatModel,
    echo_worker,
    instruction_of,
    last_text,
    planner_responder,
)

COST = "gen_ai.usage.cost.amount"


def by_id(spans: list[ReadableSpan]) -> dict[int, ReadableSpan]:
    return {s.context.span_id: s for s in spans}


def tree(spans: list[ReadableSpan]) -> list[Any]:
    """The span tree as nested [name, [children...]], children sorted for stable comparison."""
    children: dict[int | None, list[ReadableSpan]] = {}
    for span in spans:
        children.setdefault(span.parent.span_id if span.parent else None, []).append(span)

    def build(span: ReadableSpan) -> list[Any]:
        kids = sorted((build(c) for c in children.get(span.context.span_id, [])), key=str)
        return [span.name, kids] if kids else [span.name]

    return [build(root) for root in children[None]]


def chat_spans(spans: list[ReadableSpan]) -> list[ReadableSpan]:
    return [s for s in spans if s.attributes.get("gen_ai.operation.name") == "chat"]


def test_span_tree_of_a_tiered_run(tiers: tuple[Tier, Tier], spans: Any) -> None:
    provider, exporter = spans
    tracker = CostTracker(tracer_provider=provider)
    graph = create_tiered_graph(planner=tiers[1], tiers=list(tiers), name="review")
    graph.invoke({"task": "t"}, config={"callbacks": [tracker]})
    def worker(sid: str) -> list[Any]:  # each worker span names its subtask and tier
        return [f"invoke_agent worker {sid} (small)", [["chat gpt-5-mini"]]]

    assert tree(exporter.get_finished_spans()) == [
        ["invoke_workflow review", sorted([
            ["dispatch"], ["dispatch"],  # after each wave of workers
            ["invoke_agent planner", [["chat claude-opus-4-7"]]],
            ["invoke_agent synthesizer", [["chat claude-opus-4-7"]]],
            worker("s1"), worker("s2"), worker("s3"),
        ], key=str)]
    ]


def _check_attribution(exporter: Any, tracker: CostTracker) -> None:
    finished = exporter.get_finished_spans()
    spans = by_id(finished)
    workers = [s for s in chat_spans(finished) if s.attributes[attr.NODE] == "worker"]
    assert sorted(s.attributes[attr.SUBTASK_ID] for s in workers) == ["s1", "s2", "s3"]
    for chat in workers:
        node = spans[chat.parent.span_id]
        assert node.name == f"invoke_agent worker {chat.attributes[attr.SUBTASK_ID]} (small)"
        assert node.attributes[attr.SUBTASK_ID] == chat.attributes[attr.SUBTASK_ID]
        assert node.attributes[attr.TIER] == "small" == chat.attributes[attr.TIER]
        assert node.attributes[attr.ATTEMPT] == 1
    report = tracker.report()
    assert set(report.by_subtask) == {"s1", "s2", "s3"}
    assert set(report.by_node) == {"planner", "worker", "synthesizer"}
    assert report.by_node["worker"].calls == 3
    assert set(report.by_tier) == {"small", "frontier"}
    assert set(report.by_model) == {"gpt-5-mini", "claude-opus-4-7"}


def test_attribution_under_parallel_send_sync(tiers: tuple[Tier, Tier], spans: Any) -> None:
    provider, exporter = spans
    slow = Tier("small", FakeChatModel(respond=echo_worker, model_name="gpt-5-mini", delay=0.05))
    tracker = CostTracker(tracer_provider=provider)
    create_tiered_graph(planner=tiers[1], tiers=[slow, tiers[1]]).invoke(
        {"task": "t"}, config={"callbacks": [tracker]})
    _check_attribution(exporter, tracker)


async def test_attribution_under_parallel_send_async(tiers: tuple[Tier, Tier],
                                                     spans: Any) -> None:
    provider, exporter = spans
    slow = Tier("small", FakeChatModel(respond=echo_worker, model_name="gpt-5-mini", delay=0.05))
    tracker = CostTracker(tracer_provider=provider)
    await create_tiered_graph(planner=tiers[1], tiers=[slow, tiers[1]]).ainvoke(
        {"task": "t"}, config={"callbacks": [tracker]})
    _check_attribution(exporter, tracker)


def test_no_double_counting(tiers: tuple[Tier, Tier], spans: Any) -> None:
    provider, exporter = spans
    tracker = CostTracker(tracer_provider=provider)
    create_tiered_graph(planner=tiers[1], tiers=list(tiers)).invoke(
        {"task": "t"}, config={"callbacks": [tracker]})
    finished = exporter.get_finished_spans()
    chats = chat_spans(finished)
    chat_total = sum(Decimal(str(s.attributes[COST])) for s in chats)
    report = tracker.report()
    assert report.total_cost_usd is not None and report.total_cost_usd > 0
    assert abs(chat_total - report.total_cost_usd) < Decimal("1e-12")
    # Parents carry totals under distinct names only: no span but chat spans has a cost.amount.
    assert all(COST not in s.attributes for s in finished if s not in chats)
    root = next(s for s in finished if s.parent is None)
    assert root.attributes[attr.AGG_CALLS] == len(chats) == report.total.calls == 5
    assert root.attributes[attr.AGG_COST_USD] == pytest.approx(float(report.total_cost_usd))
    nodes = [s for s in finished if s.parent is not None and s.parent.span_id ==
             root.context.span_id]
    assert sum(s.attributes[attr.AGG_CALLS] for s in nodes) == 5
    assert sum(s.attributes[attr.AGG_INPUT_TOKENS] for s in nodes) == \
        report.total.input_tokens == sum(s.attributes["gen_ai.usage.input_tokens"] for s in chats)


def test_a_report_without_calls_says_how_to_pass_the_tracker(tiers: tuple[Tier, Tier]) -> None:
    tracker = CostTracker()
    create_tiered_graph(planner=tiers[1], tiers=list(tiers)).invoke({"task": "t"})  # forgotten
    assert "pass the tracker to the run" in tracker.report().table()
    assert "config={'callbacks': [tracker]}" in tracker.report().caption()


def test_savings_against_the_frontier_tier(tiers: tuple[Tier, Tier]) -> None:
    tracker = CostTracker()
    create_tiered_graph(planner=tiers[1], tiers=list(tiers)).invoke(
        {"task": "t"}, config={"callbacks": [tracker]})
    report = tracker.report()
    small = report.by_tier["small"]
    # The frontier figure re-prices the same tokens at Opus 4.7's $5/$25 per million.
    frontier_price = Price(input_per_mtok=5, output_per_mtok=25)
    expected = sum((frontier_price.cost(c.usage) for c in report.calls), Decimal(0))
    assert report.frontier_cost_usd == expected
    assert report.savings_ratio == pytest.approx(float(expected / report.total_cost_usd))
    assert small.cost_usd < frontier_price.cost(small)
    assert report.reference == "claude-opus-4-7"
    table = report.table()
    assert "worker" in table and "saving" in table and "claude-opus-4-7" in table
    assert json.loads(json.dumps(report.to_dict()))["by_tier"]["small"]["calls"] == 3


def test_subgraph_nodes_nest_under_the_parent_node(tiers: tuple[Tier, Tier], spans: Any) -> None:
    provider, exporter = spans
    tiered = create_tiered_graph(planner=tiers[1], tiers=list(tiers))

    class Outer(TypedDict, total=False):
        task: str
        answer: str

    outer = StateGraph(Outer)
    outer.add_node("research", tiered)
    outer.add_edge(START, "research")
    outer.add_edge("research", END)
    tracker = CostTracker(tracer_provider=provider)
    outer.compile(name="app").invoke({"task": "t"}, config={"callbacks": [tracker]})
    finished = exporter.get_finished_spans()
    [root] = [s for s in finished if s.parent is None]
    assert root.name == "invoke_workflow app"
    [research] = [s for s in finished if s.name == "research"]
    assert research.parent.span_id == root.context.span_id
    planner = next(s for s in finished if s.name == "invoke_agent planner")
    assert planner.parent.span_id == research.context.span_id
    assert research.attributes[attr.AGG_CALLS] == 5
    report = tracker.report()
    assert set(report.by_node) == {"research/planner", "research/worker",
                                   "research/synthesizer"}  # the node's path in the app
    assert report.by_node_name["worker"].calls == 3  # the innermost name alone


def test_plain_langgraph_app(spans: Any) -> None:
    provider, exporter = spans
    drafter = FakeChatModel(responses=["draft"], model_name="gpt-5-mini", provider="openai")
    editor = FakeChatModel(responses=["final"], model_name="claude-opus-4-7",
                           provider="anthropic")

    class State(TypedDict, total=False):
        text: str

    def draft(state: State, config: RunnableConfig) -> dict:
        return {"text": drafter.invoke("write", config).text}

    def edit(state: State, config: RunnableConfig) -> dict:
        return {"text": editor.invoke(state["text"], config).text}

    builder = StateGraph(State)
    builder.add_node("draft", draft, metadata={attr.TIER: "cheap"})
    builder.add_node("edit", edit)
    builder.add_edge(START, "draft")
    builder.add_edge("draft", "edit")
    builder.add_edge("edit", END)
    tracker = CostTracker(tracer_provider=provider, reference="anthropic:claude-opus-4-7")
    builder.compile().invoke({}, config={"callbacks": [tracker]})
    finished = exporter.get_finished_spans()
    names = {s.name for s in finished}
    assert {"invoke_workflow LangGraph", "draft", "edit", "chat gpt-5-mini",
            "chat claude-opus-4-7"} <= names
    report = tracker.report()
    assert set(report.by_node) == {"draft", "edit"}
    assert set(report.by_tier) == {"cheap"}
    assert report.savings_ratio is not None and report.savings_ratio > 1
    chat = next(s for s in finished if s.name == "chat gpt-5-mini")
    assert by_id(finished)[chat.parent.span_id].name == "draft"


@pytest.mark.parametrize("capture", [False, True])
def test_failed_call_ends_its_span_with_error(spans: Any, capture: bool) -> None:
    provider, exporter = spans

    def flaky(messages: list[BaseMessage], tools: Any) -> Any:
        if "contract B" in instruction_of(messages):
            return ValueError("400 bad request")
        return echo_worker(messages, tools)

    small = Tier("small", FakeChatModel(respond=flaky, model_name="gpt-5-mini"))
    big = Tier("frontier", FakeChatModel(respond=lambda m, t: (
        echo_worker(m, t) if "Your subtask" in last_text(m) else planner_responder(
            [{"subtasks": [{"id": "s1", "instruction": "Summarise contract A"},
                           {"id": "s2", "instruction": "Summarise contract B"}]}])(m, t)),
        model_name="claude-opus-4-7"))
    tracker = CostTracker(tracer_provider=provider, capture_content=capture)
    out = create_tiered_graph(planner=big, tiers=[small, big]).invoke(
        {"task": "t"}, config={"callbacks": [tracker]})
    assert out["results"]["s2"]["tier"] == "frontier"
    [failed] = [s for s in exporter.get_finished_spans() if s.status.status_code ==
                StatusCode.ERROR]
    assert failed.name == "chat gpt-5-mini" and failed.attributes[attr.SUBTASK_ID] == "s2"
    assert failed.attributes["error.type"] == "builtins.ValueError"
    assert failed.events[0].name == "exception"
    assert failed.events[0].attributes["exception.type"] in ("builtins.ValueError", "ValueError")
    if capture:  # the message may quote prompts or outputs: only when content is captured
        assert "400 bad request" in failed.events[0].attributes["exception.message"]
    else:
        assert failed.status.description == "ValueError"
        assert "exception.message" not in failed.events[0].attributes
    s2 = tracker.report().by_subtask["s2"]
    assert s2.calls == 1  # the failed call reported no usage; the frontier retry did


def test_unknown_prices_are_none_never_zero(spans: Any) -> None:
    provider, exporter = spans
    local = FakeChatModel(responses=["a"], model_name="my-finetune-7b", provider="vllm")
    tracker = CostTracker(tracer_provider=provider)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        local.invoke("hi", config={"callbacks": [tracker]})
    report = tracker.report()
    assert report.total_cost_usd is None and report.total.unpriced_calls == 1
    assert report.savings_ratio is None
    assert any(w.category is UnpricedModelWarning for w in caught)
    [chat] = exporter.get_finished_spans()
    assert COST not in chat.attributes and chat.attributes[attr.COST_UNPRICED] is True
    assert "unknown" in report.table()


def test_tier_price_overrides_and_per_hour(spans: Any) -> None:
    provider, _ = spans
    plan = {"subtasks": [{"id": "s1", "instruction": "x"}]}
    local = Tier("local", FakeChatModel(respond=echo_worker, model_name="qwen-local", delay=0.1),
                 price=Price.per_hour(36))  # 1 cent per second
    big = Tier("frontier", FakeChatModel(respond=planner_responder([plan])),
               price=Price(input_per_mtok=10, output_per_mtok=10))
    tracker = CostTracker(tracer_provider=provider)
    create_tiered_graph(planner=big, tiers=[local, big]).invoke(
        {"task": "t"}, config={"callbacks": [tracker]})
    report = tracker.report()
    assert Decimal("0.001") <= report.by_tier["local"].cost_usd < Decimal("0.005")
    frontier = report.by_tier["frontier"]
    assert frontier.cost_usd == Decimal(frontier.total_tokens) * 10 / 1_000_000


def test_llm_cache_hit_costs_nothing() -> None:
    model = FakeChatModel(responses=["a", "b"], model_name="gpt-5-mini", provider="openai")
    tracker = CostTracker()
    set_llm_cache(InMemoryCache())
    try:
        model.invoke("same question", config={"callbacks": [tracker]})
        model.invoke("same question", config={"callbacks": [tracker]})
    finally:
        set_llm_cache(None)
    first, second = tracker.report().calls
    assert first.usage.cost_usd > 0
    assert second.usage.cost_usd == 0 and second.usage.input_tokens == first.usage.input_tokens


@pytest.mark.parametrize(("flag", "env", "captured"), [
    pytest.param(None, None, False, id="off-by-default"),
    pytest.param(True, None, True, id="opt-in-flag"),
    pytest.param(None, "true", True, id="opt-in-env"),
    pytest.param(False, "true", False, id="flag-wins-over-env"),
])
def test_content_capture(flag: bool | None, env: str | None, captured: bool, spans: Any,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    provider, exporter = spans
    if env:
        monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", env)
    model = FakeChatModel(responses=["the secret answer"], model_name="gpt-5-mini")
    model.invoke("a private question", config={"callbacks": [
        CostTracker(tracer_provider=provider, capture_content=flag)]})
    [chat] = exporter.get_finished_spans()
    dumped = json.dumps(dict(chat.attributes))
    assert ("a private question" in dumped) is captured
    assert ("the secret answer" in dumped) is captured


def test_metrics_carry_tier_and_node(tiers: tuple[Tier, Tier], meter: Any) -> None:
    meter_provider, reader = meter
    tracker = CostTracker(meter_provider=meter_provider)
    create_tiered_graph(planner=tiers[1], tiers=list(tiers)).invoke(
        {"task": "t"}, config={"callbacks": [tracker]})
    metrics = {m.name: m for rm in reader.get_metrics_data().resource_metrics
               for sm in rm.scope_metrics for m in sm.metrics}
    tokens = metrics["gen_ai.client.token.usage"].data.data_points
    worker_input = [p for p in tokens if p.attributes[attr.NODE] == "worker"
                    and p.attributes["gen_ai.token.type"] == "input"]
    assert worker_input and all(p.attributes[attr.TIER] == "small" for p in worker_input)
    assert sum(p.sum for p in worker_input) == tracker.report().by_node["worker"].input_tokens
    cost = sum(p.value for p in metrics["tiered_agents.client.cost"].data.data_points)
    assert cost == pytest.approx(float(tracker.report().total_cost_usd))


def test_telemetry_never_breaks_the_run(tiers: tuple[Tier, Tier]) -> None:
    class BrokenTracer(trace.Tracer):
        def start_span(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("exporter exploded")

        def start_as_current_span(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("exporter exploded")

    class BrokenProvider(trace.TracerProvider):
        def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
            return BrokenTracer()

    tracker = CostTracker(tracer_provider=BrokenProvider())
    out = create_tiered_graph(planner=tiers[1], tiers=list(tiers)).invoke(
        {"task": "t"}, config={"callbacks": [tracker]})
    assert out["answer"] == "FINAL ANSWER"


def test_library_never_sets_a_global_provider(tiers: tuple[Tier, Tier], spans: Any) -> None:
    before = trace.get_tracer_provider()
    provider, _ = spans
    create_tiered_graph(planner=tiers[1], tiers=list(tiers)).invoke(
        {"task": "t"}, config={"callbacks": [CostTracker(tracer_provider=provider)]})
    assert trace.get_tracer_provider() is before


def test_per_hour_frontier_cost_is_estimated_from_its_measured_speed() -> None:
    plan = {"subtasks": [{"id": f"s{i}", "instruction": f"part {i}"} for i in range(3)]}
    hourly = Price.per_hour(3.6)  # $0.001 per second
    small = Tier("small", FakeChatModel(respond=echo_worker, model_name="tiny", delay=0.01),
                 price=hourly)
    big = Tier("frontier", FakeChatModel(respond=planner_responder([plan]), model_name="big",
                                         delay=0.2), price=hourly)
    tracker = CostTracker()
    create_tiered_graph(planner=big, tiers=[small, big]).invoke(
        {"task": "t"}, config={"callbacks": [tracker]})
    report = tracker.report()
    assert report.reference == "big"
    frontier_calls = [c for c in report.calls if c.model == "big"]
    measured = sum(Decimal(str(c.seconds)) for c in frontier_calls) * Decimal("0.001")
    # the frontier's own calls count as measured; the workers' are estimated at its speed
    assert report.frontier_cost_usd > measured
    assert report.savings_ratio is not None and report.savings_ratio > 1.1


class _Question(TypedDict, total=False):
    question: str
    answers: list[str]


def test_parallel_calls_in_one_node_share_one_node_span(spans: Any) -> None:
    """Two calls of one node ending at once (a `batch` on threads) make one node span,
    parent of both chat spans, with the node's totals."""
    provider, exporter = spans
    model = FakeChatModel(respond=lambda m, t: "ok", model_name="gpt-5-mini", provider="openai",
                          delay=0.05)

    def ask_twice(state: _Question, config: RunnableConfig) -> _Question:
        replies = model.batch([state["question"], state["question"]], config)
        return {"answers": [str(r.content) for r in replies]}

    builder = StateGraph(_Question)
    builder.add_node("ask", ask_twice)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", END)
    for _ in range(5):
        exporter.clear()
        builder.compile().invoke({"question": "Why?"},
                                 {"callbacks": [CostTracker(tracer_provider=provider)]})
        finished = exporter.get_finished_spans()
        nodes = [s for s in finished if s.name == "ask"]
        assert len(nodes) == 1
        chats = [s for s in finished if s.name.startswith("chat ")]
        assert len(chats) == 2 and {c.parent.span_id for c in chats} == \
            {nodes[0].context.span_id}
        assert nodes[0].attributes[attr.AGG_CALLS] == 2
        assert nodes[0].start_time <= min(c.start_time for c in chats)


def test_trackers_share_their_tracer_and_instruments(spans: Any) -> None:
    """A tracker per run must not make a new tracer and new instruments each time:
    OpenTelemetry's global proxy provider would keep every meter until a real one is set."""
    provider, _ = spans
    first, second = CostTracker(tracer_provider=provider), CostTracker(tracer_provider=provider)
    assert first._tracer is second._tracer
    assert (first._token_usage, first._duration, first._cost) == \
        (second._token_usage, second._duration, second._cost)
    assert CostTracker()._cost is CostTracker()._cost  # the global providers


def test_chat_spans_wait_for_their_node_span_and_keep_their_times(spans: Any) -> None:
    """A node's span is made when the node ends, with its totals, and the chat spans that
    ended before are made then, with the times their calls really took; a child that needs
    the node's span earlier (a tool) makes it at once, and the waiting chat spans with it."""
    from langchain_core.tools import tool

    provider, exporter = spans
    model = FakeChatModel(respond=lambda m, t: "ok", model_name="gpt-5-mini", provider="openai",
                          delay=0.02)

    @tool
    def look_up(query: str) -> str:
        """Look something up."""
        return query.upper()

    def ask(state: _Question, config: RunnableConfig) -> _Question:
        first = model.invoke(state["question"], config)
        found = look_up.invoke({"query": str(first.content)}, config)
        second = model.invoke(found, config)
        return {"answers": [str(first.content), str(second.content)]}

    def once(state: _Question, config: RunnableConfig) -> _Question:
        reply = model.invoke(state["question"], config)
        time.sleep(0.03)  # the node goes on after its call
        return {"answers": [str(reply.content)]}

    builder = StateGraph(_Question)
    builder.add_node("ask", ask)
    builder.add_node("once", once)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", "once")
    builder.add_edge("once", END)
    builder.compile().invoke({"question": "Why?"},
                             {"callbacks": [CostTracker(tracer_provider=provider)]})
    finished = exporter.get_finished_spans()
    for name, calls in (("ask", 2), ("once", 1)):
        (node,) = [s for s in finished if s.name == name]
        children = sorted((s for s in finished if s.parent and
                           s.parent.span_id == node.context.span_id),
                          key=lambda s: s.start_time or 0)
        assert [c.name for c in children] == (
            ["chat gpt-5-mini", "execute_tool look_up", "chat gpt-5-mini"] if calls == 2
            else ["chat gpt-5-mini"])
        assert node.attributes[attr.AGG_CALLS] == calls
        for child in children:
            assert node.start_time <= child.start_time < child.end_time <= node.end_time
            if child.name.startswith("chat "):  # the call's own 20 ms, not the node's end
                assert 15_000_000 <= child.end_time - child.start_time
        for before, after in itertools.pairwise(children):
            assert before.end_time <= after.start_time
    assert node.end_time - children[-1].end_time >= 25_000_000  # ended with its call
