"""One attempt on one tier: produce an answer, check it, verify it, decide.

Shared by the tiered graph's workers and the cascade, sync and async alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from langchain_core.callbacks import (
    BaseCallbackManager,
    adispatch_custom_event,
    dispatch_custom_event,
)
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.messages.ai import add_usage
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.errors import GraphBubbleUp
from langgraph.types import RetryPolicy

import tiered_agents.attributes as attr
from tiered_agents._budget import RunBudget
from tiered_agents._calls import Call, Limiter, Steps, model_call, text_of
from tiered_agents._json import clip, extract_json
from tiered_agents.budget import Budget
from tiered_agents.errors import BudgetStopped
from tiered_agents.escalation import EscalationPolicy, normalize_answer
from tiered_agents.plan import Subtask
from tiered_agents.state import Attempt
from tiered_agents.tiers import Tier
from tiered_agents.verifiers import Verifier, VerifyContext, run_verifier

__all__ = ["AttemptSettings", "attempt_steps", "structured"]


def structured(model: Any, schema: Any) -> Runnable[Any, Any] | None:
    """`model.with_structured_output(schema, include_raw=True)`, or `None` for models that
    do not support it (many raise `NotImplementedError`): callers then ask for JSON in text."""
    try:
        bound: Runnable[Any, Any] = model.with_structured_output(schema, include_raw=True)
        return bound
    except (NotImplementedError, ValueError, TypeError):
        return None


@dataclass
class AttemptSettings:
    """The tiers and rules attempts run with, resolved once per graph."""

    tiers: list[Tier]
    retry_policy: RetryPolicy
    tools: list[BaseTool] = field(default_factory=list)
    max_tool_rounds: int = 8
    verifier: Verifier | None = None
    escalation: EscalationPolicy = field(default_factory=EscalationPolicy)
    budget: Budget | None = None
    limiters: dict[str, Limiter] = field(default_factory=dict)
    with_tools: dict[str, Runnable[Any, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.escalation.ladder(self.tier_names)  # names unknown tiers now, not mid-run
        if self.tools:
            for tier in self.tiers:
                try:
                    self.with_tools[tier.name] = tier.chat_model.bind_tools(self.tools)
                except NotImplementedError:
                    raise ValueError(
                        f"Tier {tier.name!r} ({tier.model_name}) cannot bind tools, but tools= "
                        "was given. Use models that support tool calling on every worker tier, "
                        "or drop tools=."
                    ) from None

    @property
    def tier_names(self) -> list[str]:
        return [t.name for t in self.tiers]

    def tier(self, name: str) -> Tier:
        for tier in self.tiers:
            if tier.name == name:
                return tier
        raise KeyError(name)

    def ladder(self, start: str | None = None) -> list[str]:
        return self.escalation.ladder(self.tier_names, start)

    def next_tier(self, current: str, start: str | None = None) -> str | None:
        ladder = self.ladder(start)
        if current not in ladder:
            return None
        index = ladder.index(current)
        return ladder[index + 1] if index + 1 < len(ladder) else None

    def resume_tier(self, attempts: Sequence[Attempt], start: str | None = None) -> str:
        """Where a failed request or subtask climbs again when its thread is resumed: the tier
        after the last one that answered (its answer stands, so it is not paid again), or the
        start of the ladder when none did (every call failed, e.g. a provider outage)."""
        ladder = self.ladder(start)
        answered = [a["tier"] for a in attempts if not a["call_failed"] and a["tier"] in ladder]
        if answered:
            after = self.next_tier(answered[-1], start)
            if after is not None:
                return after
        return ladder[0]

    def limit(self, tier: Tier) -> None:
        if tier.max_concurrency is not None and tier.name not in self.limiters:
            self.limiters[tier.name] = Limiter(tier.max_concurrency)

    def call(self, tier: Tier, runnable: Runnable[Any, Any], messages: Any,
             config: RunnableConfig, budget: RunBudget | None = None, **metadata: Any) -> Call:
        """`model_call` with this graph's concurrency limit for `tier` and its retry policy."""
        return model_call(tier, runnable, messages, config, budget=budget,
                          limiter=self.limiters.get(tier.name), metadata=metadata,
                          retry=self.retry_policy)


class _Outcome(Runnable[dict[str, Any], None]):
    """Announces an attempt's outcome to callbacks (`attributes.OUTCOME_EVENT`) on the node's
    own run, so a tracker can count the accepted attempt's calls in its frontier baseline.
    Runs no model and starts no run of its own; telemetry never breaks the run."""

    def invoke(self, input: dict[str, Any], config: RunnableConfig | None = None,
               **kwargs: Any) -> None:
        if not _listened(config):
            return
        try:
            dispatch_custom_event(attr.OUTCOME_EVENT, input, config=config)
        except RuntimeError:  # no parent run (called outside a graph): nobody to tell
            pass

    async def ainvoke(self, input: dict[str, Any], config: RunnableConfig | None = None,
                      **kwargs: Any) -> None:
        if not _listened(config):
            return
        try:
            await adispatch_custom_event(attr.OUTCOME_EVENT, input, config=config)
        except RuntimeError:
            pass


def _listened(config: RunnableConfig | None) -> bool:
    """Whether any callback handler would hear an event sent under `config` (an event costs a
    callback manager's set-up even when none would)."""
    callbacks = (config or {}).get("callbacks")
    if isinstance(callbacks, BaseCallbackManager):
        return bool(callbacks.handlers or callbacks.inheritable_handlers)
    return bool(callbacks)


_OUTCOME = _Outcome()

Messages = Callable[[bool], list[BaseMessage]]
"""Builds the prompt; the flag asks for "reply with JSON only" wording."""


def _tool_loop(s: AttemptSettings, tier: Tier, messages: list[BaseMessage], *,
               config: RunnableConfig, seen: list[AIMessage], meta: dict[str, Any],
               budget: RunBudget | None) -> Steps[AIMessage]:
    tools = {t.name: t for t in s.tools}
    bound = s.with_tools[tier.name]
    for _ in range(s.max_tool_rounds):
        reply: AIMessage = yield s.call(tier, bound, messages, config, budget, **meta)
        seen.append(reply)
        messages = [*messages, reply]
        if not reply.tool_calls:
            return reply
        for tool_call in reply.tool_calls:
            tool = tools.get(tool_call["name"])
            if tool is None:
                result: Any = ToolMessage(
                    f"Unknown tool {tool_call['name']!r}; available: {sorted(tools)}",
                    tool_call_id=tool_call["id"], status="error")
            else:
                try:
                    result = yield Call(tool, tool_call, config)
                except (GraphBubbleUp, BudgetStopped):
                    raise
                except Exception as exc:
                    result = ToolMessage(f"Tool error: {exc!r}", tool_call_id=tool_call["id"],
                                         status="error")
            messages.append(result)
    messages.append(HumanMessage("The tool budget is used up. Give your final answer now."))
    final: AIMessage = yield s.call(tier, tier.chat_model, messages, config, budget, **meta)
    seen.append(final)
    return final


def _produce(s: AttemptSettings, tier: Tier, messages: Messages, *,
             schema: dict[str, Any] | None, instruction: str, config: RunnableConfig,
             seen: list[AIMessage], meta: dict[str, Any], budget: RunBudget | None
             ) -> Steps[Any]:
    if s.tools:
        reply = yield from _tool_loop(s, tier, messages(schema is not None), config=config,
                                      seen=seen, meta=meta, budget=budget)
        return text_of(reply) if schema is None else extract_json(text_of(reply))
    if schema is not None:
        titled = {"title": "subtask_output", "description": instruction[:200], **schema}
        bound = structured(tier.chat_model, titled)
        if bound is not None:
            try:
                out = yield s.call(tier, bound, messages(False), config, budget, **meta)
            except NotImplementedError:
                out = None
            if out is not None:
                if out.get("raw") is not None:
                    seen.append(out["raw"])
                if out.get("parsed") is not None:
                    return out["parsed"]
                return extract_json(text_of(out["raw"]))
    reply = yield s.call(tier, tier.chat_model, messages(schema is not None), config, budget,
                         **meta)
    seen.append(reply)
    return text_of(reply) if schema is None else extract_json(text_of(reply))


def _check(output: Any, schema: dict[str, Any] | None) -> None:
    """Raise `ValueError` (an answer problem, never retried) when `output` is empty or breaks
    `schema`; a schema that cannot be used is one too (plans are checked when validated, so
    this is a last line of defence)."""
    if schema is None:
        if not str(output).strip():
            raise ValueError("the model returned an empty answer")
        return
    try:
        jsonschema.validate(output, schema)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "the output"
        raise ValueError(f"output does not satisfy expected_output at {clip(where, 80)}: "
                         f"{clip(exc.message, 300)}") from None
    except Exception as exc:  # SchemaError, unresolvable $ref, recursion: not the answer's fault
        raise ValueError(f"the plan's expected_output cannot be checked ({type(exc).__name__}); "
                         "fix the schema") from None


def attempt_steps(
    s: AttemptSettings,
    tier: Tier,
    messages: Messages,
    *,
    request: str,
    prior: Sequence[Attempt],
    config: RunnableConfig,
    start: str | None = None,
    subtask: Subtask | None = None,
    metadata: dict[str, Any] | None = None,
    budget: RunBudget | None = None,
    documents: Mapping[str, str] | None = None,
) -> Steps[Attempt]:
    """Run one attempt on `tier` and decide whether its answer is accepted.

    Errors and schema violations reject it (a failed call after its retries, as `call_failed`).
    The ladder's last tier (or the policy's last allowed attempt) is accepted as is. Otherwise
    an answer that agrees with an earlier tier's (where the policy allows) is accepted, and
    then the verifier decides, with the policy's threshold for this tier. No verifier: every
    answer without an error is accepted.
    """
    schema = subtask["expected_output"] if subtask is not None else None
    number = len(prior) + 1
    answered = [a for a in prior if not a["call_failed"]]  # what the policy counts
    meta = {attr.ATTEMPT: number, **(metadata or {})}
    seen: list[AIMessage] = []
    output: Any = None
    error: str | None = None
    call_failed = False
    try:
        output = yield from _produce(s, tier, messages, schema=schema, instruction=request,
                                     config=config, seen=seen, meta=meta, budget=budget)
        _check(output, schema)
    except (GraphBubbleUp, BudgetStopped):
        raise
    except Exception as exc:  # the call's retries are spent (`Call.retry`), or a bad answer
        error = f"{type(exc).__name__}: {clip(str(exc), 2000)}"
        call_failed = not isinstance(exc, ValueError)  # parse and schema errors are ValueErrors

    accepted, score, reason = False, None, error
    if error is None:
        policy = s.escalation
        last = s.next_tier(tier.name, start) is None or (
            policy.max_attempts is not None and len(answered) + 1 >= policy.max_attempts) or (
            budget is not None and budget.downgraded)
        earlier = {normalize_answer(a["output"]) for a in answered if a["output"] is not None}
        if last:
            accepted, reason = True, ("budget reached: escalation stopped"
                                      if budget is not None and budget.downgraded
                                      else "last tier of the ladder")
        elif tier.name in policy.accept_on_agreement and normalize_answer(output) in earlier:
            accepted, reason = True, "agrees with an earlier tier"
        elif s.verifier is None:
            accepted, reason = True, "no verifier"
        else:
            verify_config: RunnableConfig = {**config, "metadata": {
                **(config.get("metadata") or {}), attr.ROLE: "verify"}}
            context = VerifyContext(request=request, answer=output, tier=tier,
                                    message=seen[-1] if seen else None, subtask=subtask,
                                    documents=dict(documents or {}), config=verify_config)
            verdict = yield from run_verifier(s.verifier, context, budget, s.retry_policy)
            accepted = policy.accepts(tier.name, verdict.passed, verdict.score)
            score, reason = verdict.score, verdict.reason

    yield Call(_OUTCOME, {"accepted": accepted, "attempt": number, "tier": tier.name,
                          "subtask_id": subtask["id"] if subtask is not None else None}, config)
    usage: dict[str, int] = {}
    for message in seen:
        if getattr(message, "usage_metadata", None):
            usage = dict(add_usage(usage or None, message.usage_metadata))  # type: ignore[arg-type]
    names = [m.response_metadata.get("model_name") for m in seen if m.response_metadata]
    return Attempt(
        number=number, tier=tier.name, model=next((n for n in names if n), tier.model_name),
        output=output if error is None else None, error=error, accepted=accepted, score=score,
        reason=reason, call_failed=call_failed,
        usage={k: v for k, v in usage.items() if isinstance(v, int)},
    )
