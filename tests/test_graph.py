"""The tiered graph: shape, parallelism, dependencies, escalation, failures, subgraphs, async."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import RetryPolicy
from typing_extensions import TypedDict

from tiered_agents import SubtaskFailedError, Tier, create_tiered_graph
from tiered_agents.testing import (
    THREE_STEP_PLAN,
    FakeChatModel,
    FakeToolChatModel,
    echo_worker,
    instruction_of,
    last_text,
    planner_responder,
)

SNAPSHOTS = Path(__file__).parent / "snapshots"
FAST_RETRY = RetryPolicy(initial_interval=0.01, jitter=False, max_attempts=3)


class TransientError(Exception):
    """Stands for a provider's 503: LangGraph's default retry_on retries it."""


def frontier(plan: Any = THREE_STEP_PLAN, **kw: Any) -> Tier:
    return Tier("frontier", FakeChatModel(respond=planner_responder([plan]),
                                          model_name="claude-opus-4-7", **kw))


def test_graph_shape_snapshot(tiers: tuple[Tier, Tier]) -> None:
    graph = create_tiered_graph(planner=tiers[1], tiers=list(tiers))
    mermaid = graph.get_graph().draw_mermaid()
    assert mermaid == (SNAPSHOTS / "tiered_graph.mmd").read_text()


def test_end_to_end_output(tiers: tuple[Tier, Tier]) -> None:
    out = create_tiered_graph(planner=tiers[1], tiers=list(tiers)).invoke({"task": "t"})
    assert out["answer"] == "FINAL ANSWER"
    assert out["results"]["s1"]["output"] == "done: Summarise contract A"
    assert out["results"]["s1"]["tier"] == "small"
    attempt = out["results"]["s1"]["attempts"][0]
    assert (attempt["tier"], attempt["model"], attempt["error"]) == ("small", "gpt-5-mini", None)
    assert attempt["usage"]["input_tokens"] > 0 and attempt["usage"]["output_tokens"] > 0


def _concurrency_probe(delay: float) -> tuple[FakeChatModel, list[int]]:
    lock, active, peak = threading.Lock(), [0], [0]

    def respond(messages: list[BaseMessage], tools: Any) -> str:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(delay)
        with lock:
            active[0] -= 1
        return "ok"

    return FakeChatModel(respond=respond), peak


def test_tier_max_concurrency_bounds_parallel_calls() -> None:
    plan = {"subtasks": [{"id": f"s{i}", "instruction": f"part {i}"} for i in range(6)]}
    model, peak = _concurrency_probe(0.05)
    worker = Tier("small", model, max_concurrency=2)
    create_tiered_graph(planner=(big := frontier(plan)), tiers=[worker, big]).invoke({"task": "t"})
    assert peak[0] == 2


def test_run_max_concurrency_bounds_parallel_calls() -> None:
    plan = {"subtasks": [{"id": f"s{i}", "instruction": f"part {i}"} for i in range(6)]}
    model, peak = _concurrency_probe(0.05)
    graph = create_tiered_graph(planner=(big := frontier(plan)), tiers=[Tier("small", model), big])
    graph.invoke({"task": "t"}, config={"max_concurrency": 1})
    assert peak[0] == 1


def test_independent_subtasks_run_in_parallel() -> None:
    plan = {"subtasks": [{"id": f"s{i}", "instruction": f"part {i}"} for i in range(4)]}
    model, peak = _concurrency_probe(0.05)
    graph = create_tiered_graph(planner=(big := frontier(plan)), tiers=[Tier("small", model), big])
    graph.invoke({"task": "t"})
    assert peak[0] == 4  # all four calls were in flight at once


def _async_probe() -> tuple[FakeChatModel, list[int]]:
    active, peak = [0], [0]

    class Probe(FakeChatModel):
        async def _agenerate(self, messages: Any, stop: Any = None, run_manager: Any = None,
                             **kwargs: Any) -> Any:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
            await asyncio.sleep(0.05)
            active[0] -= 1
            return await super()._agenerate(messages, stop, run_manager, **kwargs)

    return Probe(respond=echo_worker), peak


async def test_independent_subtasks_run_in_parallel_async() -> None:
    plan = {"subtasks": [{"id": f"s{i}", "instruction": f"part {i}"} for i in range(4)]}
    model, peak = _async_probe()
    out = await create_tiered_graph(planner=(big := frontier(plan)),
                                    tiers=[Tier("small", model), big]).ainvoke(
        {"task": "t"})
    assert peak[0] == 4 and len(out["results"]) == 4


async def test_tier_max_concurrency_async() -> None:
    plan = {"subtasks": [{"id": f"s{i}", "instruction": f"part {i}"} for i in range(6)]}
    model, peak = _async_probe()
    worker = Tier("small", model, max_concurrency=3)
    await create_tiered_graph(planner=(big := frontier(plan)), tiers=[worker, big]).ainvoke(
        {"task": "t"})
    assert peak[0] == 3


def test_dependent_subtask_sees_dependency_outputs_and_runs_after() -> None:
    order: list[str] = []

    def respond(messages: list[BaseMessage], tools: Any) -> str:
        order.append(instruction_of(messages))
        return f"RESULT[{instruction_of(messages)}]"

    worker = FakeChatModel(respond=respond)
    create_tiered_graph(planner=(big := frontier()), tiers=[Tier("small", worker), big]).invoke(
        {"task": "t"})
    assert order[-1] == "Compare the summaries"
    assert set(order[:2]) == {"Summarise contract A", "Summarise contract B"}
    prompt = last_text(worker.calls[-1])
    assert "[s1]\nRESULT[Summarise contract A]" in prompt
    assert "[s2]\nRESULT[Summarise contract B]" in prompt


def test_escalates_on_provider_error() -> None:
    def flaky(messages: list[BaseMessage], tools: Any) -> Any:
        if "contract B" in instruction_of(messages):
            return ValueError("400 bad request from provider")
        return echo_worker(messages, tools)

    small = Tier("small", FakeChatModel(respond=flaky, model_name="gpt-5-mini"))
    big = frontier()
    out = create_tiered_graph(planner=big, tiers=[small, big]).invoke({"task": "t"})
    s2 = out["results"]["s2"]
    assert s2["tier"] == "frontier" and s2["status"] == "done"
    assert [(a["tier"], a["accepted"]) for a in s2["attempts"]] == [
        ("small", False), ("frontier", True)]
    assert "400 bad request" in s2["attempts"][0]["error"]
    assert out["results"]["s1"]["tier"] == "small"


def test_transient_errors_are_retried_by_retry_policy_before_escalating() -> None:
    failures = {"n": 0}

    def flaky(messages: list[BaseMessage], tools: Any) -> Any:
        if "contract A" in instruction_of(messages) and failures["n"] < 2:
            failures["n"] += 1
            return TransientError("503 overloaded")
        return echo_worker(messages, tools)

    small = Tier("small", FakeChatModel(respond=flaky))
    graph = create_tiered_graph(planner=(big := frontier()), tiers=[small, big],
                                retry_policy=FAST_RETRY)
    out = graph.invoke({"task": "t"})
    assert failures["n"] == 2
    assert out["results"]["s1"]["tier"] == "small"  # the third try succeeded on the same tier
    assert len(out["results"]["s1"]["attempts"]) == 1


def test_transient_errors_escalate_once_retries_are_exhausted() -> None:
    def down(messages: list[BaseMessage], tools: Any) -> Any:
        if "contract A" in instruction_of(messages):
            return TransientError("503 overloaded")
        return echo_worker(messages, tools)

    small = Tier("small", FakeChatModel(respond=down))
    big = frontier()
    out = create_tiered_graph(planner=big, tiers=[small, big], retry_policy=FAST_RETRY).invoke(
        {"task": "t"})
    assert sum("contract A" in instruction_of(c) for c in small.model.calls) == 3
    assert [a["tier"] for a in out["results"]["s1"]["attempts"]] == ["small", "frontier"]


def test_escalates_when_output_breaks_expected_output_schema() -> None:
    schema = {"type": "object", "properties": {"total": {"type": "number"}},
              "required": ["total"]}
    plan = {"subtasks": [{"id": "s1", "instruction": "Add the invoice lines",
                          "expected_output": schema}]}

    def sloppy(messages: list[BaseMessage], tools: Any) -> str:
        return '```json\n{"total": "about twelve"}\n```'

    def exact(messages: list[BaseMessage], tools: Any) -> str:
        if "Subtask results:" in last_text(messages):
            return "The total is 12."
        if "Your subtask" in last_text(messages):
            return 'The total: {"total": 12}'
        return planner_responder([plan])(messages, tools)

    small = Tier("small", FakeChatModel(respond=sloppy, model_name="gpt-5-mini"))
    big = Tier("frontier", FakeChatModel(respond=exact, model_name="claude-opus-4-7"))
    out = create_tiered_graph(planner=big, tiers=[small, big]).invoke({"task": "t"})
    result = out["results"]["s1"]
    assert result["output"] == {"total": 12} and result["tier"] == "frontier"
    assert "expected_output at total" in result["attempts"][0]["error"]
    assert result["attempts"][0]["output"] is None


def test_structured_output_is_used_for_worker_schemas() -> None:
    schema = {"type": "object", "properties": {"party": {"type": "string"}},
              "required": ["party"]}
    plan = {"subtasks": [{"id": "s1", "instruction": "Name the party", "expected_output": schema}]}

    def respond(messages: list[BaseMessage], tools: Any) -> Any:
        assert tools and tools[0]["function"]["name"] == "subtask_output"
        return AIMessage("", tool_calls=[{"name": "subtask_output", "args": {"party": "Acme"},
                                          "id": "c1"}])

    small = Tier("small", FakeToolChatModel(respond=respond))
    out = create_tiered_graph(planner=(big := frontier(plan)), tiers=[small, big]).invoke(
        {"task": "t"})
    assert out["results"]["s1"]["output"] == {"party": "Acme"}
    assert out["results"]["s1"]["attempts"][0]["usage"]["input_tokens"] > 0


def test_failure_on_top_tier_raises_and_keeps_finished_results() -> None:
    def broken(messages: list[BaseMessage], tools: Any) -> Any:
        if "contract B" in instruction_of(messages):
            return ValueError("context window exceeded")
        return echo_worker(messages, tools)

    small = Tier("small", FakeChatModel(respond=broken))
    big = Tier("frontier", FakeChatModel(respond=lambda m, t: (
        broken(m, t) if "Your subtask" in last_text(m) else planner_responder(
            [THREE_STEP_PLAN])(m, t))))
    saver = InMemorySaver()
    graph = create_tiered_graph(planner=big, tiers=[small, big], checkpointer=saver)
    config = {"configurable": {"thread_id": "run-1"}}
    with pytest.raises(SubtaskFailedError) as caught:
        graph.invoke({"task": "t"}, config)
    error = caught.value
    assert error.subtask_id == "s2"
    assert error.results["s1"]["status"] == "done"
    assert [a["tier"] for a in error.results["s2"]["attempts"]] == ["small", "frontier"]
    assert "s1" in str(error) and "context window exceeded" in str(error)
    kept = graph.get_state(config).values["results"]
    assert kept["s1"]["output"] == "done: Summarise contract A"
    assert "s3" not in kept


def test_works_as_a_node_of_a_larger_graph(tiers: tuple[Tier, Tier]) -> None:
    tiered = create_tiered_graph(planner=tiers[1], tiers=list(tiers))

    class Outer(TypedDict, total=False):
        task: str
        answer: str
        reviewed: str

    def review(state: Outer) -> dict:
        return {"reviewed": f"reviewed: {state['answer']}"}

    outer = StateGraph(Outer)
    outer.add_node("tiered", tiered)
    outer.add_node("review", review)
    outer.add_edge(START, "tiered")
    outer.add_edge("tiered", "review")
    outer.add_edge("review", END)
    out = outer.compile().invoke({"task": "t"})
    assert out["reviewed"] == "reviewed: FINAL ANSWER"


async def test_works_as_a_subgraph_called_from_a_node_async(tiers: tuple[Tier, Tier]) -> None:
    tiered = create_tiered_graph(planner=tiers[1], tiers=list(tiers))

    class Outer(TypedDict, total=False):
        question: str
        reply: str

    async def delegate(state: Outer, config: RunnableConfig) -> dict:
        out = await tiered.ainvoke({"task": state["question"]}, config)
        return {"reply": out["answer"]}

    outer = StateGraph(Outer)
    outer.add_node("delegate", delegate)
    outer.add_edge(START, "delegate")
    outer.add_edge("delegate", END)
    out = await outer.compile().ainvoke({"question": "q"})
    assert out["reply"] == "FINAL ANSWER"


def test_stream_and_astream(tiers: tuple[Tier, Tier]) -> None:
    graph = create_tiered_graph(planner=tiers[1], tiers=list(tiers))
    nodes = [next(iter(chunk)) for chunk in graph.stream({"task": "t"})]
    assert nodes[0] == "planner" and nodes[-2:] == ["dispatch", "synthesizer"]
    assert nodes.count("worker") == 3

    async def collect() -> list[str]:
        return [next(iter(c)) async for c in graph.astream({"task": "t"})]

    assert asyncio.run(collect()) == nodes


def test_tools_run_in_a_bounded_loop() -> None:
    looked_up: list[str] = []

    def lookup(clause: str) -> str:
        """Look up a clause of the contract."""
        looked_up.append(clause)
        return f"text of {clause}"

    def respond(messages: list[BaseMessage], tools: Any) -> Any:
        if messages[-1].type == "tool":
            return f"answer using {messages[-1].content}"
        return AIMessage("", tool_calls=[{"name": "lookup", "args": {"clause": "termination"},
                                          "id": "t1"}])

    plan = {"subtasks": [{"id": "s1", "instruction": "Find the termination clause"}]}
    small = Tier("small", FakeToolChatModel(respond=respond))
    big = Tier("frontier", FakeToolChatModel(respond=planner_responder([plan])))
    out = create_tiered_graph(planner=big, tiers=[small, big], tools=[lookup]).invoke(
        {"task": "t"})
    assert out["results"]["s1"]["output"] == "answer using text of termination"
    assert looked_up == ["termination"]


def test_tool_loop_stops_after_max_rounds() -> None:
    def never_stops(messages: list[BaseMessage], tools: Any) -> Any:
        if tools is None:
            return "forced final answer"
        return AIMessage("", tool_calls=[{"name": "ping", "args": {}, "id": "p"}])

    def ping() -> str:
        """Ping."""
        return "pong"

    plan = {"subtasks": [{"id": "s1", "instruction": "loop"}]}
    small = Tier("small", FakeToolChatModel(respond=never_stops))
    big = Tier("frontier", FakeToolChatModel(respond=planner_responder([plan])))
    out = create_tiered_graph(planner=big, tiers=[small, big], tools=[ping],
                              max_tool_rounds=3).invoke({"task": "t"})
    assert out["results"]["s1"]["output"] == "forced final answer"
    assert len(small.model.calls) == 4


def test_factory_rejects_bad_arguments(tiers: tuple[Tier, Tier]) -> None:
    with pytest.raises(TypeError):
        create_tiered_graph(planner=tiers[1], tiers=list(tiers), verbose=True)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="unique"):
        create_tiered_graph(planner=tiers[1], tiers=[tiers[0], tiers[0]])
    with pytest.raises(ValueError, match="at least one Tier"):
        create_tiered_graph(planner=tiers[1], tiers=[])
    with pytest.raises(TypeError, match="Wrap models as Tier"):
        create_tiered_graph(planner=tiers[1], tiers=[tiers[0].model])  # type: ignore[list-item]
    def search(query: str) -> str:
        """Search the web."""
        return query

    with pytest.raises(ValueError, match="cannot bind tools"):
        create_tiered_graph(planner=tiers[1], tiers=list(tiers), tools=[search])


def test_tier_is_a_frozen_value_object(small_model: FakeChatModel) -> None:
    tier = Tier("small", small_model, max_concurrency=4, description="cheap")
    with pytest.raises(AttributeError):
        tier.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Tier("small", small_model, None)  # type: ignore[misc]  # options are keyword-only
    with pytest.raises(ValueError, match="max_concurrency"):
        Tier("small", small_model, max_concurrency=0)
    with pytest.raises(TypeError, match="BaseChatModel"):
        Tier("small", object())  # type: ignore[arg-type]


def test_model_string_resolves_with_init_chat_model(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("langchain_openai")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-used")
    tier = Tier("small", "openai:gpt-5-mini")
    assert tier.model_name == "gpt-5-mini"


def test_model_string_without_langchain_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "langchain.chat_models", None)
    with pytest.raises(ImportError, match=r"tiered-agents\[providers\]"):
        Tier("small", "openai:gpt-5-mini")
