"""The bodies of the tiered graph's nodes, written once for sync and async (see `_calls`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import RetryPolicy, Send

from tiered_agents import attributes as attr
from tiered_agents._attempt import AttemptSettings, attempt_steps, retryable, text_of
from tiered_agents._calls import Steps, run_async, run_sync
from tiered_agents.errors import PlanError, SubtaskFailedError
from tiered_agents.plan import Plan, PlanValidationError, Subtask, parse_plan, validate_plan
from tiered_agents.prompts import (
    planner_messages,
    replan_message,
    synthesizer_messages,
    worker_messages,
)
from tiered_agents.state import Attempt, SubtaskResult, TieredState
from tiered_agents.tiers import Tier, model_provider

__all__ = [
    "GraphSettings",
    "check_failures",
    "node_pair",
    "node_retry_policy",
    "plan_steps",
    "reference_of",
    "route",
    "synthesize_steps",
    "work_steps",
]

MAX_PLAN_RETRIES = 2
"""How many times the planner is shown its invalid plan and asked again."""


@dataclass
class GraphSettings:
    """Everything the tiered graph's nodes need, resolved once when the graph is built."""

    planner: Tier
    synthesizer: Tier
    max_subtasks: int
    attempts: AttemptSettings

    def __post_init__(self) -> None:
        for tier in [self.planner, self.synthesizer, *self.attempts.tiers]:
            self.attempts.limit(tier)

    def start_tier(self, subtask: Subtask) -> str:
        return subtask.tier or self.attempts.ladder()[0]


def node_retry_policy(policy: RetryPolicy) -> RetryPolicy:
    """The user's policy, minus our own errors (a bad plan is not transient)."""
    return policy._replace(retry_on=lambda exc: retryable(policy, exc))


def reference_of(tier: Tier) -> dict[str, Any]:
    """The metadata that tells a tracer what the frontier tier costs."""
    return {
        "tier": tier.name,
        "model": tier.model_name,
        "provider": model_provider(tier.model),
        "price": tier.price.to_dict() if tier.price is not None else None,
    }


def _structured_plan(tier: Tier) -> Any:
    try:
        return tier.model.with_structured_output(Plan, include_raw=True)
    except (NotImplementedError, ValueError, TypeError):
        return None


# --- planner -------------------------------------------------------------------------------


def plan_steps(state: TieredState, config: RunnableConfig, s: GraphSettings) -> Steps[dict]:
    task, a = state["task"], s.attempts
    structured = _structured_plan(s.planner)
    problem = "no plan"
    previous: Any = None
    asks = 0
    for _ in range(MAX_PLAN_RETRIES + 1):
        def ask(json_only: bool) -> list[Any]:
            messages = planner_messages(task, a.tiers, max_subtasks=s.max_subtasks,
                                        json_only=json_only)
            if previous is not None:
                messages.append(replan_message(previous, problem))
            return messages

        candidate: Any = None
        if structured is not None:
            try:
                out = yield a.call(s.planner, structured, ask(False), config)
                asks += 1
                candidate = out.get("parsed")
                if candidate is None and out.get("raw") is not None:
                    candidate = parse_plan(text_of(out["raw"]))  # JSON written as text
            except (NotImplementedError, PlanValidationError):
                candidate = None
            if candidate is None:
                structured = None  # unsupported or unparsable: ask for JSON in plain text
        if candidate is None:
            reply = yield a.call(s.planner, s.planner.model, ask(True), config)
            asks += 1
            candidate = text_of(reply)
        try:
            plan = validate_plan(parse_plan(candidate), tiers=a.tier_names,
                                 max_subtasks=s.max_subtasks)
            return {"plan": plan}
        except PlanValidationError as exc:
            problem = str(exc)
            previous = candidate.model_dump() if isinstance(candidate, Plan) else candidate
    raise PlanError(problem, raw=previous, attempts=asks)


# --- workers -------------------------------------------------------------------------------


def work_steps(payload: dict[str, Any], config: RunnableConfig, s: GraphSettings) -> Steps[dict]:
    subtask: Subtask = payload["subtask"]
    a = s.attempts
    tier = a.tier(payload["tier"])
    prior: list[Attempt] = list(payload.get("attempts") or [])
    task, deps = payload["task"], payload.get("dependencies") or {}
    start = s.start_tier(subtask)
    attempt = yield from attempt_steps(
        a, tier, lambda json_only: worker_messages(task, subtask, deps, json_only=json_only),
        request=f"{subtask.instruction}\n\n(Part of the task: {task[:2000]})",
        prior=prior, config=config, start=start, subtask=subtask,
        metadata={attr.SUBTASK_ID: subtask.id},
    )
    attempts = [*prior, attempt]
    if attempt.accepted:
        result = SubtaskResult(id=subtask.id, status="done", output=attempt.output,
                               tier=tier.name, attempts=attempts)
    else:
        status = "error" if a.next_tier(tier.name, start) is not None else "failed"
        result = SubtaskResult(id=subtask.id, status=status, attempts=attempts)
    return {"results": {subtask.id: result}}


# --- scheduling and synthesis ---------------------------------------------------------------


def check_failures(state: TieredState) -> dict:
    results = state.get("results") or {}
    for subtask_id, result in results.items():
        if result.status == "failed":
            raise SubtaskFailedError(subtask_id, results)
    return {}


def route(state: TieredState, s: GraphSettings) -> list[Send] | str:
    plan = state["plan"]
    results = state.get("results") or {}
    sends: list[Send] = []
    for subtask in plan.subtasks:
        result = results.get(subtask.id)
        if result is None:
            if all(results.get(d) and results[d].status == "done" for d in subtask.depends_on):
                sends.append(_send(state, subtask, s.start_tier(subtask), []))
        elif result.status == "error":
            tier = s.attempts.next_tier(result.attempts[-1].tier, s.start_tier(subtask))
            assert tier is not None, "a result with a higher tier left has status 'error'"
            sends.append(_send(state, subtask, tier, result.attempts))
    if sends:
        return sends
    if all(r.status == "done" for r in results.values()) and len(results) == len(plan.subtasks):
        return "synthesizer"
    raise RuntimeError(f"tiered graph is stuck with results {sorted(results)}; please report this")


def _send(state: TieredState, subtask: Subtask, tier: str, attempts: list[Attempt]) -> Send:
    results = state.get("results") or {}
    deps = {d: results[d].output for d in subtask.depends_on}
    return Send("worker", {"task": state["task"], "subtask": subtask, "tier": tier,
                           "attempts": attempts, "dependencies": deps})


def synthesize_steps(state: TieredState, config: RunnableConfig, s: GraphSettings) -> Steps[dict]:
    messages = synthesizer_messages(state["task"], state["plan"], state.get("results") or {})
    reply = yield s.attempts.call(s.synthesizer, s.synthesizer.model, messages, config)
    return {"answer": text_of(reply)}


def node_pair(body: Callable[[Any, RunnableConfig, Any], Steps[dict]], settings: Any
              ) -> tuple[Callable[..., dict], Callable[..., Any]]:
    """The sync and async node functions that drive one shared body."""

    def sync(state: Any, config: RunnableConfig) -> dict:
        return run_sync(body(state, config, settings))

    async def asynchronous(state: Any, config: RunnableConfig) -> dict:
        return await run_async(body(state, config, settings))

    return sync, asynchronous
