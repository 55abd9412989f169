"""The planner: structured output when supported, JSON in text otherwise, re-asks, PlanError."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage

from tiered_agents import PlanError, Tier, create_tiered_graph
from tiered_agents.testing import (
    THREE_STEP_PLAN,
    FakeChatModel,
    FakeToolChatModel,
    echo_worker,
    last_text,
    planner_responder,
)


def small() -> Tier:
    return Tier("small", FakeChatModel(respond=echo_worker, model_name="gpt-5-mini"))


def test_structured_output_path_is_used_when_supported() -> None:
    seen_tools: list[Any] = []

    def respond(messages: list[BaseMessage], tools: Any) -> Any:
        if "Subtask results:" in last_text(messages):
            return "ANSWER"
        seen_tools.append(tools)
        return AIMessage("", tool_calls=[{"name": "Plan", "args": THREE_STEP_PLAN, "id": "c1"}])

    planner = Tier("frontier", FakeToolChatModel(respond=respond, model_name="claude-opus-4-7"))
    out = create_tiered_graph(planner=planner, tiers=[small(), planner]).invoke({"task": "t"})
    assert [s["id"] for s in out["plan"]["subtasks"]] == ["s1", "s2", "s3"]
    assert seen_tools and seen_tools[0][0]["function"]["name"] == "Plan"
    assert out["answer"] == "ANSWER"


def test_unparsable_structured_output_falls_back_to_plain_json() -> None:
    calls: list[Any] = []

    def respond(messages: list[BaseMessage], tools: Any) -> Any:
        calls.append(tools)
        if "Subtask results:" in last_text(messages):
            return "ANSWER"
        if tools:  # the model ignores the tool and writes prose
            return "I think we should first read the contracts."
        return "```json\n" + json.dumps(THREE_STEP_PLAN) + "\n```"

    planner = Tier("frontier", FakeToolChatModel(respond=respond))
    out = create_tiered_graph(planner=planner, tiers=[small(), planner]).invoke({"task": "t"})
    assert len(out["plan"]["subtasks"]) == 3
    assert calls[0] is not None and calls[1] is None  # structured first, then plain text


def test_text_path_when_model_has_no_structured_output() -> None:
    model = FakeChatModel(respond=planner_responder([THREE_STEP_PLAN]))
    planner = Tier("frontier", model)
    out = create_tiered_graph(planner=planner, tiers=[small(), planner]).invoke({"task": "t"})
    assert len(out["plan"]["subtasks"]) == 3
    assert "Reply with the JSON object only" in model.calls[0][0].content


def test_invalid_plan_is_sent_back_with_the_exact_error() -> None:
    cyclic = {"subtasks": [{"id": "a", "instruction": "x", "depends_on": ["b"]},
                           {"id": "b", "instruction": "y", "depends_on": ["a"]}]}
    model = FakeChatModel(respond=planner_responder([cyclic, THREE_STEP_PLAN]))
    planner = Tier("frontier", model)
    out = create_tiered_graph(planner=planner, tiers=[small(), planner]).invoke({"task": "t"})
    assert len(out["plan"]["subtasks"]) == 3
    second_ask = last_text(model.calls[1])
    assert "It is invalid: the dependencies form a cycle: a -> b -> a" in second_ask


def test_plan_error_after_two_retries_names_the_cycle() -> None:
    cyclic = {"subtasks": [{"id": "a", "instruction": "x", "depends_on": ["c"]},
                           {"id": "b", "instruction": "y", "depends_on": ["a"]},
                           {"id": "c", "instruction": "z", "depends_on": ["b"]}]}
    model = FakeChatModel(respond=planner_responder([cyclic]))
    planner = Tier("frontier", model)
    graph = create_tiered_graph(planner=planner, tiers=[small(), planner])
    with pytest.raises(PlanError) as caught:
        graph.invoke({"task": "t"})
    assert "cycle: a -> c -> b -> a" in str(caught.value)
    assert caught.value.attempts == 3
    assert len(model.calls) == 3


def test_plan_error_on_unknown_tier_and_too_many_subtasks() -> None:
    too_many = {"subtasks": [{"id": f"s{i}", "instruction": "x"} for i in range(5)]}
    planner = Tier("frontier", FakeChatModel(respond=planner_responder([too_many])))
    graph = create_tiered_graph(planner=planner, tiers=[small(), planner], max_subtasks=4)
    with pytest.raises(PlanError, match="5 subtasks but at most 4"):
        graph.invoke({"task": "t"})
