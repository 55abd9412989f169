"""Bad input fails before any money is spent, with a message that names the fix."""

from __future__ import annotations

import math
import warnings
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from tiered_agents import (
    Budget,
    Price,
    Tier,
    create_advisor_agent,
    create_cascade,
    create_tiered_graph,
)
from tiered_agents.errors import InvalidInputError, TieredAgentsError, TierOrderWarning
from tiered_agents.testing import THREE_STEP_PLAN, FakeChatModel, echo_worker, planner_responder


@pytest.fixture
def models() -> tuple[FakeChatModel, FakeChatModel]:
    return (FakeChatModel(respond=echo_worker, model_name="gpt-5-mini"),
            FakeChatModel(respond=planner_responder([THREE_STEP_PLAN]),
                          model_name="claude-opus-4-7"))


@pytest.mark.parametrize(
    ("payload", "message"),
    [pytest.param({}, "needs a task", id="empty-input"),
     pytest.param({"task": 42}, "must be a string, got int", id="int"),
     pytest.param({"task": {"text": "x"}}, "must be a string, got dict", id="dict"),
     pytest.param({"task": None}, "needs a task", id="none"),
     pytest.param({"task": ""}, "task is empty", id="empty"),
     pytest.param({"task": "  \n\t "}, "task is empty", id="blank"),
     pytest.param({"messages": [("ai", "hello")]}, "without a human message", id="no-human")],
)
@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_tiered_graph_rejects_bad_input_before_any_call(
        models: tuple[FakeChatModel, FakeChatModel], payload: dict[str, Any], message: str,
        mode: str) -> None:
    small, big = models
    frontier = Tier("frontier", big)
    graph = create_tiered_graph(planner=frontier, tiers=[Tier("small", small), frontier])
    with pytest.raises(InvalidInputError, match=message) as caught:
        await graph.ainvoke(payload) if mode == "async" else graph.invoke(payload)
    assert isinstance(caught.value, TieredAgentsError) and isinstance(caught.value, ValueError)
    assert big.calls == [] and small.calls == []


@pytest.mark.parametrize("payload", [{"task": "What is the capital of Peru?"}, {},
                                     {"messages": []}])
def test_cascade_and_advisor_name_their_input(payload: dict[str, Any],
                                              models: tuple[FakeChatModel, FakeChatModel]
                                              ) -> None:
    from tiered_agents.testing import FakeToolChatModel

    small, big = models
    with pytest.raises(InvalidInputError, match=r'\{"messages": \[\("user"'):
        create_cascade([Tier("small", small), Tier("frontier", big)]).invoke(payload)
    executor = FakeToolChatModel(responses=["x"])
    with pytest.raises(InvalidInputError, match=r'\{"messages": \[\("user"'):
        create_advisor_agent(Tier("small", executor), Tier("frontier", big)).invoke(payload)
    assert small.calls == [] and big.calls == [] and executor.calls == []


def _tier(models: tuple[FakeChatModel, FakeChatModel], which: int = 1) -> Tier:
    return Tier("frontier" if which else "small", models[which])


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [pytest.param(lambda m: create_tiered_graph(None, [_tier(m)]), TypeError,
                  "planner= needs a tiered_agents.Tier, got None", id="planner-none"),
     pytest.param(lambda m: create_tiered_graph(_tier(m), None), TypeError,
                  "tiers= takes a list of Tier", id="tiers-none"),
     pytest.param(lambda m: create_tiered_graph(_tier(m), _tier(m)), TypeError,
                  "tiers= takes a list of Tier", id="tiers-a-tier"),
     pytest.param(lambda m: create_tiered_graph(_tier(m), [_tier(m)], max_subtasks="5"),
                  TypeError, "max_subtasks must be an int, got str", id="max-subtasks-str"),
     pytest.param(lambda m: create_tiered_graph(_tier(m), [_tier(m)], max_subtasks=0),
                  ValueError, "max_subtasks must be >= 1", id="max-subtasks-zero"),
     pytest.param(lambda m: create_tiered_graph(_tier(m), [_tier(m)], max_tool_rounds=True),
                  TypeError, "max_tool_rounds must be an int", id="max-tool-rounds-bool"),
     pytest.param(lambda m: create_tiered_graph(
         Tier("frontier", m[0]), [_tier(m, 0), _tier(m)]), ValueError,
         "named 'frontier' like a ladder tier, but its model or settings differ",
         id="planner-name-clash"),
     pytest.param(lambda m: create_tiered_graph(_tier(m), [_tier(m)], budget=Budget(
         max_usd=1, on_exceed="interrupt")), ValueError, "needs a checkpointer",
         id="interrupt-without-checkpointer"),
     pytest.param(lambda m: create_cascade([_tier(m)], budget=Budget(
         max_usd=1, on_exceed="interrupt")), ValueError, "needs a checkpointer",
         id="cascade-interrupt-without-checkpointer"),
     pytest.param(lambda m: create_tiered_graph(_tier(m), [_tier(m)], budget={"max_usd": 1}),
                  TypeError, "budget= takes a tiered_agents.Budget", id="budget-dict"),
     pytest.param(lambda m: create_advisor_agent(None, _tier(m)), TypeError,
                  "executor= needs a tiered_agents.Tier", id="executor-none"),
     pytest.param(lambda m: create_advisor_agent(_tier(m, 0), None), TypeError,
                  "advisor= needs a tiered_agents.Tier", id="advisor-none"),
     pytest.param(lambda m: create_advisor_agent(_tier(m, 0), _tier(m), max_steps="3"),
                  TypeError, "max_steps must be an int", id="max-steps-str"),
     pytest.param(lambda m: Budget(max_usd="1"), TypeError, "max_usd", id="budget-str"),
     pytest.param(lambda m: Budget(1.0), TypeError, r"Budget\(max_usd=0\.5",
                  id="budget-positional"),
     pytest.param(lambda m: Budget(max_usd=math.nan), ValueError, "max_usd", id="budget-nan"),
     pytest.param(lambda m: Price("abc"), TypeError, r"Price\(input_per_mtok=3",
                  id="price-positional"),
     pytest.param(lambda m: Price(input_per_mtok="abc"), TypeError, "Price.input_per_mtok",
                  id="price-str"),
     pytest.param(lambda m: Price(input_per_mtok=math.nan), ValueError,
                  "Price.input_per_mtok must be a finite", id="price-nan"),
     pytest.param(lambda m: Price(output_per_mtok=math.inf), ValueError, "output_per_mtok",
                  id="price-inf"),
     pytest.param(lambda m: Price.per_hour("x"), TypeError, "usd_per_hour",
                  id="per-hour-str")],
)
def test_construction_rejects_bad_arguments_naming_the_parameter(
        models: tuple[FakeChatModel, FakeChatModel], make: Any, error: type[Exception],
        message: str) -> None:
    with pytest.raises(error, match=message):
        make(models)


def test_interrupt_budget_is_accepted_with_a_checkpointer_or_a_parents(
        models: tuple[FakeChatModel, FakeChatModel]) -> None:
    budget = Budget(max_usd=1, on_exceed="interrupt")
    create_tiered_graph(_tier(models), [_tier(models)], budget=budget,
                        checkpointer=InMemorySaver())
    create_tiered_graph(_tier(models), [_tier(models)], budget=budget, checkpointer=True)


def test_a_ladder_that_is_not_cheapest_first_warns_at_the_callers_line() -> None:
    mini = Tier("small", FakeChatModel(model_name="gpt-5-mini", provider="openai"))
    opus = Tier("frontier", FakeChatModel(model_name="claude-opus-4-7", provider="anthropic"))
    unknown = Tier("local", FakeChatModel(model_name="my-own-model"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        create_tiered_graph(planner=opus, tiers=[mini, opus])  # right: no warning
        create_tiered_graph(planner=opus, tiers=[unknown, opus])  # unknown price: not compared
        create_tiered_graph(planner=opus, tiers=[opus, mini])
    [warning] = [w for w in caught if w.category is TierOrderWarning]
    assert warning.filename == __file__  # points at the factory call, not at the library
    assert "'small' (gpt-5-mini) costs less than 'frontier'" in str(warning.message)
    assert "pass tiers cheapest first" in str(warning.message)


def test_pricing_warnings_point_at_the_users_call() -> None:
    from tiered_agents import CostTracker
    from tiered_agents.errors import UnpricedModelWarning

    model = FakeChatModel(responses=["hi"], model_name="my-unpriced-model")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.invoke("hello", config={"callbacks": [CostTracker()]})
    [warning] = [w for w in caught if w.category is UnpricedModelWarning]
    assert warning.filename == __file__  # the invoke above, not LangChain's callback code
