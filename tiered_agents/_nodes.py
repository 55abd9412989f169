"""The bodies of the tiered graph's nodes, written once for sync and async (see `_calls`)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.graph import END, START, StateGraph
from langgraph.types import Overwrite, RetryPolicy, Send

import tiered_agents.attributes as attr
from tiered_agents._attempt import AttemptSettings, attempt_steps, structured
from tiered_agents._budget import RunBudget, on_budget_stop
from tiered_agents._calls import Nodes, Steps, Update, as_tool, resuming, router, text_of
from tiered_agents.budget import Budget
from tiered_agents.errors import (
    BudgetStopped,
    InvalidInputError,
    PlanError,
    PlanValidationError,
    SubtaskFailedError,
)
from tiered_agents.escalation import EscalationPolicy
from tiered_agents.plan import (
    DocumentPlanModel,
    Plan,
    PlanModel,
    Subtask,
    check_schemas,
    find_subtask,
    parse_plan,
    validate_plan,
)
from tiered_agents.prompts import (
    planner_messages,
    replan_message,
    synthesizer_messages,
    worker_messages,
)
from tiered_agents.retry import check_retry
from tiered_agents.state import (
    Attempt,
    SubtaskResult,
    TieredInput,
    TieredOutput,
    TieredState,
    WorkerInput,
)
from tiered_agents.tiers import Tier, check_count, check_ladder, reference_of
from tiered_agents.verifiers import Verifier

__all__ = ["GraphSettings", "after_planner", "after_synthesizer", "dispatch", "documents_of",
           "graph_settings", "plan_steps", "route", "synthesize_steps", "task_of",
           "tiered_builder", "work_steps"]

MAX_PLAN_RETRIES = 2
"""How many times the planner is shown its invalid plan and asked again."""


@dataclass
class GraphSettings:
    """Everything the tiered graph's nodes need, resolved once when the graph is built."""

    planner: Tier
    synthesizer: Tier
    max_subtasks: int
    attempts: AttemptSettings
    check_plan: Callable[[Plan], str | None] | None = None
    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for tier in [self.planner, self.synthesizer, *self.attempts.tiers]:
            self.attempts.limit(tier)

    def start_tier(self, subtask: Subtask) -> str:
        return subtask["tier"] or self.attempts.ladder()[0]

    def run_budget(self, state: Any, node: str) -> RunBudget:
        return RunBudget(self.attempts.budget, state.get("budget"), node)


def _planner_prompt(task: str, tiers: list[Tier], *, max_subtasks: int, previous: Any,
                    problem: str, json_only: bool, documents: dict[str, str],
                    schemas: dict[str, dict[str, Any]]) -> list[Any]:
    messages = planner_messages(task, tiers, max_subtasks=max_subtasks, json_only=json_only,
                                documents=documents, schemas=schemas)
    if previous is not None:
        messages.append(replan_message(previous, problem))
    return messages


def task_of(state: Any) -> str:
    """The task: the last message of `state["messages"]` when it is a human one (a new chat
    turn), else `state["task"]`.

    Raises `InvalidInputError` (before any model call) when there is none, it is not a
    string, or it is blank.
    """
    messages = state.get("messages") or []
    task = state.get("task")
    if messages and getattr(messages[-1], "type", None) == "human":
        task = text_of(messages[-1])
    elif task is None and messages:
        raise InvalidInputError(
            "The messages end without a human message to take as the task. Invoke with "
            '{"task": "..."} or {"messages": [("user", "...")]}.')
    if task is None:
        raise InvalidInputError(
            "The tiered graph needs a task: invoke it with {\"task\": \"...\"} or "
            f"{{\"messages\": [(\"user\", \"...\")]}}; got the keys {sorted(state)}.")
    if not isinstance(task, str):
        raise InvalidInputError(
            f"The task must be a string, got {type(task).__name__}. Pass the text of the task, "
            "e.g. {\"task\": \"Summarise ...\"} (serialise structured data into it).")
    if not task.strip():
        raise InvalidInputError("The task is empty. Say what you want done: {\"task\": \"...\"}.")
    return task


def documents_of(state: Any) -> dict[str, str]:
    """The run's documents, checked: a mapping of non-blank names to strings.

    Raises `InvalidInputError` (before any model call) otherwise.
    """
    documents = state.get("documents")
    if documents is None:
        return {}
    if not isinstance(documents, dict):
        raise InvalidInputError(
            "documents must be a mapping of names to texts, e.g. {\"documents\": "
            f"{{\"contract-1\": \"...\"}}}}; got {type(documents).__name__}.")
    for name, text in documents.items():
        if not isinstance(name, str) or not name.strip():
            raise InvalidInputError(f"Document names must be non-blank strings; got {name!r}.")
        if not isinstance(text, str):
            raise InvalidInputError(
                f"Document {name!r} must be a string, got {type(text).__name__}: pass its "
                "text (serialise structured data into it).")
    return documents


# --- planner -------------------------------------------------------------------------------


def plan_steps(state: TieredState, config: RunnableConfig, s: GraphSettings) -> Steps[Update]:
    task = task_of(state)  # before any call: bad input costs nothing
    documents = documents_of(state)
    budget = s.run_budget(state, "planner")
    # A new task on a used thread starts clean: no results or answer of the previous one.
    fresh: Update = {"task": task, "results": Overwrite({}), "answer": None}
    try:
        update = yield from _plan(task, documents, config, s, budget)
    except BudgetStopped:
        return {**fresh, "budget": budget.update()}
    return {**fresh, **update, **({"budget": budget.update()} if budget.budget else {})}


def _plan(task: str, documents: dict[str, str], config: RunnableConfig, s: GraphSettings,
          budget: RunBudget) -> Steps[Update]:
    a = s.attempts
    planner = a.tiers[0] if budget.downgraded else s.planner
    plan_output = structured(planner.chat_model, DocumentPlanModel if documents else PlanModel)
    problem = "no plan"
    previous: Any = None
    asks = 0
    for _ in range(MAX_PLAN_RETRIES + 1):
        ask = functools.partial(_planner_prompt, task, a.tiers, max_subtasks=s.max_subtasks,
                                previous=previous, problem=problem, documents=documents,
                                schemas=s.schemas)
        candidate: Any = None
        if plan_output is not None:
            try:
                out = yield a.call(planner, plan_output, ask(json_only=False), config, budget)
                asks += 1
                candidate = out.get("parsed")
                if candidate is None and out.get("raw") is not None:
                    candidate = parse_plan(text_of(out["raw"]))  # JSON written as text
            except (NotImplementedError, PlanValidationError):
                candidate = None
            if candidate is None:
                plan_output = None  # unsupported or unparsable: ask for JSON in plain text
        if candidate is None:
            reply = yield a.call(planner, planner.chat_model, ask(json_only=True), config, budget)
            asks += 1
            candidate = text_of(reply)
        try:
            plan = validate_plan(parse_plan(candidate, max_subtasks=s.max_subtasks),
                                 tiers=a.tier_names, max_subtasks=s.max_subtasks,
                                 documents=documents, schemas=s.schemas)
            own = s.check_plan(plan) if s.check_plan is not None else None
            if own:  # the caller's rule found a problem
                raise PlanValidationError(str(own))
            return {"plan": plan}
        except PlanValidationError as exc:
            problem = str(exc)
            previous = candidate.model_dump() if isinstance(candidate, PlanModel) else candidate
    raise PlanError(problem, raw=previous, attempts=asks)


# --- workers -------------------------------------------------------------------------------


def work_steps(payload: WorkerInput, config: RunnableConfig, s: GraphSettings) -> Steps[Update]:
    subtask: Subtask = payload["subtask"]
    a = s.attempts
    budget = RunBudget(a.budget, payload.get("budget"), "worker")
    tier = a.tiers[0] if budget.downgraded else a.tier(payload["tier"])
    prior: list[Attempt] = list(payload.get("attempts") or [])
    task, deps = payload["task"], payload.get("dependencies") or {}
    documents = payload.get("documents") or {}
    start = s.start_tier(subtask)
    try:
        attempt = yield from attempt_steps(
            a, tier, lambda json_only: worker_messages(task, subtask, deps, json_only=json_only,
                                                       documents=documents),
            request=f"{subtask['instruction']}\n\n(Part of the task: {task[:2000]})",
            prior=prior, config=config, start=start, subtask=subtask,
            metadata={attr.SUBTASK_ID: subtask["id"]}, budget=budget, documents=documents,
        )
    except BudgetStopped:  # not started: dispatch decides what the budget mode does
        return {"budget": budget.update(stopped_at=f"worker {subtask['id']}")}
    attempts = [*prior, attempt]
    following = a.next_tier(tier.name, start)
    result = SubtaskResult(
        id=subtask["id"], attempts=attempts,
        status="done" if attempt["accepted"] else "error" if following is not None else "failed",
        output=attempt["output"] if attempt["accepted"] else None,
        tier=tier.name if attempt["accepted"] else None,
        next_tier=None if attempt["accepted"] else following)
    update: dict[str, Any] = {"results": {subtask["id"]: result}}
    if budget.budget is not None:
        update["budget"] = budget.update()
    return update


# --- scheduling and synthesis ---------------------------------------------------------------


def _budget_stop(state: TieredState, s: GraphSettings) -> bool:
    budget = state.get("budget") or {}
    return bool(budget.get("exceeded")) and s.attempts.budget is not None and \
        s.attempts.budget.stops_calls


def dispatch(state: TieredState, config: RunnableConfig, s: GraphSettings) -> dict[str, Any]:
    """The scheduler's gate: stops on failed subtasks (and, when the thread is resumed, sends
    them up the ladder again), and applies the budget's mode."""
    results = state.get("results") or {}
    failed = {k: r for k, r in results.items() if r["status"] == "failed"}
    if failed and not resuming(config):
        raise SubtaskFailedError(next(iter(failed)), results)
    if failed:
        plan = state["plan"]
        return {"results": {
            k: SubtaskResult(**{**r, "status": "error", "next_tier": s.attempts.resume_tier(
                r["attempts"], s.start_tier(find_subtask(plan, k)))})
            for k, r in failed.items()}}
    if _budget_stop(state, s):
        budget = state.get("budget") or {}
        reset = on_budget_stop(s.attempts.budget, f"stopped at {budget.get('stopped_at')}",
                               state=state, spent=budget)
        if reset is not None:
            return {"budget": reset}
    return {}


def after_planner(state: TieredState, s: GraphSettings) -> list[Send] | str:
    """Where a plan goes: its first subtasks, or `dispatch` when the budget stopped the
    planner (dispatch applies the budget's mode)."""
    if _budget_stop(state, s):
        return "dispatch"
    return route(state, s)


def after_synthesizer(state: TieredState) -> str:
    """The end, or `dispatch` when the budget stopped the synthesizer before it answered."""
    return END if state.get("answer") is not None else "dispatch"


def route(state: TieredState, s: GraphSettings) -> list[Send] | str:
    if state.get("answer") is not None or _budget_stop(state, s):
        return END  # done, or the budget stopped the run (finished work stays in the state)
    plan = state.get("plan")
    if plan is None:
        return "planner"  # resumed after a budget interrupt before planning
    results = state.get("results") or {}
    sends: list[Send] = []
    for subtask in plan["subtasks"]:
        result = results.get(subtask["id"])
        if result is None:
            if all(d in results and results[d]["status"] == "done"
                   for d in subtask["depends_on"]):
                sends.append(_send(state, subtask, s.start_tier(subtask), []))
        elif result["status"] == "error":
            tier = result["next_tier"]
            assert tier is not None, "a result with status 'error' names its next tier"
            sends.append(_send(state, subtask, tier, result["attempts"]))
    if sends:
        return sends
    if all(r["status"] == "done" for r in results.values()) and \
            len(results) == len(plan["subtasks"]):
        return "synthesizer"
    raise RuntimeError(f"tiered graph is stuck with results {sorted(results)}; please report this")


def _send(state: TieredState, subtask: Subtask, tier: str, attempts: list[Attempt]) -> Send:
    results = state.get("results") or {}
    deps = {d: results[d]["output"] for d in subtask["depends_on"]}
    documents = state.get("documents") or {}
    payload: WorkerInput = {"task": state["task"], "subtask": subtask, "tier": tier,
                            "attempts": attempts, "dependencies": deps,
                            "documents": {d: documents[d] for d in subtask["documents"]},
                            "budget": state.get("budget")}
    return Send("worker", payload)


def synthesize_steps(state: TieredState, config: RunnableConfig, s: GraphSettings) -> Steps[Update]:
    budget = s.run_budget(state, "synthesizer")
    tier = s.attempts.tiers[0] if budget.downgraded else s.synthesizer
    messages = synthesizer_messages(state["task"], state["plan"], state.get("results") or {})
    try:
        reply = yield s.attempts.call(tier, tier.chat_model, messages, config, budget)
    except BudgetStopped:
        return {"budget": budget.update()}
    answer = text_of(reply)
    update: Update = {"answer": answer}
    if state.get("messages"):  # a chat input: the answer joins the transcript
        update["messages"] = [AIMessage(answer, name=s.synthesizer.name)]
    if budget.budget:
        update["budget"] = budget.update()
    return update


# --- the graph --------------------------------------------------------------------------------


def graph_settings(
    planner: Tier,
    tiers: Sequence[Tier],
    *,
    synthesizer: Tier | None = None,
    tools: Sequence[BaseTool | Callable[..., Any]] | None = None,
    max_subtasks: int = 20,
    max_tool_rounds: int = 8,
    check_plan: Callable[[Plan], str | None] | None = None,
    schemas: Mapping[str, dict[str, Any]] | None = None,
    budget: Budget | None = None,
    verifier: Verifier | None = None,
    escalation: EscalationPolicy | None = None,
    retry_policy: RetryPolicy | None = None,
) -> GraphSettings:
    """`create_tiered_graph`'s arguments, checked (clear errors before any call)."""
    ladder = check_ladder(tiers, planner=planner, synthesizer=synthesizer)
    check_count("max_subtasks", max_subtasks)
    check_count("max_tool_rounds", max_tool_rounds)
    named = check_schemas(schemas)
    if check_plan is not None and not callable(check_plan):
        raise TypeError("check_plan must be a function taking the plan and returning a problem "
                        f"(str) or None; got {type(check_plan).__name__}.")
    return GraphSettings(
        planner=planner, synthesizer=synthesizer or planner, max_subtasks=max_subtasks,
        check_plan=check_plan, schemas=named,
        attempts=AttemptSettings(
            tiers=ladder, retry_policy=check_retry(retry_policy),
            tools=[as_tool(t) for t in tools or []], max_tool_rounds=max_tool_rounds,
            verifier=verifier, escalation=escalation or EscalationPolicy(), budget=budget,
        ),
    )


def tiered_builder(s: GraphSettings, nodes: Nodes,
                   state_schema: type[Any] = TieredState) -> StateGraph[Any, Any, Any, Any]:
    """The tiered graph's wiring, with nodes made by `nodes`."""
    reference = reference_of(s.attempts.tiers[-1])
    metadata = {
        "planner": {attr.ROLE: "planner", attr.TIER: s.planner.name, attr.REFERENCE: reference},
        "dispatch": {},
        "worker": {attr.ROLE: "worker", attr.REFERENCE: reference},
        "synthesizer": {attr.ROLE: "synthesizer", attr.TIER: s.synthesizer.name,
                        attr.REFERENCE: reference},
    }
    made = {"planner": nodes.model_node("planner", plan_steps, s),
            "dispatch": nodes.inline_node("dispatch", functools.partial(dispatch, s=s)),
            "worker": nodes.model_node("worker", work_steps, s),
            "synthesizer": nodes.model_node("synthesizer", synthesize_steps, s)}
    builder = StateGraph(state_schema, input_schema=TieredInput, output_schema=TieredOutput)
    for name, (action, extra) in made.items():
        builder.add_node(name, action, metadata={**metadata[name], **extra} or None)
    builder.add_edge(START, "planner")
    # The planner and the synthesizer run alone, so they route themselves (one superstep
    # fewer each); parallel workers meet in `dispatch`, which also applies failures and the
    # budget's mode.
    builder.add_conditional_edges(
        "planner", router(functools.partial(after_planner, s=s), "after_planner"),
        ["dispatch", "worker", END])
    builder.add_edge("worker", "dispatch")
    builder.add_conditional_edges(
        "dispatch", router(functools.partial(route, s=s), "route"),
        ["planner", "worker", "synthesizer", END])
    builder.add_conditional_edges(
        "synthesizer", router(after_synthesizer, "after_synthesizer"), ["dispatch", END])
    return builder
