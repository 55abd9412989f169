"""`create_cascade`: answer on the cheapest tier, verify, escalate — for single requests."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Annotated, Any

from langchain_core.messages import AIMessage, AnyMessage, BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer, RetryPolicy
from typing_extensions import TypedDict

import tiered_agents.attributes as attr
from tiered_agents._attempt import AttemptSettings, attempt_steps
from tiered_agents._budget import (
    BudgetState,
    RunBudget,
    check_interrupt,
    merge_budget,
    on_budget_stop,
)
from tiered_agents._calls import Nodes, Steps, Update, require_chat, resuming, router, text_of
from tiered_agents.budget import Budget
from tiered_agents.errors import BudgetStopped, CascadeFailedError
from tiered_agents.escalation import EscalationPolicy
from tiered_agents.retry import check_retry
from tiered_agents.state import Attempt
from tiered_agents.tiers import Tier, check_ladder, reference_of
from tiered_agents.verifiers import Verifier

__all__ = ["CascadeInput", "CascadeState", "create_cascade", "create_cascade_builder"]


class CascadeInput(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    """The request, as chat messages (a system prompt and the user's question, say)."""


class CascadeState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    attempts: Annotated[list[Attempt], operator.add]
    """Every attempt, in order, accepted or not (those of earlier requests on the thread
    included)."""
    answer: str | None
    """The accepted answer to the current request."""
    tier: str | None
    """The tier whose answer was accepted."""
    budget: Annotated[BudgetState, merge_budget]
    """With a `Budget`: limit_usd, spent_usd, exceeded, stopped_at (and token figures)."""
    request_start: int
    """Index in `attempts` of the current request's first attempt."""
    failed: bool
    """Every tier failed the current request; resuming the thread climbs again."""


def _request(messages: Sequence[BaseMessage]) -> str:
    humans = [m for m in messages if m.type == "human"]
    return text_of(humans[-1]) if humans else text_of(messages[-1])


def _new_request(state: CascadeState, config: RunnableConfig) -> Update:
    """A new input on the thread: check it (before any call), and start a fresh ladder."""
    require_chat(state, "cascade")
    return {"request_start": len(state.get("attempts") or []), "answer": None, "tier": None,
            "failed": False}


def _answer_steps(state: CascadeState, config: RunnableConfig, s: AttemptSettings
                  ) -> Steps[Update]:
    prior = list(state.get("attempts") or [])[state.get("request_start", 0):]
    messages: list[BaseMessage] = list(state["messages"])
    if state.get("failed"):
        if not resuming(config):
            raise CascadeFailedError(prior)
        name = s.resume_tier(prior)  # resumed after every tier failed: climb again
    elif prior:
        following = s.next_tier(prior[-1]["tier"])
        assert following is not None, "a request whose last tier failed is marked failed"
        name = following
    else:
        name = s.ladder()[0]
    budget = RunBudget(s.budget, state.get("budget"), "worker")
    reset: BudgetState = {}
    tier = s.tier(name)
    while True:
        try:
            attempt = yield from attempt_steps(
                s, tier, lambda json_only: messages, request=_request(messages), prior=prior,
                config=config, budget=budget)
            break
        except BudgetStopped as stop:
            resumed = on_budget_stop(s.budget, stop.reason, state=state,
                                     spent=budget.spending())
            if resumed is None:
                return {"budget": {**budget.update(stopped_at=f"answer on {tier.name}"),
                                   **reset}, "failed": False}
            reset = resumed
            budget = budget.resumed(reset)
    update: dict[str, Any] = {"attempts": [attempt], "failed": False}
    if s.budget is not None:
        update["budget"] = {**budget.update(), **reset}
    if attempt["accepted"]:
        update.update(answer=text_of(attempt["output"]), tier=tier.name,
                      messages=[AIMessage(text_of(attempt["output"]), name=tier.name)])
    elif s.next_tier(tier.name) is None:
        update["failed"] = True  # the next step raises CascadeFailedError, after saving this
    return update


def _route(state: CascadeState) -> str:
    stopped = bool((state.get("budget") or {}).get("exceeded"))
    return END if state.get("answer") is not None or stopped else "answer"


def create_cascade(
    tiers: Sequence[Tier],
    *,
    verifier: Verifier | None = None,
    escalation: EscalationPolicy | None = None,
    budget: Budget | None = None,
    retry_policy: RetryPolicy | None = None,
    checkpointer: Checkpointer = None,
    name: str = "cascade",
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Build a graph that answers on the cheapest tier and escalates weak answers.

    Each attempt is one run of the `answer` node: the tier answers the request's messages, the
    `verifier` judges the answer (its model calls are attributed to a `verify` node by the
    tracer), and the `escalation` policy decides whether to accept it or try the next tier. The
    ladder's last tier is always accepted. A `budget` applies as in `create_tiered_graph`:
    `stop` ends without an answer, `downgrade` accepts the answer in hand, `interrupt` pauses,
    `raise` raises `BudgetExceeded`.

    Example:
        ```python
        cascade = create_cascade([small, frontier], verifier=ConfidenceVerifier(-0.3))
        out = cascade.invoke({"messages": [HumanMessage("What is the capital of Peru?")]})
        out["answer"], out["tier"], out["attempts"]
        ```
    """
    check_interrupt(budget, checkpointer)
    return create_cascade_builder(
        tiers, verifier=verifier, escalation=escalation, budget=budget,
        retry_policy=retry_policy).compile(checkpointer=checkpointer, name=name)


def create_cascade_builder(
    tiers: Sequence[Tier],
    *,
    verifier: Verifier | None = None,
    escalation: EscalationPolicy | None = None,
    budget: Budget | None = None,
    retry_policy: RetryPolicy | None = None,
) -> StateGraph[Any, Any, Any, Any]:
    """The cascade before `compile()` (`create_cascade`'s arguments but `checkpointer` and
    `name`), for apps that extend it or compile it themselves."""
    return cascade_builder(cascade_settings(tiers, verifier=verifier, escalation=escalation,
                                            budget=budget, retry_policy=retry_policy), Nodes())


def cascade_settings(tiers: Sequence[Tier], *, verifier: Verifier | None = None,
                     escalation: EscalationPolicy | None = None, budget: Budget | None = None,
                     retry_policy: RetryPolicy | None = None) -> AttemptSettings:
    """`create_cascade`'s arguments, checked."""
    settings = AttemptSettings(tiers=check_ladder(tiers), retry_policy=check_retry(retry_policy),
                               verifier=verifier, escalation=escalation or EscalationPolicy(),
                               budget=budget)
    for tier in settings.tiers:
        settings.limit(tier)
    return settings


def cascade_builder(settings: AttemptSettings, nodes: Nodes,
                    state_schema: type[Any] = CascadeState) -> StateGraph[Any, Any, Any, Any]:
    """The cascade's wiring, with nodes made by `nodes`."""
    builder = StateGraph(state_schema, input_schema=CascadeInput)
    request, extra = nodes.inline_node("request", _new_request)
    builder.add_node("request", request, metadata=extra or None)
    answer, extra = nodes.model_node("answer", _answer_steps, settings)
    builder.add_node("answer", answer, metadata={
        attr.ROLE: "worker", attr.REFERENCE: reference_of(settings.tiers[-1]), **extra})
    builder.add_edge(START, "request")
    builder.add_edge("request", "answer")
    builder.add_conditional_edges("answer", router(_route, "route"), ["answer", END])
    return builder
