"""The graph's state: the task, the plan, each subtask's result with every attempt, the answer."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict

from tiered_agents._budget import BudgetState, merge_budget
from tiered_agents.plan import Plan, Subtask

__all__ = ["Attempt", "BudgetState", "SubtaskResult", "TieredInput", "TieredOutput",
           "TieredState", "WorkerInput"]

Status = Literal["done", "error", "failed"]
"""`done`: accepted. `error`: the last attempt failed and a higher tier will try.
`failed`: every allowed tier failed."""


class Attempt(BaseModel):
    """One try of a subtask on one tier."""

    model_config = ConfigDict(frozen=True)

    number: int = Field(description="1-based attempt number within the subtask.")
    tier: str = Field(description="Name of the tier that ran it.")
    model: str = Field(description="Name of the model that answered.")
    output: Any = Field(default=None, description="The output, when the attempt produced one.")
    error: str | None = Field(default=None, description="The error, when the call or the "
                              "output's schema check failed.")
    accepted: bool = Field(default=False, description="Whether this output was accepted.")
    score: float | None = Field(default=None, description="The verifier's score, if one ran.")
    reason: str | None = Field(default=None, description="Why it was accepted or rejected.")
    usage: dict[str, int] = Field(
        default_factory=dict, description="input_tokens, output_tokens and total_tokens."
    )

    @property
    def ok(self) -> bool:
        return self.accepted


class SubtaskResult(BaseModel):
    """What a subtask produced, and every attempt it took to get there."""

    model_config = ConfigDict(frozen=True)

    id: str
    status: Status
    output: Any = Field(default=None, description="The accepted output (a str, or parsed JSON).")
    tier: str | None = Field(
        default=None, description="Name of the tier that produced the accepted output."
    )
    attempts: list[Attempt] = Field(default_factory=list)


def merge_results(
    left: dict[str, SubtaskResult] | None, right: dict[str, SubtaskResult] | None
) -> dict[str, SubtaskResult]:
    """Reducer: parallel workers each add their own subtask's result."""
    return {**(left or {}), **(right or {})}


class TieredInput(TypedDict):
    task: str
    """What the user wants done."""


class TieredOutput(TypedDict, total=False):
    task: str
    plan: Plan
    results: dict[str, SubtaskResult]
    answer: str
    budget: BudgetState
    """With a `Budget`: limit_usd, spent_usd, exceeded, stopped_at (and token figures)."""


class TieredState(TypedDict, total=False):
    task: str
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
    """The subtask's earlier attempts (on lower tiers)."""
    dependencies: dict[str, Any]
    """The accepted outputs of the subtasks it depends on."""
    budget: BudgetState | None
    """The run's spending when the worker was sent."""
