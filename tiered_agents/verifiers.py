"""Verifiers judge one answer: is it good enough, or should a stronger tier try?

Each verifier's body is written once (a generator of model calls, see `_calls`) and runs
sync (`verify`) or async (`averify`). Model calls a verifier makes are tagged with the
`verify` role, so the tracer reports what verification cost.
"""

from __future__ import annotations

import inspect
import json
import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig, RunnableLambda

from tiered_agents import attributes as attr
from tiered_agents._calls import Call, Steps, run_async, run_sync
from tiered_agents._json import extract_json
from tiered_agents.plan import Subtask
from tiered_agents.tiers import Tier, model_provider

__all__ = [
    "ConfidenceVerifier",
    "FunctionVerifier",
    "JudgeVerifier",
    "SchemaVerifier",
    "SelfCheckVerifier",
    "Verdict",
    "Verifier",
    "VerifyContext",
    "logprob_confidence",
]


@dataclass(frozen=True)
class Verdict:
    """A verifier's judgement of one answer."""

    passed: bool
    """Whether the answer is good enough by the verifier's own threshold."""
    score: float | None = None
    """The signal behind it (a log-probability, P(yes), a grade), for calibrated thresholds."""
    reason: str = ""
    """Why, in a few words."""


@dataclass(frozen=True)
class VerifyContext:
    """What a verifier sees."""

    request: str
    """The question or subtask instruction the answer responds to."""
    answer: Any
    """The answer: text, or parsed JSON for subtasks with an expected_output."""
    tier: Tier
    """The tier that produced the answer."""
    message: AIMessage | None = None
    """The model's raw reply (log-probabilities live in its response_metadata)."""
    subtask: Subtask | None = None
    """The plan's subtask, in a tiered graph."""
    config: RunnableConfig = field(default_factory=dict)  # type: ignore[assignment]
    """The node's config; verifier model calls run under it with the `verify` role."""
    budget: Any = None
    """The run's budget (internal): verifier model calls are checked and counted by it."""


def _verify_call(tier: Tier, messages: Any, ctx: VerifyContext, **bind: Any) -> Call:
    config = ctx.config or {}
    metadata = {**(config.get("metadata") or {}), attr.ROLE: "verify", attr.TIER: tier.name}
    if tier.price is not None:
        metadata[attr.PRICE] = tier.price.to_dict()
    model = tier.model.bind(**bind) if bind else tier.model
    hooks = ctx.budget.hooks(tier.model_name, model_provider(tier.model), tier.price) \
        if ctx.budget is not None else {}
    return Call(model, messages, {**config, "metadata": metadata}, **hooks)


class Verifier(ABC):
    """Base class: implement `steps`; `verify` and `averify` drive it."""

    @abstractmethod
    def steps(self, ctx: VerifyContext) -> Steps[Verdict]:
        """The verification, yielding the model or function calls it needs."""

    def verify(self, ctx: VerifyContext) -> Verdict:
        return run_sync(self.steps(ctx))

    async def averify(self, ctx: VerifyContext) -> Verdict:
        return await run_async(self.steps(ctx))


def _done(verdict: Verdict) -> Steps[Verdict]:
    return verdict
    yield  # pragma: no cover - makes this a generator


class SchemaVerifier(Verifier):
    """Passes when the answer satisfies the subtask's `expected_output` JSON schema."""

    def __init__(self, schema: dict[str, Any] | None = None) -> None:
        self.schema = schema

    def steps(self, ctx: VerifyContext) -> Steps[Verdict]:
        schema = self.schema or (ctx.subtask.expected_output if ctx.subtask else None)
        if schema is None:
            return (yield from _done(Verdict(True, None, "no schema to check")))
        answer = ctx.answer
        if isinstance(answer, str):
            try:
                answer = extract_json(answer)
            except ValueError as exc:
                return (yield from _done(Verdict(False, 0.0, str(exc))))
        try:
            jsonschema.validate(answer, schema)
        except jsonschema.ValidationError as exc:
            return (yield from _done(Verdict(False, 0.0, exc.message)))
        return (yield from _done(Verdict(True, 1.0, "matches the schema")))


def logprob_confidence(message: AIMessage | None) -> float | None:
    """Mean token log-probability of a reply (OpenAI-style `logprobs` in response_metadata)."""
    if message is None:
        return None
    logprobs = (message.response_metadata or {}).get("logprobs")
    content = logprobs.get("content") if isinstance(logprobs, dict) else logprobs
    values = [float(t["logprob"]) for t in content or []
              if isinstance(t, dict) and isinstance(t.get("logprob"), (int, float))]
    return sum(values) / len(values) if values else None


_WARNED_NO_LOGPROBS: set[str] = set()


class ConfidenceVerifier(Verifier):
    """Passes when the model's mean token log-probability is at least `threshold` (<= 0).

    Needs log-probabilities from the provider, e.g. `ChatOpenAI(logprobs=True)`.
    """

    def __init__(self, threshold: float = -0.2) -> None:
        if threshold > 0:
            raise ValueError(f"A log-probability threshold is <= 0, got {threshold}.")
        self.threshold = threshold

    def steps(self, ctx: VerifyContext) -> Steps[Verdict]:
        score = logprob_confidence(ctx.message)
        if score is None:
            if ctx.tier.name not in _WARNED_NO_LOGPROBS:
                _WARNED_NO_LOGPROBS.add(ctx.tier.name)
                warnings.warn(f"Tier {ctx.tier.name!r} returned no log-probabilities, so "
                              "ConfidenceVerifier escalates all its answers; enable them "
                              "(e.g. ChatOpenAI(logprobs=True)).", stacklevel=2)
            return (yield from _done(Verdict(False, None, "no log-probabilities returned")))
        return (yield from _done(Verdict(score >= self.threshold, score,
                                         f"mean log-probability {score:.3f}")))


_SELF_CHECK = ("Here is a request and an answer to it.\n\nRequest:\n{request}\n\nAnswer:\n"
               "{answer}\n\nIs the answer correct and complete? Reply with Y or N only.")


class SelfCheckVerifier(Verifier):
    """Asks the answering tier whether its answer is correct (Y/N).

    The score is log P(Y) from the reply's log-probabilities when the provider returns them
    (the call asks for `logprobs`), else 0.0 for Y and -inf for N.
    """

    def __init__(self, threshold: float = math.log(0.8)) -> None:
        self.threshold = threshold

    def steps(self, ctx: VerifyContext) -> Steps[Verdict]:
        prompt = _SELF_CHECK.format(request=ctx.request, answer=_render(ctx.answer))
        reply = yield _verify_call(ctx.tier, [HumanMessage(prompt)], ctx)
        text = reply.text.strip().upper() if isinstance(reply.text, str) else ""
        said_yes = text.startswith("Y")
        score = _logprob_of_yes(reply)
        if score is None:
            score = 0.0 if said_yes else -math.inf
        return Verdict(score >= self.threshold, score, f"self-check said {text[:1] or '?'}")


def _logprob_of_yes(reply: AIMessage) -> float | None:
    logprobs = (reply.response_metadata or {}).get("logprobs")
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not content:
        return None
    first = content[0]
    candidates = [first, *(first.get("top_logprobs") or [])]
    yes = [c["logprob"] for c in candidates
           if isinstance(c, dict) and str(c.get("token", "")).strip().upper().startswith("Y")]
    return max(yes) if yes else -math.inf


def _render(answer: Any) -> str:
    return answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)


_JUDGE = ("You grade answers. Request:\n{request}\n\n{acceptance}Answer to grade:\n{answer}\n\n"
          'Reply with JSON only: {{"score": <0-10>, "reason": "<one sentence>"}}, where 10 '
          "means fully correct and complete and 0 means wrong.")


class JudgeVerifier(Verifier):
    """A stronger tier grades the answer against the request and the subtask's `acceptance`.

    Reading an answer is cheaper than rewriting it. Passes when score/10 >= `threshold`.
    """

    def __init__(self, tier: Tier, threshold: float = 0.7) -> None:
        self.tier = tier
        self.threshold = threshold

    def steps(self, ctx: VerifyContext) -> Steps[Verdict]:
        acceptance = ""
        if ctx.subtask is not None and ctx.subtask.acceptance:
            acceptance = f"A good answer: {ctx.subtask.acceptance}\n\n"
        prompt = _JUDGE.format(request=ctx.request, acceptance=acceptance,
                               answer=_render(ctx.answer))
        reply = yield _verify_call(self.tier, [SystemMessage("You are a strict grader."),
                                               HumanMessage(prompt)], ctx)
        try:
            graded = extract_json(reply.text)
            score = float(graded["score"]) / 10
            reason = str(graded.get("reason", ""))
        except (ValueError, KeyError, TypeError):
            return Verdict(False, None, f"the judge's reply did not parse: {reply.text[:80]!r}")
        return Verdict(score >= self.threshold, score, reason)


VerifierFunction = Callable[[VerifyContext], "bool | Verdict | Awaitable[bool | Verdict]"]


class FunctionVerifier(Verifier):
    """User code decides, for instance by running unit tests on generated code.

    `fn(ctx)` returns a bool or a `Verdict`; it may be `async`.
    """

    def __init__(self, fn: VerifierFunction, *, name: str | None = None) -> None:
        self.fn = fn
        label = name or getattr(fn, "__name__", "verifier")
        if inspect.iscoroutinefunction(fn):
            async def afunc(ctx: VerifyContext) -> Any:
                return await fn(ctx)

            def func(ctx: VerifyContext) -> Any:
                raise TypeError(f"{label} is async: run the graph with ainvoke/astream.")

            self._runnable = RunnableLambda(func, afunc=afunc, name=label)
        else:
            self._runnable = RunnableLambda(fn, name=label)

    def steps(self, ctx: VerifyContext) -> Steps[Verdict]:
        config: RunnableConfig = {**(ctx.config or {}), "metadata": {
            **((ctx.config or {}).get("metadata") or {}), attr.ROLE: "verify"}}
        result = yield Call(self._runnable, ctx, config)
        if isinstance(result, Verdict):
            return result
        return Verdict(bool(result), 1.0 if result else 0.0,
                       "accepted by function" if result else "rejected by function")
