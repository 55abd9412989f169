"""Every exception and warning tiered-agents raises. Every message says what to do about it.

- `TieredAgentsError`: the base of all of them.
- A user's mistake: `InvalidInputError` (a graph's input is unusable; also a `ValueError`),
  `PlanValidationError` (a plan broke a rule; also a `ValueError`).
- A run failure: `PlanError`, `SubtaskFailedError`, `CascadeFailedError`, and the local model
  runtime's `ServerError` and `WeightsError` (also `RuntimeError`s).
- A budget stop: `BudgetExceeded`.
- Warnings: `UnpricedModelWarning`, `UsageMissingWarning`, `DriftWarning`, `OverlapWarning`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "BudgetExceeded",
    "BudgetStopped",
    "CascadeFailedError",
    "DriftWarning",
    "InvalidInputError",
    "OverlapWarning",
    "PlanError",
    "PlanValidationError",
    "ServerError",
    "SubtaskFailedError",
    "TierOrderWarning",
    "TieredAgentsError",
    "UnpricedModelWarning",
    "UsageMissingWarning",
    "WeightsError",
]


class TieredAgentsError(Exception):
    """Base class of every error raised by tiered-agents."""


class InvalidInputError(TieredAgentsError, ValueError):
    """A graph was invoked with input it cannot use; raised before any model call, so nothing
    is spent. The message says which input the graph takes."""


class PlanValidationError(TieredAgentsError, ValueError):
    """A plan broke a rule; the message is shown to the planner so it can fix it."""


class PlanError(TieredAgentsError):
    """The planner did not produce a valid plan, even after being shown its mistakes.

    `problem` is the last validation error; `raw` is the planner's last output.
    """

    def __init__(self, problem: str, *, raw: Any = None, attempts: int = 1) -> None:
        self.problem = problem
        self.raw = raw
        self.attempts = attempts
        super().__init__(
            f"The planner produced no valid plan after {attempts} attempt(s): {problem}. "
            "Use a stronger planner tier, raise `max_subtasks`, or make the task narrower."
        )


def _tried(attempts: Sequence[Any]) -> str:
    return ", ".join(f"{a['tier']}: {a['error']}" for a in attempts) or "no attempt"


class SubtaskFailedError(TieredAgentsError):
    """A subtask failed on every tier it was allowed to use.

    `results` holds every subtask result the run had when it stopped (finished ones included),
    so no completed work is lost. With a checkpointer, the same results stay in the thread's
    state and `graph.invoke(None, config)` resumes from there.
    """

    def __init__(self, subtask_id: str, results: Mapping[str, Any]) -> None:
        self.subtask_id = subtask_id
        self.results = dict(results)
        done = sorted(k for k, r in self.results.items() if r["status"] == "done")
        super().__init__(
            f"Subtask {subtask_id!r} failed on every tier "
            f"({_tried(self.results[subtask_id]['attempts'])}). "
            f"Finished subtasks kept in `.results`: {done or 'none'}. "
            "Fix the provider error and resume with graph.invoke(None, config) (finished work is "
            "not paid again), add a stronger tier, or relax the subtask's expected_output."
        )


class CascadeFailedError(TieredAgentsError):
    """Every tier of a cascade failed to answer (errors, not weak answers: the last tier's
    answer is always accepted). `attempts` holds every attempt."""

    def __init__(self, attempts: Sequence[Any]) -> None:
        self.attempts = list(attempts)
        super().__init__(
            f"Every tier of the cascade failed ({_tried(self.attempts)}). Fix the provider error "
            "or add a tier."
        )


class BudgetExceeded(TieredAgentsError):  # noqa: N818 - the public name since 0.1
    """A budget with `on_exceed="raise"` was reached. `state` is what the run had (finished
    results included); `budget` the spending figures."""

    def __init__(self, reason: str, *, state: Mapping[str, Any] | None = None,
                 budget: Mapping[str, Any] | None = None) -> None:
        self.reason = reason
        self.state = dict(state or {})
        self.budget = dict(budget or self.state.get("budget") or {})
        super().__init__(f"Budget exceeded: {reason}. Finished work is in `.state`; raise the "
                         "limit or use on_exceed='stop' to end cleanly instead.")


class BudgetStopped(Exception):  # noqa: N818 - internal control flow, not an error
    """Internal: a model call was not started because the budget is spent. The graphs catch it
    and apply the budget's `on_exceed`; it never reaches the caller."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class ServerError(TieredAgentsError, RuntimeError):
    """The local model server could not start; the message says why and what to do."""


class WeightsError(TieredAgentsError, RuntimeError):
    """The local model weights are missing or corrupt; the message names the command that
    fixes it."""


class UnpricedModelWarning(UserWarning):
    """A model's price is unknown: its calls count tokens but no dollars."""


class UsageMissingWarning(UserWarning):
    """A model reported no token usage (streamed OpenAI-compatible calls do this unless
    `stream_usage=True`): its calls count as unpriced, and budgets charge an estimate."""


class TierOrderWarning(UserWarning):
    """A ladder's tiers are not cheapest first by their known prices: escalation climbs them in
    the given order, so a cheaper tier above a dearer one is tried after it."""


class DriftWarning(UserWarning):
    """Live verifier scores no longer look like the ones a policy was calibrated on."""


class OverlapWarning(UserWarning):
    """The test questions overlap the calibration questions: results would flatter."""
