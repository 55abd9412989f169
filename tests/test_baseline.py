"""The frontier-only baseline: one reference-priced answer per unit of work, never more."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.types import RetryPolicy

from tiered_agents import CostTracker, Price, Tier, create_cascade, create_tiered_graph
from tiered_agents.testing import (
    THREE_STEP_PLAN,
    FakeChatModel,
    FakeToolChatModel,
    echo_worker,
    instruction_of,
    planner_responder,
)
from tiered_agents.tracing.report import BASELINE
from tiered_agents.verifiers import FunctionVerifier

OPUS = Price(input_per_mtok=5, output_per_mtok=25)
"""claude-opus-4-7's list price, as genai-prices has it."""
MINI = Price(input_per_mtok=Decimal("0.25"), output_per_mtok=2)
"""gpt-5-mini's list price."""


def cascade_tiers() -> tuple[Tier, Tier]:
    small = FakeChatModel(respond=lambda m, t: "Lima", model_name="gpt-5-mini",
                          provider="openai")
    big = FakeChatModel(respond=lambda m, t: "Lima, Peru", model_name="claude-opus-4-7",
                        provider="anthropic")
    return Tier("small", small), Tier("frontier", big)


def run_cascade(accept_small: bool, requests: int = 4) -> Any:
    tracker = CostTracker()
    cascade = create_cascade(list(cascade_tiers()),
                             verifier=FunctionVerifier(lambda ctx: accept_small))
    for i in range(requests):
        cascade.invoke({"messages": [HumanMessage(f"What is the capital of Peru? ({i})")]},
                       config={"callbacks": [tracker]})
    return tracker.report()


def test_all_escalated_cascade_costs_more_than_the_frontier_alone() -> None:
    report = run_cascade(accept_small=False)
    frontier_calls = [c for c in report.calls if c.tier == "frontier"]
    assert len(frontier_calls) == 4 and len(report.calls) == 8
    # One frontier answer per request: exactly what the frontier really did.
    assert report.baseline_calls == frontier_calls
    assert report.frontier_cost_usd == sum((c.usage.cost_usd for c in frontier_calls),
                                           Decimal(0))
    ratio = report.savings_ratio
    assert ratio is not None and ratio < 1
    assert report.saved_usd is not None and report.saved_usd < 0
    assert report.verdict().startswith(f"{1 / ratio:.2f}x more expensive than claude-opus-4-7")
    table = report.table()
    assert "more expensive" in table and "saving" not in table
    assert "rejected attempts" in table and BASELINE == report.to_dict()["baseline"]


async def test_the_baseline_is_the_same_under_ainvoke() -> None:
    tracker = CostTracker()
    cascade = create_cascade(list(cascade_tiers()), verifier=FunctionVerifier(lambda ctx: False))
    for i in range(3):
        await cascade.ainvoke({"messages": [HumanMessage(f"Capital of Peru? ({i})")]},
                              config={"callbacks": [tracker]})
    report = tracker.report()
    assert [(c.tier, c.baseline) for c in report.calls] == [("small", False),
                                                             ("frontier", True)] * 3
    assert report.savings_ratio is not None and report.savings_ratio < 1


def test_all_accepted_cascade_saves_the_price_ratio() -> None:
    report = run_cascade(accept_small=True)
    assert {c.tier for c in report.calls} == {"small"} and len(report.calls) == 4
    usage = report.total
    expected = OPUS.cost(usage) / MINI.cost(usage)
    assert report.savings_ratio == pytest.approx(float(expected))
    assert report.savings_ratio > 1 and report.saved_usd > 0
    assert report.verdict().startswith("saving")


def test_tiered_run_with_one_escalated_subtask() -> None:
    small = FakeChatModel(respond=echo_worker, model_name="gpt-5-mini", provider="openai")
    frontier = FakeChatModel(respond=_frontier_worker, model_name="claude-opus-4-7",
                             provider="anthropic")
    tiers = [Tier("small", small), Tier("frontier", frontier)]
    # s2's small answer is rejected once; everything else is accepted where it first runs.
    verifier = FunctionVerifier(lambda ctx: not (ctx.subtask["id"] == "s2" and
                                                 ctx.tier.name == "small"))
    tracker = CostTracker()
    out = create_tiered_graph(planner=tiers[1], tiers=tiers, verifier=verifier).invoke(
        {"task": "t"}, config={"callbacks": [tracker]})
    assert out["results"]["s2"]["tier"] == "frontier" and len(out["results"]["s2"]["attempts"]) == 2
    report = tracker.report()
    by = {(c.node, c.subtask_id, c.tier): c for c in report.calls}
    assert len(by) == len(report.calls) == 6
    counted = [by["planner", None, "frontier"], by["synthesizer", None, "frontier"],
               by["worker", "s1", "small"], by["worker", "s2", "frontier"],
               by["worker", "s3", "small"]]
    assert report.baseline_calls == [c for c in report.calls if c in counted]
    expected = sum((OPUS.cost(c.usage) for c in counted), Decimal(0))
    assert report.frontier_cost_usd == expected
    assert not by["worker", "s2", "small"].baseline  # the rejected attempt


def _frontier_worker(messages: list[BaseMessage], tools: Any) -> str:
    if "Your subtask:" in str(messages[-1].content):
        return f"careful: {instruction_of(messages)}"
    return planner_responder([THREE_STEP_PLAN])(messages, tools)


def test_verifier_calls_are_paid_but_not_in_the_baseline() -> None:
    from tiered_agents.verifiers import SelfCheckVerifier

    small = FakeChatModel(respond=lambda m, t: "Y" if "Reply with Y or N" in
                          str(m[-1].content) else "Lima", model_name="gpt-5-mini",
                          provider="openai")
    big = cascade_tiers()[1]
    tracker = CostTracker()
    cascade = create_cascade([Tier("small", small), big], verifier=SelfCheckVerifier(-0.5))
    cascade.invoke({"messages": [HumanMessage("Capital of Peru?")]},
                   config={"callbacks": [tracker]})
    report = tracker.report()
    assert report.by_node["verify"].calls == 1 and report.total.calls == 2
    [answer] = report.baseline_calls
    assert answer.node == "worker" and answer.tier == "small"
    assert report.frontier_cost_usd == OPUS.cost(answer.usage)


def test_a_retried_call_repeats_no_earlier_call() -> None:
    @tool
    def lookup(city: str) -> str:
        """Look a city up."""
        return "capital"

    call = AIMessage("", tool_calls=[{"name": "lookup", "args": {"city": "Lima"}, "id": "c1"}])
    # The attempt calls the tool, then its second model turn fails transiently: only that
    # call is tried again (the first turn is not repeated, nor paid twice).
    script: list[Any] = [call, ConnectionError("reset"), "Lima"]
    small = FakeToolChatModel(respond=lambda m, t: script.pop(0), model_name="gpt-5-mini",
                              provider="openai")
    plan = {"subtasks": [{"id": "s1", "instruction": "find"}]}
    frontier = FakeToolChatModel(respond=planner_responder([plan]),
                                 model_name="claude-opus-4-7", provider="anthropic")
    tiers = [Tier("small", small), Tier("frontier", frontier)]
    graph = create_tiered_graph(planner=tiers[1], tiers=tiers, tools=[lookup],
                                retry_policy=RetryPolicy(initial_interval=0.01))
    tracker = CostTracker()
    out = graph.invoke({"task": "t"}, config={"callbacks": [tracker]})
    assert out["results"]["s1"]["output"] == "Lima"
    workers = [c for c in tracker.report().calls if c.node == "worker"]
    assert len(workers) == 2  # the first turn, and the second turn's successful try
    assert [c.baseline for c in workers] == [True, True]
    assert script == []


def test_explicit_reference_wins_over_the_graphs_own(tiers: tuple[Tier, Tier]) -> None:
    tracker = CostTracker(reference="openai:gpt-4o")
    create_tiered_graph(planner=tiers[1], tiers=list(tiers)).invoke(
        {"task": "t"}, config={"callbacks": [tracker]})
    report = tracker.report()
    assert report.reference == "gpt-4o"
    gpt_4o = Price(input_per_mtok=Decimal("2.5"), output_per_mtok=10)
    assert report.frontier_cost_usd == sum((gpt_4o.cost(c.usage) for c in report.calls),
                                           Decimal(0))
