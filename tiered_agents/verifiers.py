"""Verifiers judge one answer: is it good enough, or should a stronger tier try?

A verifier implements `check(ctx) -> Verdict`, and `acheck` when it does I/O that should not
block an event loop. The graphs run a custom verifier's `check` as a LangChain runnable under
the node's config with the `verify` role (in a worker thread under `ainvoke` unless `acheck`
is overridden), so model calls it makes with `ctx.config` are attributed to a `verify` node.

Example:
    ```python
    class HasCitation(Verifier):
        def check(self, ctx: VerifyContext) -> Verdict:
            ok = "[1]" in str(ctx.answer)
            return Verdict(ok, 1.0 if ok else 0.0, "cites a source" if ok else "no citation")
    ```
"""

from __future__ import annotations

import asyncio
import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langgraph.types import RetryPolicy

import tiered_agents.attributes as attr
from tiered_agents._budget import RunBudget
from tiered_agents._calls import Call, Steps, model_call, run_async, run_sync
from tiered_agents._json import extract_json
from tiered_agents._warn import warn
from tiered_agents.plan import Subtask
from tiered_agents.prompts import judge_messages, self_check_messages
from tiered_agents.retry import default_retry_policy
from tiered_agents.tiers import Tier

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
    documents: Mapping[str, str] = field(default_factory=dict)
    """The documents the subtask names (by name), for checks against the sources."""
    config: RunnableConfig = field(default_factory=dict)  # type: ignore[assignment]
    """The node's config with the `verify` role: pass it to model calls the verifier makes so
    their cost is attributed to verification."""


class Verifier(ABC):
    """Base class: implement `check`; override `acheck` for non-blocking async I/O."""

    @abstractmethod
    def check(self, ctx: VerifyContext) -> Verdict:
        """Judge `ctx.answer`."""

    async def acheck(self, ctx: VerifyContext) -> Verdict:
        """Async `check`; by default runs `check` in a worker thread."""
        return await asyncio.to_thread(self.check, ctx)


class _ModelVerifier(Verifier):
    """A built-in verifier that calls a model: its body is a generator of calls, so the graphs
    hold those calls to the run's budget and concurrency limits."""

    @abstractmethod
    def steps(self, ctx: VerifyContext, budget: RunBudget | None,
              retry: RetryPolicy | None = None) -> Steps[Verdict]:
        """The verification, yielding the model calls it needs (each retried by `retry`)."""

    def check(self, ctx: VerifyContext) -> Verdict:
        return run_sync(self.steps(ctx, None, default_retry_policy()))

    async def acheck(self, ctx: VerifyContext) -> Verdict:
        return await run_async(self.steps(ctx, None, default_retry_policy()))


def _verify_metadata() -> dict[str, Any]:
    return {attr.ROLE: "verify"}


class _InlineVerifier(Verifier):
    """A built-in verifier that only reads the answer: the graphs call `check` inline."""


class SchemaVerifier(_InlineVerifier):
    """Passes when the answer satisfies the subtask's `expected_output` JSON schema."""

    def __init__(self, schema: dict[str, Any] | None = None) -> None:
        self.schema = schema

    def check(self, ctx: VerifyContext) -> Verdict:
        schema = self.schema or (ctx.subtask["expected_output"] if ctx.subtask else None)
        if schema is None:
            return Verdict(True, None, "no schema to check")
        answer = ctx.answer
        if isinstance(answer, str):
            try:
                answer = extract_json(answer)
            except ValueError as exc:
                return Verdict(False, 0.0, str(exc))
        try:
            jsonschema.validate(answer, schema)
        except jsonschema.ValidationError as exc:
            return Verdict(False, 0.0, exc.message)
        return Verdict(True, 1.0, "matches the schema")


def logprob_confidence(message: AIMessage | None) -> float | None:
    """Mean token log-probability of a reply (OpenAI-style `logprobs` in response_metadata)."""
    if message is None:
        return None
    logprobs = (message.response_metadata or {}).get("logprobs")
    content = logprobs.get("content") if isinstance(logprobs, dict) else logprobs
    values = [float(t["logprob"]) for t in content or []
              if isinstance(t, dict) and isinstance(t.get("logprob"), (int, float))]
    return sum(values) / len(values) if values else None


class ConfidenceVerifier(_InlineVerifier):
    """Passes when the model's mean token log-probability is at least `threshold` (<= 0).

    Needs log-probabilities from the provider, e.g. `ChatOpenAI(logprobs=True)`; without them
    every answer escalates, with one warning per tier.
    """

    def __init__(self, threshold: float = -0.2) -> None:
        if threshold > 0:
            raise ValueError(f"A log-probability threshold is <= 0, got {threshold}.")
        self.threshold = threshold
        self._warned: set[str] = set()

    def check(self, ctx: VerifyContext) -> Verdict:
        score = logprob_confidence(ctx.message)
        if score is None:
            if ctx.tier.name not in self._warned:
                self._warned.add(ctx.tier.name)
                warn(f"Tier {ctx.tier.name!r} returned no log-probabilities, so "
                     "ConfidenceVerifier escalates all its answers; enable them "
                     "(e.g. ChatOpenAI(logprobs=True)).", UserWarning)
            return Verdict(False, None, "no log-probabilities returned")
        return Verdict(score >= self.threshold, score, f"mean log-probability {score:.3f}")


class SelfCheckVerifier(_ModelVerifier):
    """Asks the answering tier whether its answer is correct (Y/N).

    The score is log P(Y) from the reply's log-probabilities when the provider returns them,
    else 0.0 for Y and -inf for N.
    """

    def __init__(self, threshold: float = math.log(0.8)) -> None:
        self.threshold = threshold

    def steps(self, ctx: VerifyContext, budget: RunBudget | None,
              retry: RetryPolicy | None = None) -> Steps[Verdict]:
        reply = yield model_call(ctx.tier, ctx.tier.chat_model,
                                 self_check_messages(ctx.request, ctx.answer), ctx.config,
                                 budget=budget, metadata=_verify_metadata(), retry=retry)
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


class JudgeVerifier(_ModelVerifier):
    """A stronger tier grades the answer against the request and the subtask's `acceptance`.

    Reading an answer is cheaper than rewriting it. Passes when score/10 >= `threshold`.
    """

    def __init__(self, tier: Tier, threshold: float = 0.7) -> None:
        self.tier = tier
        self.threshold = threshold

    def steps(self, ctx: VerifyContext, budget: RunBudget | None,
              retry: RetryPolicy | None = None) -> Steps[Verdict]:
        acceptance = ctx.subtask["acceptance"] if ctx.subtask is not None else None
        reply = yield model_call(self.tier, self.tier.chat_model,
                                 judge_messages(ctx.request, acceptance, ctx.answer), ctx.config,
                                 budget=budget, metadata=_verify_metadata(), retry=retry)
        try:
            graded = extract_json(reply.text)
            score = float(graded["score"]) / 10
            reason = str(graded.get("reason", ""))
        except (ValueError, KeyError, TypeError):
            return Verdict(False, None, f"the judge's reply did not parse: {reply.text[:80]!r}")
        return Verdict(score >= self.threshold, score, reason)


VerifierFunction = Callable[[VerifyContext], "bool | Verdict | Awaitable[bool | Verdict]"]


def _verdict(result: Any) -> Verdict:
    if isinstance(result, Verdict):
        return result
    return Verdict(bool(result), 1.0 if result else 0.0,
                   "accepted by function" if result else "rejected by function")


class FunctionVerifier(Verifier):
    """User code decides, for instance by running unit tests on generated code.

    `fn(ctx)` returns a bool or a `Verdict`; it may be `async` (then run the graph with
    `ainvoke`/`astream`).
    """

    def __init__(self, fn: VerifierFunction, *, name: str | None = None) -> None:
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "verifier")
        self._async = inspect.iscoroutinefunction(fn)

    def check(self, ctx: VerifyContext) -> Verdict:
        if self._async:
            raise TypeError(f"{self.name} is async: run the graph with ainvoke/astream.")
        return _verdict(self.fn(ctx))

    async def acheck(self, ctx: VerifyContext) -> Verdict:
        if not self._async:
            return await super().acheck(ctx)
        return _verdict(await self.fn(ctx))  # type: ignore[misc]


def run_verifier(verifier: Verifier, ctx: VerifyContext, budget: RunBudget | None,
                 retry: RetryPolicy | None = None) -> Steps[Verdict]:
    """How the graphs run a verifier (internal): built-in model calls are held to the run's
    budget and retried by its policy; a custom `check`/`acheck` runs as a runnable under
    `ctx.config`."""
    if isinstance(verifier, _ModelVerifier):
        return (yield from verifier.steps(ctx, budget, retry))
    if isinstance(verifier, _InlineVerifier):
        return verifier.check(ctx)
    name = getattr(verifier, "name", None) or type(verifier).__name__
    runnable = RunnableLambda(verifier.check, afunc=verifier.acheck, name=name)
    verdict: Verdict = yield Call(runnable, ctx, ctx.config)
    return verdict
