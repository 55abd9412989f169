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

from tiered_agents import attributes as attr
from tiered_agents._attempt import AttemptSettings, attempt_steps, text_of
from tiered_agents._calls import Steps
from tiered_agents._nodes import node_pair, node_retry_policy, reference_of
from tiered_agents.errors import CascadeFailedError
from tiered_agents.escalation import EscalationPolicy
from tiered_agents.state import Attempt
from tiered_agents.tiers import Tier
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


def _request(messages: Sequence[BaseMessage]) -> str:
    humans = [m for m in messages if m.type == "human"]
    return text_of(humans[-1]) if humans else text_of(messages[-1])


def _answer_steps(state: CascadeState, config: RunnableConfig, s: AttemptSettings
                  ) -> Steps[dict]:
    prior = list(state.get("attempts") or [])
    messages = [m for m in state["messages"]]
    if prior:
        name = s.next_tier(prior[-1].tier)
        if name is None:
            raise CascadeFailedError(prior)
    else:
        name = s.ladder()[0]
    tier = s.tier(name)
    attempt = yield from attempt_steps(s, tier, lambda json_only: messages,
                                       request=_request(messages), prior=prior, config=config)
    update: dict[str, Any] = {"attempts": [attempt]}
    if attempt.accepted:
        update.update(answer=text_of(attempt.output), tier=tier.name,
                      messages=[AIMessage(text_of(attempt.output), name=tier.name)])
    elif s.next_tier(tier.name) is None:
        raise CascadeFailedError([*prior, attempt])
    return update


def create_cascade(
    tiers: Sequence[Tier],
    *,
    verifier: Verifier | None = None,
    escalation: EscalationPolicy | None = None,
    retry_policy: RetryPolicy | None = None,
    checkpointer: Checkpointer = None,
    name: str = "cascade",
) -> CompiledStateGraph:
    """Build a graph that answers on the cheapest tier and escalates weak answers.

    Each attempt is one run of the `answer` node: the tier answers the request's messages, the
    `verifier` judges the answer (its model calls are attributed to a `verify` node by the
    tracer), and the `escalation` policy decides whether to accept it or try the next tier. The
    ladder's last tier is always accepted.

    Example:
        ```python
        cascade = create_cascade([small, frontier], verifier=ConfidenceVerifier(-0.3))
        out = cascade.invoke({"messages": [HumanMessage("What is the capital of Peru?")]})
        out["answer"], out["tier"], out["attempts"]
        ```
    """
    tiers = list(tiers)
    if not tiers:
        raise ValueError("create_cascade needs at least one Tier, cheapest first.")
    for item in tiers:
        if not isinstance(item, Tier):
            raise TypeError(f"Expected a tiered_agents.Tier, got {type(item).__name__}.")
    names = [t.name for t in tiers]
    if len(set(names)) != len(names):
        raise ValueError(f"Tier names must be unique, got {names}.")
    retry = retry_policy or RetryPolicy()
    settings = AttemptSettings(tiers=tiers, retry_policy=retry, verifier=verifier,
                               escalation=escalation or EscalationPolicy())
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
    builder.add_conditional_edges("answer", lambda state: END if state.get("answer") is not None
                                  else "answer", ["answer", END])
    return builder.compile(checkpointer=checkpointer, name=name)
