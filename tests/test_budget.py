"""Budgets: each on_exceed mode, the overshoot bound under parallel workers, interrupt and
resume without repaying finished work, the cascade, and the callback for any LangGraph app."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command
from typing_extensions import TypedDict

from tiered_agents import (
    Budget,
    BudgetCallback,
    BudgetExceeded,
    CostTracker,
    Price,
    Tier,
    create_cascade,
    create_tiered_graph,
)
from tiered_agents.errors import UsageMissingWarning
from tiered_agents.testing import FakeChatModel, instruction_of, last_text, planner_responder
from tiered_agents.verifiers import ConfidenceVerifier

# Prices here make the budget arithmetic easy to follow, not ladders cheapest first.
pytestmark = pytest.mark.filterwarnings("ignore::tiered_agents.errors.TierOrderWarning")
CENT = Price(input_per_mtok=10)  # 1,000 input tokens cost $0.01
FREE = Price()


def costly(text: str, tokens: int = 1000, logprob: float | None = None) -> AIMessage:
    metadata = {"logprobs": {"content": [{"token": text, "logprob": logprob}]}} \
        if logprob is not None else {}
    return AIMessage(text, usage_metadata={"input_tokens": tokens, "output_tokens": 0,
                                           "total_tokens": tokens}, response_metadata=metadata)


def plan_of(n: int, tier: str | None = None) -> dict[str, Any]:
    return {"subtasks": [{"id": f"s{i}", "instruction": f"part {i}",
                          **({"tier": tier} if tier else {})} for i in range(n)]}


def planner(plan: dict[str, Any]) -> Tier:
    return Tier("frontier", FakeChatModel(respond=planner_responder([plan])), price=FREE)


def small(max_concurrency: int | None = None, delay: float = 0.02, **kw: Any) -> Tier:
    model = FakeChatModel(respond=lambda m, t: costly(f"done {instruction_of(m)}"),
                          delay=delay)
    return Tier("small", model, price=CENT, max_concurrency=max_concurrency, **kw)


def test_budget_validates_its_mode() -> None:
    with pytest.raises(ValueError, match=r"Invalid on_exceed: 'pause'\. Needs to be one of"):
        Budget(max_usd=1, on_exceed="pause")  # type: ignore[arg-type]


def test_within_budget_reports_spending() -> None:
    big = planner(plan_of(3))
    tracker = CostTracker()
    out = create_tiered_graph(planner=big, tiers=[small(), big],
                              budget=Budget(max_usd=1.0)).invoke(
        {"task": "t"}, config={"callbacks": [tracker]})
    assert out["answer"] == "FINAL ANSWER"
    budget = out["budget"]
    assert (budget["limit_usd"], budget["exceeded"], budget["stopped_at"]) == (1.0, False, None)
    assert budget["spent_usd"] == Decimal("0.03")
    assert budget["spent_usd"] == tracker.report().total_cost_usd


def test_stop_bounds_the_overshoot_by_the_calls_in_flight() -> None:
    big = planner(plan_of(6))
    limit, in_flight, per_call = 0.025, 2, 0.01
    tracker = CostTracker()
    out = create_tiered_graph(planner=big, tiers=[small(max_concurrency=in_flight), big],
                              budget=Budget(max_usd=limit, on_exceed="stop")).invoke(
        {"task": "t"}, config={"callbacks": [tracker]})
    budget = out["budget"]
    assert budget["exceeded"] is True and budget["stopped_at"].startswith("worker s")
    assert out.get("answer") is None  # no new call started: not even the synthesizer
    done = {k for k, r in out["results"].items() if r["status"] == "done"}
    assert 3 <= len(done) < 6  # finished work is kept; the rest never started
    assert budget["spent_usd"] == Decimal(str(per_call)) * len(done)
    assert limit <= float(budget["spent_usd"]) <= limit + in_flight * per_call
    assert tracker.report().by_node["worker"].calls == len(done)


def test_stop_bound_holds_for_unbounded_parallel_workers_with_run_max_concurrency() -> None:
    big = planner(plan_of(8))
    out = create_tiered_graph(planner=big, tiers=[small(), big],
                              budget=Budget(max_usd=0.035)).invoke(
        {"task": "t"}, config={"max_concurrency": 3})
    assert out["budget"]["exceeded"]
    assert out["budget"]["spent_usd"] <= 0.035 + 3 * 0.01 + 1e-9


def test_downgrade_runs_remaining_work_on_the_cheapest_tier_without_escalating() -> None:
    unsure = FakeChatModel(respond=lambda m, t: costly("maybe", logprob=-5.0))
    cheap = Tier("small", unsure, price=CENT)
    big_model = FakeChatModel(respond=lambda m, t: (
        costly("sure", logprob=-0.01) if "Your subtask" in last_text(m)
        else planner_responder([plan_of(2, tier="frontier")])(m, t)))
    big = Tier("frontier", big_model, price=Price(input_per_mtok=100))
    out = create_tiered_graph(planner=big, tiers=[cheap, big],
                              verifier=ConfidenceVerifier(-0.5),
                              budget=Budget(max_usd=0.0001, on_exceed="downgrade")).invoke(
        {"task": "t"})
    assert out["budget"]["exceeded"] is True
    for result in out["results"].values():  # planned for frontier, run on small
        assert result["tier"] == "small" and len(result["attempts"]) == 1
        assert result["attempts"][0]["reason"] == "budget reached: escalation stopped"
    assert out["answer"] == "maybe"  # the synthesizer ran too, downgraded to the small tier


def test_raise_carries_the_partial_state() -> None:
    big = planner(plan_of(4))
    graph = create_tiered_graph(planner=big, tiers=[small(max_concurrency=1), big],
                                budget=Budget(max_usd=0.02, on_exceed="raise"))
    with pytest.raises(BudgetExceeded) as caught:
        graph.invoke({"task": "t"})
    state = caught.value.state
    assert {k for k, r in state["results"].items() if r["status"] == "done"} == {"s0", "s1"}
    assert state["budget"]["exceeded"] and caught.value.budget["spent_usd"] == \
        Decimal("0.02")
    assert "raise the limit" in str(caught.value)


def test_interrupt_and_resume_without_repaying_finished_work() -> None:
    big = planner(plan_of(4))
    worker = small(max_concurrency=1)
    graph = create_tiered_graph(planner=big, tiers=[worker, big], checkpointer=InMemorySaver(),
                                budget=Budget(max_usd=0.02, on_exceed="interrupt"))
    config: RunnableConfig = {"configurable": {"thread_id": "budget-1"}}
    paused = graph.invoke({"task": "t"}, config)
    [pending] = paused["__interrupt__"]
    assert pending.value["reason"] == "budget" and pending.value["exceeded"] is True
    assert len(worker.model.calls) == 2
    out = graph.invoke(Command(resume={"max_usd": 1.0}), config)
    assert out["answer"] == "FINAL ANSWER"
    assert {r["status"] for r in out["results"].values()} == {"done"}
    calls = [instruction_of(c) for c in worker.model.calls]
    assert sorted(calls) == ["part 0", "part 1", "part 2", "part 3"]  # each paid once
    assert out["budget"] == {**out["budget"], "limit_usd": 1.0, "exceeded": False,
                             "stopped_at": None}
    assert out["budget"]["spent_usd"] == Decimal("0.04")


def test_per_node_and_token_limits() -> None:
    big = planner(plan_of(4))
    out = create_tiered_graph(planner=big, tiers=[small(max_concurrency=1), big],
                              budget=Budget(per_node={"worker": 0.015})).invoke({"task": "t"})
    assert out["budget"]["exceeded"] and out["budget"]["by_node"]["worker"] == \
        Decimal("0.02")
    out = create_tiered_graph(planner=big, tiers=[small(max_concurrency=1), big],
                              budget=Budget(max_tokens=2500)).invoke({"task": "t"})
    done = [r for r in out["results"].values() if r["status"] == "done"]
    assert out["budget"]["exceeded"] and len(done) == 3


async def test_budget_async() -> None:
    big = planner(plan_of(6))
    out = await create_tiered_graph(planner=big, tiers=[small(max_concurrency=2), big],
                                    budget=Budget(max_usd=0.025)).ainvoke({"task": "t"})
    assert out["budget"]["exceeded"] and out["budget"]["spent_usd"] <= 0.045 + 1e-9


# --- cascade -----------------------------------------------------------------------------------


def ladder() -> list[Tier]:
    return [Tier("a", FakeChatModel(respond=lambda m, t: costly("A?", logprob=-3.0)),
                 price=CENT),
            Tier("b", FakeChatModel(respond=lambda m, t: costly("B", logprob=-0.01)),
                 price=CENT)]


@pytest.mark.parametrize(("mode", "tier", "answer"), [
    pytest.param("stop", None, None, id="stop"),
    pytest.param("downgrade", "a", "A?", id="downgrade"),
])
def test_cascade_budget_modes(mode: str, tier: str | None, answer: str | None) -> None:
    cascade = create_cascade(ladder(), verifier=ConfidenceVerifier(-0.5),
                             budget=Budget(max_usd=0.01, on_exceed=mode))  # type: ignore[arg-type]
    out = cascade.invoke({"messages": [HumanMessage("q")]})
    assert out.get("tier") == tier and out.get("answer") == answer
    assert out["budget"]["exceeded"] and out["budget"]["spent_usd"] == Decimal("0.01")


def test_cascade_budget_raise_and_interrupt() -> None:
    cascade = create_cascade(ladder(), verifier=ConfidenceVerifier(-0.5),
                             budget=Budget(max_usd=0.01, on_exceed="raise"))
    with pytest.raises(BudgetExceeded) as caught:
        cascade.invoke({"messages": [HumanMessage("q")]})
    assert [a["tier"] for a in caught.value.state["attempts"]] == ["a"]
    cascade = create_cascade(ladder(), verifier=ConfidenceVerifier(-0.5),
                             checkpointer=InMemorySaver(),
                             budget=Budget(max_usd=0.01, on_exceed="interrupt"))
    config: RunnableConfig = {"configurable": {"thread_id": "c1"}}
    assert "__interrupt__" in cascade.invoke({"messages": [HumanMessage("q")]}, config)
    out = cascade.invoke(Command(resume=0.05), config)
    assert out["answer"] == "B" and [a["tier"] for a in out["attempts"]] == ["a", "b"]
    assert out["budget"]["spent_usd"] == Decimal("0.02")


# --- any LangGraph app ------------------------------------------------------------------------


def test_budget_callback_guards_a_plain_langgraph_app() -> None:
    model = FakeChatModel(respond=lambda m, t: costly("x"), model_name="gpt-5-mini",
                          provider="openai")

    class State(TypedDict, total=False):
        n: int

    def step(state: State, config: RunnableConfig) -> dict:
        model.invoke("go", config)
        return {"n": state.get("n", 0) + 1}

    builder = StateGraph(State)
    builder.add_node("step", step)
    builder.add_edge(START, "step")
    builder.add_conditional_edges("step", lambda s: END if s["n"] >= 100 else "step")
    guard = BudgetCallback(Budget(max_usd=0.001, on_exceed="raise"))  # gpt-5-mini: $0.00025/call
    with pytest.raises(BudgetExceeded, match="spent"):
        builder.compile().invoke({}, config={"callbacks": [guard], "recursion_limit": 500})
    assert len(model.calls) == 4 and guard.spent_usd == Decimal("0.001")
    with pytest.raises(ValueError, match="need create_tiered_graph"):
        BudgetCallback(Budget(max_usd=1, on_exceed="stop"))


# --- calls that report no usage ---------------------------------------------------------------


def _silent(**kw: Any) -> FakeChatModel:
    """A model whose replies carry no usage, like streamed OpenAI-compatible calls by default."""
    return FakeChatModel(respond=lambda m, t: "x" * 4000, report_usage=False, **kw)


def test_calls_without_usage_warn_count_as_unpriced_and_are_charged_an_estimate() -> None:
    big = planner(plan_of(6))
    worker = Tier("small", _silent(model_name="silent-mini"), price=Price(output_per_mtok=10))
    tracker = CostTracker()
    with pytest.warns(UsageMissingWarning, match="stream_usage=True") as caught:
        out = create_tiered_graph(planner=big, tiers=[worker, big], budget=Budget(
            max_usd=0.025, on_exceed="stop")).invoke(
            {"task": "t"}, config={"callbacks": [tracker]})
    assert len([w for w in caught if issubclass(w.category, UsageMissingWarning)]) >= 1
    # ~1,000 estimated output tokens a reply at $10/M: $0.01 a call, so the limit bites.
    assert out["budget"]["exceeded"] and out["budget"]["stopped_at"].startswith("worker")
    assert Decimal("0.02") <= out["budget"]["spent_usd"] <= Decimal("0.04")
    assert len(worker.chat_model.calls) < 6
    report = tracker.report()
    workers = [c for c in report.calls if c.node == "worker"]
    assert workers and all(c.usage.cost_usd is None for c in workers)
    assert report.total.unpriced_calls >= len(workers)
    assert f"{report.total.unpriced_calls} unpriced call(s)" in report.table()


def test_budget_callback_charges_an_estimate_for_calls_without_usage() -> None:
    model = _silent(model_name="gpt-5-mini", provider="openai")
    guard = BudgetCallback(Budget(max_usd=0.01, on_exceed="raise"))
    with pytest.warns(UsageMissingWarning), pytest.raises(BudgetExceeded):
        for _ in range(1000):
            model.invoke("go", {"callbacks": [guard]})
    assert 0 < guard.spent_usd and len(model.calls) < 1000


def test_model_strings_of_openai_compatible_providers_stream_usage(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-used")
    model: Any = Tier("small", "openai:gpt-5-mini").chat_model
    assert model.stream_usage is True
