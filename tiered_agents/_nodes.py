"""The bodies of the tiered graph's nodes, written once for sync and async (see `_calls`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.messages.ai import add_usage
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.errors import GraphBubbleUp
from langgraph.runtime import get_runtime
from langgraph.types import RetryPolicy, Send

from tiered_agents import attributes as attr
from tiered_agents._calls import Call, Limiter, Steps, run_async, run_sync
from tiered_agents._json import extract_json
from tiered_agents.errors import PlanError, SubtaskFailedError, TieredAgentsError
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
    """Everything the nodes need, resolved once when the graph is built."""

    planner: Tier
    tiers: list[Tier]
    synthesizer: Tier
    tools: list[BaseTool]
    max_subtasks: int
    max_tool_rounds: int
    retry_policy: RetryPolicy
    limiters: dict[str, Limiter] = field(default_factory=dict)
    with_tools: dict[str, Runnable[Any, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for tier in {t.name: t for t in [*self.tiers, self.planner, self.synthesizer]}.values():
            if tier.max_concurrency is not None:
                self.limiters[tier.name] = Limiter(tier.max_concurrency)
        if self.tools:
            for tier in self.tiers:
                try:
                    self.with_tools[tier.name] = tier.model.bind_tools(self.tools)
                except NotImplementedError:
                    raise ValueError(
                        f"Tier {tier.name!r} ({tier.model_name}) cannot bind tools, but tools= "
                        "was given. Use models that support tool calling on every worker tier, "
                        "or drop tools=."
                    ) from None

    @property
    def node_retry_policy(self) -> RetryPolicy:
        """The user's policy, minus our own errors (a bad plan is not transient)."""
        return self.retry_policy._replace(retry_on=lambda exc: _retryable(self.retry_policy, exc))

    @property
    def tier_names(self) -> list[str]:
        return [t.name for t in self.tiers]

    def tier(self, name: str) -> Tier:
        for tier in self.tiers:
            if tier.name == name:
                return tier
        raise KeyError(name)

    def next_tier(self, name: str) -> str | None:
        names = self.tier_names
        index = names.index(name)
        return names[index + 1] if index + 1 < len(names) else None

    def reference(self) -> dict[str, Any]:
        top = self.tiers[-1]
        return reference_of(top)

    def call(self, tier: Tier, runnable: Runnable[Any, Any], messages: Any,
             config: RunnableConfig, **metadata: Any) -> Call:
        meta: dict[str, Any] = {attr.TIER: tier.name, **metadata}
        if tier.price is not None:
            meta[attr.PRICE] = tier.price.to_dict()
        merged = {**config, "metadata": {**(config.get("metadata") or {}), **meta}}
        return Call(runnable, messages, merged, self.limiters.get(tier.name))


def reference_of(tier: Tier) -> dict[str, Any]:
    """The metadata that tells a tracer what the frontier tier costs."""
    return {
        "tier": tier.name,
        "model": tier.model_name,
        "provider": model_provider(tier.model),
        "price": tier.price.to_dict() if tier.price is not None else None,
    }


def text_of(message: Any) -> str:
    if isinstance(message, BaseMessage):
        return message.text if isinstance(message.text, str) else str(message.content)
    return str(message)


def _structured(model: BaseChatModel, schema: Any) -> Runnable[Any, Any] | None:
    try:
        return model.with_structured_output(schema, include_raw=True)
    except (NotImplementedError, ValueError, TypeError):
        return None


# --- planner -------------------------------------------------------------------------------


def plan_steps(state: TieredState, config: RunnableConfig, s: GraphSettings) -> Steps[dict]:
    task = state["task"]
    structured = _structured(s.planner.model, Plan)
    problem = "no plan"
    previous: Any = None
    asks = 0
    for _ in range(MAX_PLAN_RETRIES + 1):
        messages = planner_messages(
            task, s.tiers, max_subtasks=s.max_subtasks, json_only=structured is None
        )
        if previous is not None:
            messages.append(replan_message(previous, problem))
        candidate: Any = None
        if structured is not None:
            try:
                out = yield s.call(s.planner, structured, messages, config)
                asks += 1
                candidate = out.get("parsed")
                if candidate is None and out.get("raw") is not None:
                    candidate = parse_plan(text_of(out["raw"]))  # JSON written as text
            except (NotImplementedError, PlanValidationError):
                candidate = None
            if candidate is None:
                # Structured output unsupported or unparsable: ask for JSON in plain text.
                structured = None
                messages = planner_messages(
                    task, s.tiers, max_subtasks=s.max_subtasks, json_only=True
                )
                if previous is not None:
                    messages.append(replan_message(previous, problem))
        if candidate is None:
            reply = yield s.call(s.planner, s.planner.model, messages, config)
            asks += 1
            candidate = text_of(reply)
        try:
            plan = validate_plan(
                parse_plan(candidate), tiers=s.tier_names, max_subtasks=s.max_subtasks
            )
            return {"plan": plan}
        except PlanValidationError as exc:
            problem = str(exc)
            previous = candidate.model_dump() if isinstance(candidate, Plan) else candidate
    raise PlanError(problem, raw=previous, attempts=asks)


# --- workers -------------------------------------------------------------------------------


def _retryable(policy: RetryPolicy, exc: Exception) -> bool:
    if isinstance(exc, TieredAgentsError):
        return False
    retry_on = policy.retry_on
    if isinstance(retry_on, type):
        return isinstance(exc, retry_on)
    if isinstance(retry_on, Sequence):
        return isinstance(exc, tuple(retry_on))
    return bool(retry_on(exc))


def _node_attempt() -> int:
    try:
        info = get_runtime().execution_info
    except Exception:
        return 1
    return info.node_attempt if info is not None else 1


def _tool_loop(
    s: GraphSettings, tier: Tier, messages: list[BaseMessage], config: RunnableConfig,
    seen: list[AIMessage], meta: dict[str, Any],
) -> Steps[AIMessage]:
    tools = {t.name: t for t in s.tools}
    bound = s.with_tools[tier.name]
    for _ in range(s.max_tool_rounds):
        reply = yield s.call(tier, bound, messages, config, **meta)
        seen.append(reply)
        messages = [*messages, reply]
        if not reply.tool_calls:
            return reply
        for tool_call in reply.tool_calls:
            tool = tools.get(tool_call["name"])
            if tool is None:
                result: Any = ToolMessage(
                    f"Unknown tool {tool_call['name']!r}; available: {sorted(tools)}",
                    tool_call_id=tool_call["id"], status="error",
                )
            else:
                try:
                    result = yield Call(tool, tool_call, config)
                except GraphBubbleUp:
                    raise
                except Exception as exc:
                    result = ToolMessage(f"Tool error: {exc!r}", tool_call_id=tool_call["id"],
                                         status="error")
            messages.append(result)
    messages.append(HumanMessage("The tool budget is used up. Give your final answer now."))
    reply = yield s.call(tier, tier.model, messages, config, **meta)
    seen.append(reply)
    return reply


def _produce(
    s: GraphSettings, tier: Tier, task: str, subtask: Subtask, deps: dict[str, Any],
    config: RunnableConfig, seen: list[AIMessage], meta: dict[str, Any],
) -> Steps[Any]:
    schema = subtask.expected_output
    if s.tools:
        messages = worker_messages(task, subtask, deps, json_only=schema is not None)
        reply = yield from _tool_loop(s, tier, messages, config, seen, meta)
        return text_of(reply) if schema is None else extract_json(text_of(reply))
    if schema is not None:
        titled = {"title": "subtask_output", "description": subtask.instruction[:200], **schema}
        structured = _structured(tier.model, titled)
        if structured is not None:
            messages = worker_messages(task, subtask, deps, json_only=False)
            try:
                out = yield s.call(tier, structured, messages, config, **meta)
            except NotImplementedError:
                out = None
            if out is not None:
                if out.get("raw") is not None:
                    seen.append(out["raw"])
                if out.get("parsed") is not None:
                    return out["parsed"]
                return extract_json(text_of(out["raw"]))
    messages = worker_messages(task, subtask, deps, json_only=schema is not None)
    reply = yield s.call(tier, tier.model, messages, config, **meta)
    seen.append(reply)
    return text_of(reply) if schema is None else extract_json(text_of(reply))


def _check(output: Any, subtask: Subtask) -> None:
    if subtask.expected_output is None:
        if not str(output).strip():
            raise ValueError("the model returned an empty answer")
        return
    try:
        jsonschema.validate(output, subtask.expected_output)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "the output"
        raise ValueError(f"output does not satisfy expected_output at {where}: {exc.message}"
                         ) from None
    except jsonschema.SchemaError as exc:
        raise ValueError(f"the plan's expected_output is not a valid JSON schema: {exc.message}"
                         ) from None


def work_steps(payload: dict[str, Any], config: RunnableConfig, s: GraphSettings) -> Steps[dict]:
    subtask: Subtask = payload["subtask"]
    tier = s.tier(payload["tier"])
    prior: list[Attempt] = list(payload.get("attempts") or [])
    number = len(prior) + 1
    meta = {attr.SUBTASK_ID: subtask.id, attr.ATTEMPT: number}
    seen: list[AIMessage] = []
    output: Any = None
    error: str | None = None
    try:
        output = yield from _produce(
            s, tier, payload["task"], subtask, payload.get("dependencies") or {}, config, seen, meta
        )
        _check(output, subtask)
    except GraphBubbleUp:
        raise
    except Exception as exc:
        if _retryable(s.retry_policy, exc) and _node_attempt() < s.retry_policy.max_attempts:
            raise  # LangGraph's RetryPolicy runs this attempt again
        error = f"{type(exc).__name__}: {exc}"
    usage: dict[str, int] = {}
    for message in seen:
        if getattr(message, "usage_metadata", None):
            usage = dict(add_usage(usage or None, message.usage_metadata))  # type: ignore[arg-type]
    names = [m.response_metadata.get("model_name") for m in seen if m.response_metadata]
    attempt = Attempt(
        number=number, tier=tier.name,
        model=next((n for n in names if n), tier.model_name),
        output=output if error is None else None, error=error,
        usage={k: v for k, v in usage.items() if isinstance(v, int)},
    )
    attempts = [*prior, attempt]
    if error is None:
        result = SubtaskResult(id=subtask.id, status="done", output=output, tier=tier.name,
                               attempts=attempts)
    else:
        status = "error" if s.next_tier(tier.name) is not None else "failed"
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
                tier = subtask.tier or s.tiers[0].name
                sends.append(_send(state, subtask, tier, []))
        elif result.status == "error":
            tier = s.next_tier(result.attempts[-1].tier)
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
    reply = yield s.call(s.synthesizer, s.synthesizer.model, messages, config)
    return {"answer": text_of(reply)}


def node_pair(
    body: Callable[[Any, RunnableConfig, GraphSettings], Steps[dict]], s: GraphSettings
) -> tuple[Callable[..., dict], Callable[..., Any]]:
    """The sync and async node functions that drive one shared body."""
    def sync(state: Any, config: RunnableConfig) -> dict:
        return run_sync(body(state, config, s))

    async def asynchronous(state: Any, config: RunnableConfig) -> dict:
        return await run_async(body(state, config, s))

    return sync, asynchronous

