"""The graph's state: the task, the plan, each subtask's result with every attempt, the answer."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

from tiered_agents._budget import BudgetState, merge_budget
from tiered_agents.plan import Plan, Subtask

__all__ = ["Attempt", "BudgetState", "SubtaskResult", "TieredInput", "TieredOutput",
           "TieredState", "WorkerInput"]

Status = Literal["done", "error", "failed"]
"""`done`: accepted. `error`: the last attempt failed and `next_tier` will try.
`failed`: every allowed tier failed; resuming the thread (`invoke(None, config)`) tries again
from the tier after the last one that answered."""


class Attempt(TypedDict):
    """One try of a subtask on one tier (plain data, as stored in the state)."""

    number: int
    """1-based attempt number within the subtask."""
    tier: str
    """Name of the tier that ran it."""
    model: str
    """Name of the model that answered."""
    output: Any
    """The output, when the attempt produced one (else `None`)."""
    error: str | None
    """The error, when the call or the output's schema check failed."""
    accepted: bool
    """Whether this output was accepted."""
    score: float | None
    """The verifier's score, if one ran."""
    reason: str | None
    """Why it was accepted or rejected."""
    call_failed: bool
    """Whether the model call itself failed (a provider, network or authentication error), so
    the attempt produced no answer to judge. A resumed run tries such tiers again."""
    usage: dict[str, int]
    """input_tokens, output_tokens and total_tokens."""


class SubtaskResult(TypedDict):
    """What a subtask produced, and every attempt it took to get there."""

    id: str
    status: Status
    output: Any
    """The accepted output (a str, or parsed JSON); `None` until one is accepted."""
    tier: str | None
    """Name of the tier that produced the accepted output."""
    attempts: list[Attempt]
    """Every attempt, in order (those of earlier runs of a resumed thread included)."""
    next_tier: str | None
    """For status `error`: the tier the next attempt runs on."""


def merge_results(
    left: dict[str, SubtaskResult] | None, right: dict[str, SubtaskResult] | None
) -> dict[str, SubtaskResult]:
    """Reducer: parallel workers each add their own subtask's result."""
    return {**(left or {}), **(right or {})}


class TieredInput(TypedDict, total=False):
    """The task as a string, or chat messages whose last human message is the task; and
    optionally named documents for the workers to read."""

    task: str
    """What the user wants done."""
    messages: Annotated[list[AnyMessage], add_messages]
    """A chat transcript (chat UIs, LangGraph Studio, supervisors); the final answer is
    appended to it as an AI message."""
    documents: dict[str, str]
    """Named texts (contracts, reports, pages) that workers read: the planner sees only their
    names and sizes and gives each subtask the documents it needs, so long texts are read by
    the cheap tiers, not by the planner. They stay on the thread until replaced."""


class TieredOutput(TypedDict, total=False):
    task: str
    messages: Annotated[list[AnyMessage], add_messages]
    plan: Plan
    results: dict[str, SubtaskResult]
    answer: str
    budget: BudgetState
    """With a `Budget`: limit_usd, spent_usd, exceeded, stopped_at (and token figures)."""


class TieredState(TypedDict, total=False):
    task: str
    messages: Annotated[list[AnyMessage], add_messages]
    documents: dict[str, str]
    plan: Plan
    results: Annotated[dict[str, SubtaskResult], merge_results]
    answer: str
    budget: Annotated[BudgetState, merge_budget]


class WorkerInput(TypedDict):
    """What `dispatch` sends a worker (`Send("worker", ...)`): one subtask to attempt."""

    task: str
    """The user's task, for context."""
    subtask: Subtask
    """The subtask to do."""
    tier: str
    """The tier this attempt runs on."""
    attempts: list[Attempt]
    """The subtask's earlier attempts (on lower tiers, and in earlier runs of the thread)."""
    dependencies: dict[str, Any]
    """The accepted outputs of the subtasks it depends on."""
    documents: dict[str, str]
    """The documents the subtask names, by name."""
    budget: BudgetState | None
    """The run's spending when the worker was sent."""
