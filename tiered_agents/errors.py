"""The exceptions tiered-agents raises. Every message says what to do about it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tiered_agents.state import SubtaskResult

__all__ = ["CascadeFailedError", "PlanError", "SubtaskFailedError", "TieredAgentsError"]


class TieredAgentsError(Exception):
    """Base class of every error raised by tiered-agents."""


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


class SubtaskFailedError(TieredAgentsError):
    """A subtask failed on every tier it was allowed to use.

    `results` holds every subtask result the run had when it stopped (finished ones included),
    so no completed work is lost. With a checkpointer, the same results stay in the thread's
    state and `graph.invoke(None, config)` resumes from there.
    """

    def __init__(self, subtask_id: str, results: dict[str, SubtaskResult]) -> None:
        self.subtask_id = subtask_id
        self.results = dict(results)
        failed = self.results[subtask_id]
        tried = ", ".join(f"{a.tier}: {a.error}" for a in failed.attempts) or "no attempt"
        done = sorted(k for k, r in self.results.items() if r.status == "done")
        super().__init__(
            f"Subtask {subtask_id!r} failed on every tier ({tried}). "
            f"Finished subtasks kept in `.results`: {done or 'none'}. "
            "Add a stronger tier, relax the subtask's expected_output, or fix the provider error."
        )


class CascadeFailedError(TieredAgentsError):
    """Every tier of a cascade failed to answer (errors, not weak answers: the last tier's
    answer is always accepted). `attempts` holds every attempt."""

    def __init__(self, attempts: list[Any]) -> None:
        self.attempts = list(attempts)
        tried = ", ".join(f"{a.tier}: {a.error}" for a in self.attempts) or "no attempt"
        super().__init__(
            f"Every tier of the cascade failed ({tried}). Fix the provider error or add a tier."
        )
