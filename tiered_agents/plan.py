"""The plan the planner writes: subtasks with dependencies, parsed and validated."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tiered_agents._json import extract_json
from tiered_agents.errors import PlanValidationError

__all__ = ["Plan", "Subtask", "parse_plan", "validate_plan"]


class Subtask(BaseModel):
    """One unit of work a worker tier executes."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(min_length=1, description="Unique id, e.g. 's1'.")
    instruction: str = Field(min_length=1, description="What the worker must do, self-contained.")
    depends_on: list[str] = Field(
        default_factory=list, description="Ids of subtasks whose outputs this one needs."
    )
    tier: str | None = Field(
        default=None, description="Name of the tier to run on; omit for the cheapest tier."
    )
    expected_output: dict[str, Any] | None = Field(
        default=None, description="Optional JSON schema the output must satisfy."
    )
    acceptance: str | None = Field(
        default=None, description="Optional sentence saying what a good answer contains."
    )


class Plan(BaseModel):
    """Subtasks that together answer the task. Ids are unique and dependencies form a DAG."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    subtasks: list[Subtask] = Field(description="The subtasks, in any order.")

    def get(self, subtask_id: str) -> Subtask:
        for subtask in self.subtasks:
            if subtask.id == subtask_id:
                return subtask
        raise KeyError(subtask_id)


def _find_cycle(plan: Plan) -> list[str] | None:
    deps = {s.id: s.depends_on for s in plan.subtasks}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in deps.get(node, []):
            if state.get(dep) == 1:
                return [*path[path.index(dep):], dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for subtask in plan.subtasks:
        if subtask.id not in state:
            found = visit(subtask.id)
            if found:
                return found
    return None


def validate_plan(plan: Plan, *, tiers: Iterable[str], max_subtasks: int) -> Plan:
    """Check the rules a runnable plan must follow; raise `PlanValidationError` otherwise."""
    tier_names = list(tiers)
    if not plan.subtasks:
        raise PlanValidationError("the plan has no subtasks; give at least one")
    if len(plan.subtasks) > max_subtasks:
        raise PlanValidationError(
            f"the plan has {len(plan.subtasks)} subtasks but at most {max_subtasks} are allowed; "
            "merge related steps"
        )
    seen: set[str] = set()
    for subtask in plan.subtasks:
        if subtask.id in seen:
            raise PlanValidationError(f"subtask id {subtask.id!r} is used more than once")
        seen.add(subtask.id)
    for subtask in plan.subtasks:
        missing = [d for d in subtask.depends_on if d not in seen]
        if missing:
            raise PlanValidationError(
                f"subtask {subtask.id!r} depends on unknown subtask(s) {missing}"
            )
        if subtask.id in subtask.depends_on:
            raise PlanValidationError(f"subtask {subtask.id!r} depends on itself")
        if subtask.tier is not None and subtask.tier not in tier_names:
            raise PlanValidationError(
                f"subtask {subtask.id!r} names tier {subtask.tier!r}, which does not exist; "
                f"use one of {tier_names}"
            )
    cycle = _find_cycle(plan)
    if cycle:
        raise PlanValidationError(f"the dependencies form a cycle: {' -> '.join(cycle)}")
    return plan


def parse_plan(raw: Any) -> Plan:
    """Turn a planner's output (a `Plan`, a dict, or text with JSON in it) into a `Plan`."""
    if isinstance(raw, Plan):
        return raw
    if isinstance(raw, BaseModel):
        raw = raw.model_dump()
    if isinstance(raw, str):
        try:
            raw = extract_json(raw)
        except ValueError as exc:
            raise PlanValidationError(str(exc)) from None
    if isinstance(raw, list):
        raw = {"subtasks": raw}
    if not isinstance(raw, Mapping):
        raise PlanValidationError(
            f'the plan must be a JSON object {{"subtasks": [...]}}, got {type(raw).__name__}'
        )
    try:
        return Plan.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise PlanValidationError(f"the plan does not match the schema ({problems})") from None
