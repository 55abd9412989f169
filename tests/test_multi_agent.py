"""Costs per agent in multi-agent apps built with langgraph-supervisor and langgraph-swarm (test
dependencies): every agent gets its own key, by its node's path, without tagging."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import LLMResult
from langgraph.prebuilt import create_react_agent

from tiered_agents import CostTracker, Price, Tier
from tiered_agents import attributes as attr
from tiered_agents.testing import FakeToolChatModel

pytestmark = pytest.mark.filterwarnings("ignore:create_react_agent has been moved")
supervisor_pkg = pytest.importorskip("langgraph_supervisor")
swarm_pkg = pytest.importorskip("langgraph_swarm")


def _supervisor_respond(messages: list[BaseMessage], tools: Any) -> Any:
    if not any(isinstance(m, ToolMessage) for m in messages):
        return AIMessage("", tool_calls=[{"name": "transfer_to_research_expert", "args": {},
                                          "id": "handoff-1"}])
    return "The research says yes."


def _supervisor_app() -> tuple[Any, FakeToolChatModel, FakeToolChatModel]:
    boss = FakeToolChatModel(respond=_supervisor_respond, model_name="gpt-4o")
    worker = FakeToolChatModel(respond=lambda m, t: "researched", model_name="gpt-4o-mini")
    research = create_react_agent(worker, tools=[], name="research_expert")
    return supervisor_pkg.create_supervisor([research], model=boss).compile(), boss, worker


class _Tokens(BaseCallbackHandler):
    """The models' own usage, summed independently of the tracker."""

    def __init__(self) -> None:
        self.total = 0

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        for generations in response.generations:
            for generation in generations:
                self.total += generation.message.usage_metadata["total_tokens"]  # type: ignore[attr-defined]


def test_supervisor_costs_per_agent() -> None:
    app, _, _ = _supervisor_app()
    tracker, tokens = CostTracker(), _Tokens()
    app.invoke({"messages": [("user", "Is it so?")]}, {"callbacks": [tracker, tokens]})
    report = tracker.report()
    assert {k: v.calls for k, v in report.by_node.items()} == {
        "supervisor/agent": 2, "research_expert/agent": 1}
    assert report.by_node_name["agent"].calls == 3
    assert report.total.total_tokens == tokens.total > 0  # the models' own usage, counted once


def test_swarm_costs_per_agent() -> None:
    handoff = swarm_pkg.create_handoff_tool(agent_name="bob")
    alice = create_react_agent(
        FakeToolChatModel(respond=lambda m, t: AIMessage("", tool_calls=[
            {"name": "transfer_to_bob", "args": {}, "id": "h1"}]), model_name="gpt-4o"),
        tools=[handoff], name="alice")
    bob = create_react_agent(FakeToolChatModel(respond=lambda m, t: "done",
                                               model_name="gpt-4o-mini"), tools=[], name="bob")
    app = swarm_pkg.create_swarm([alice, bob], default_active_agent="alice").compile()
    tracker = CostTracker()
    app.invoke({"messages": [("user", "hi")]}, {"callbacks": [tracker]})
    assert {k: v.calls for k, v in tracker.report().by_node.items()} == {
        "alice/agent": 1, "bob/agent": 1}


def test_tracker_tiers_beat_run_level_metadata() -> None:
    app, _, _ = _supervisor_app()
    small = Tier("small", FakeToolChatModel(model_name="gpt-4o-mini"),
                 price=Price(input_per_mtok=1, output_per_mtok=2))
    frontier = Tier("frontier", FakeToolChatModel(model_name="gpt-4o"),
                    price=Price(input_per_mtok=10, output_per_mtok=20))
    tracker = CostTracker(tiers=[small, frontier], reference=frontier)
    # A run-level tag would otherwise label every call, the gpt-4o-mini worker's too.
    app.invoke({"messages": [("user", "Is it so?")]},
               {"callbacks": [tracker], "metadata": {attr.TIER: "frontier"}})
    report = tracker.report()
    assert {(c.node, c.tier) for c in report.calls} == {
        ("supervisor/agent", "frontier"), ("research_expert/agent", "small")}
    assert report.by_tier["small"].cost_usd == small.price.cost(report.by_tier["small"])
    assert report.savings_ratio is not None and report.savings_ratio > 1


def test_tracker_tiers_are_checked() -> None:
    a = Tier("a", FakeToolChatModel(model_name="m"))
    with pytest.raises(ValueError, match="both use the model 'm'"):
        CostTracker(tiers=[a, Tier("b", FakeToolChatModel(model_name="m"))])
    with pytest.raises(TypeError, match="takes Tier objects"):
        CostTracker(tiers=["openai:gpt-4o"])  # type: ignore[list-item]


def test_a_tier_tag_on_the_model_beats_run_level_metadata() -> None:
    worker = FakeToolChatModel(respond=lambda m, t: "researched", model_name="gpt-4o-mini")
    research = create_react_agent(worker.with_config(tags=["tiered_agents.tier:small"]),
                                  tools=[], name="research_expert")
    tracker = CostTracker()
    research.invoke({"messages": [("user", "Is it so?")]},
                    {"callbacks": [tracker], "metadata": {attr.TIER: "frontier"}})
    assert [c.tier for c in tracker.report().calls] == ["small"]
