"""`create_cascade`: answer on the cheapest tier, verify, escalate — for single requests."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Annotated, Any

from langchain_core.messages import AIMessage, AnyMessage, BaseMessage
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer, RetryPolicy
from typing_extensions import TypedDict

import tiered_agents.attributes as attr
from tiered_agents._attempt import AttemptSettings, attempt_steps
from tiered_agents._budget import BudgetState, RunBudget, merge_budget, on_budget_stop
from tiered_agents._calls import Steps, Update, node_pair, node_retry_policy, text_of
from tiered_agents.budget import Budget
from tiered_agents.errors import BudgetStopped, CascadeFailedError
from tiered_agents.escalation import EscalationPolicy
from tiered_agents.state import Attempt
from tiered_agents.tiers import Tier, check_ladder, reference_of
from tiered_agents.verifiers import Verifier

__all__ = ["CascadeInput", "CascadeState", "create_cascade"]


class CascadeInput(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    """The request, as chat messages (a system prompt and the user's question, say)."""


class CascadeState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    attempts: Annotated[list[Attempt], operator.add]
    """Every attempt, in order, accepted or not."""
    answer: str
    """The accepted answer."""
    tier: str
    """The tier whose answer was accepted."""
    budget: Annotated[BudgetState, merge_budget]
    """With a `Budget`: limit_usd, spent_usd, exceeded, stopped_at (and token figures)."""


def _request(messages: Sequence[BaseMessage]) -> str:
    humans = [m for m in messages if m.type == "human"]
    return text_of(humans[-1]) if humans else text_of(messages[-1])


def _answer_steps(state: CascadeState, config: RunnableConfig, s: AttemptSettings
                  ) -> Steps[Update]:
    prior = list(state.get("attempts") or [])
    messages: list[BaseMessage] = list(state["messages"])
    budget = RunBudget(s.budget, state.get("budget"), "worker")
    reset: BudgetState = {}
    while True:
        if prior:
            name = s.next_tier(prior[-1].tier)
            if name is None:
                raise CascadeFailedError(prior)
        else:
            name = s.ladder()[0]
        tier = s.tier(name)
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
                                   **reset}}
            reset = resumed
            budget = budget.resumed(reset)
    update: dict[str, Any] = {"attempts": [attempt]}
    if s.budget is not None:
        update["budget"] = {**budget.update(), **reset}
    if attempt.accepted:
        update.update(answer=text_of(attempt.output), tier=tier.name,
                      messages=[AIMessage(text_of(attempt.output), name=tier.name)])
    elif s.next_tier(tier.name) is None:
        raise CascadeFailedError([*prior, attempt])
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
    tiers = check_ladder(tiers)
    retry = retry_policy or RetryPolicy()
    settings = AttemptSettings(tiers=tiers, retry_policy=retry, verifier=verifier,
                               escalation=escalation or EscalationPolicy(), budget=budget)
    for tier in tiers:
        settings.limit(tier)
    sync, asynchronous = node_pair(_answer_steps, settings)
    builder = StateGraph(CascadeState, input_schema=CascadeInput)
    builder.add_node(
        "answer", RunnableLambda(sync, afunc=asynchronous, name="answer"),
        retry_policy=node_retry_policy(retry),
        metadata={attr.ROLE: "worker", attr.REFERENCE: reference_of(tiers[-1])},
    )
    builder.add_edge(START, "answer")
    builder.add_conditional_edges("answer", _route, ["answer", END])
    return builder.compile(checkpointer=checkpointer, name=name)
