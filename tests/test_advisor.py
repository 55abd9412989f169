"""The advisor pattern: a cheap executor that consults a frontier advisor when it chooses to."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from tiered_agents import Budget, BudgetExceeded, CostTracker, Tier, create_advisor_agent
from tiered_agents.testing import FakeChatModel, FakeToolChatModel


def ask(question: str, call_id: str = "a1") -> AIMessage:
    return AIMessage("", tool_calls=[{"name": "ask_advisor", "args": {"question": question},
                                      "id": call_id}])


def use_tool(name: str, args: dict[str, Any], call_id: str) -> AIMessage:
    return AIMessage("", tool_calls=[{"name": name, "args": args, "id": call_id}])


def read_clause(name: str) -> str:
    """Read a clause of the NDA by name."""
    return {"term": "The term is 99 years.", "law": "Governed by the laws of Mars."}.get(
        name, "no such clause")


def advisor_tier(advice: str = "A 99-year term is non-standard; flag it.") -> Tier:
    return Tier("frontier", FakeChatModel(respond=lambda m, t: advice,
                                          model_name="claude-opus-4-7", provider="anthropic"))


def executor_tier(script: list[Any]) -> Tier:
    return Tier("small", FakeToolChatModel(responses=script, model_name="gpt-5-mini",
                                           provider="openai"))


def test_executor_consults_the_advisor_and_the_cost_is_attributed() -> None:
    executor = executor_tier([use_tool("read_clause", {"name": "term"}, "t1"),
                              ask("Is a 99-year term standard for an NDA?"),
                              "Non-standard: the 99-year term."])
    advisor = advisor_tier()
    tracker = CostTracker()
    agent = create_advisor_agent(executor=executor, advisor=advisor, tools=[read_clause])
    out = agent.invoke({"messages": [HumanMessage("Review this NDA for non-standard clauses")]},
                       config={"callbacks": [tracker]})
    assert out["answer"] == "Non-standard: the 99-year term."
    assert out["advisor_calls"] == 1
    tool_results = [m.content for m in out["messages"] if m.type == "tool"]
    assert tool_results == ["The term is 99 years.", "A 99-year term is non-standard; flag it."]
    prompt = advisor.model.calls[0][-1].content
    assert "Is a 99-year term standard" in prompt and "The term is 99 years." in prompt
    bound = executor.model.calls[0]
    assert bound[0].type == "system" and "ask_advisor" in bound[0].content
    report = tracker.report()
    assert report.by_node["advisor"].calls == 1 and report.by_node["executor"].calls == 3
    assert report.by_tier["frontier"].calls == 1
    assert report.reference == "claude-opus-4-7"
    assert report.savings_ratio is not None and report.savings_ratio > 1
    # The baseline is the executor's loop run on the advisor's model: consultations add nothing.
    assert {c.node for c in report.baseline_calls} == {"executor"}
    assert len(report.baseline_calls) == 3


def test_advisor_not_called_when_the_executor_does_not_ask() -> None:
    advisor = advisor_tier()
    agent = create_advisor_agent(executor=executor_tier(["All standard."]), advisor=advisor)
    out = agent.invoke({"messages": [HumanMessage("Review")]})
    assert out["answer"] == "All standard." and out.get("advisor_calls", 0) == 0
    assert advisor.model.calls == []


async def test_advisor_call_limit_async() -> None:
    executor = executor_tier([ask("q1", "a1"), ask("q2", "a2"), ask("q3", "a3"), "done"])
    advisor = advisor_tier("advice")
    agent = create_advisor_agent(executor=executor, advisor=advisor, max_advisor_calls=2)
    out = await agent.ainvoke({"messages": [HumanMessage("Review")]})
    replies = [m.content for m in out["messages"] if m.type == "tool"]
    assert replies[:2] == ["advice", "advice"]
    assert replies[2].startswith("No advice left: all 2 consultations are used")
    assert out["advisor_calls"] == 2 and len(advisor.model.calls) == 2


def test_compact_view_when_the_transcript_is_long() -> None:
    long_doc = "clause " * 5000
    executor = executor_tier([ask("Which clause matters most?"), "ok"])
    advisor = advisor_tier()
    agent = create_advisor_agent(executor=executor, advisor=advisor, compact_chars=2000)
    agent.invoke({"messages": [HumanMessage(f"Review this NDA: {long_doc}")]})
    prompt = advisor.model.calls[0][-1].content
    assert len(prompt) < 3000 and prompt.startswith("Task: Review this NDA")
    assert "Which clause matters most?" in prompt


def test_budget_applies_to_the_advisor_agent() -> None:
    executor = executor_tier([ask("q1"), ask("q2", "a2"), "done"])
    advisor = advisor_tier("x" * 4000)  # an expensive answer on Opus prices
    agent = create_advisor_agent(executor=executor, advisor=advisor,
                                 budget=Budget(max_usd=0.01, on_exceed="raise"))
    with pytest.raises(BudgetExceeded) as caught:
        agent.invoke({"messages": [HumanMessage("Review")]})
    assert caught.value.state["advisor_calls"] == 1


def test_executor_that_cannot_call_tools_gets_a_clear_error() -> None:
    with pytest.raises(ValueError, match="cannot bind tools, which the advisor pattern needs"):
        create_advisor_agent(executor=Tier("small", FakeChatModel()), advisor=advisor_tier())


