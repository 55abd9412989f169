"""Verifiers, EscalationPolicy, escalation in the tiered graph and in the cascade."""

from __future__ import annotations

import math
import warnings
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from tiered_agents import (
    CascadeFailedError,
    CostTracker,
    EscalationPolicy,
    Tier,
    create_cascade,
    create_tiered_graph,
)
from tiered_agents.escalation import normalize_answer
from tiered_agents.plan import Subtask
from tiered_agents.testing import FakeChatModel, echo_worker, last_text, planner_responder
from tiered_agents.verifiers import (
    ConfidenceVerifier,
    FunctionVerifier,
    JudgeVerifier,
    SchemaVerifier,
    SelfCheckVerifier,
    Verdict,
    VerifyContext,
)


def with_logprob(text: str, logprob: float, **top: float) -> AIMessage:
    entry: dict[str, Any] = {"token": text, "logprob": logprob}
    if top:
        entry["top_logprobs"] = [{"token": k, "logprob": v} for k, v in top.items()]
    return AIMessage(text, response_metadata={"logprobs": {"content": [entry]}})


def ctx(answer: Any = "42", message: AIMessage | None = None, tier: Tier | None = None,
        subtask: Subtask | None = None) -> VerifyContext:
    tier = tier or Tier("small", FakeChatModel(responses=[]))
    return VerifyContext(request="What is 6 x 7?", answer=answer, tier=tier, message=message,
                         subtask=subtask)


# --- verifiers, sync and async ---------------------------------------------------------------


@pytest.mark.parametrize(("answer", "passed"), [
    pytest.param({"total": 3}, True, id="matches"),
    pytest.param({"total": "3"}, False, id="wrong-type"),
    pytest.param('Sure: {"total": 3}', True, id="json-in-text"),
    pytest.param("no json", False, id="not-json"),
])
async def test_schema_verifier(answer: Any, passed: bool) -> None:
    subtask = Subtask(id="s1", instruction="sum", expected_output={
        "type": "object", "properties": {"total": {"type": "integer"}}, "required": ["total"]})
    verifier = SchemaVerifier()
    assert verifier.check(ctx(answer, subtask=subtask)).passed is passed
    assert (await verifier.acheck(ctx(answer, subtask=subtask))).passed is passed


@pytest.mark.parametrize(("message", "passed", "score"), [
    pytest.param(with_logprob("42", -0.05), True, -0.05, id="confident"),
    pytest.param(with_logprob("41", -1.5), False, -1.5, id="unsure"),
    pytest.param(AIMessage("42"), False, None, id="no-logprobs"),
])
async def test_confidence_verifier(message: AIMessage, passed: bool, score: float | None) -> None:
    verifier = ConfidenceVerifier(threshold=-0.2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        verdict = verifier.check(ctx(message=message))
        assert (await verifier.acheck(ctx(message=message))).passed is passed
    assert (verdict.passed, verdict.score) == (passed, score)
    # No log-probabilities: one warning per verifier and tier (not per call), naming the fix.
    warned = [w for w in caught if "logprobs=True" in str(w.message)]
    assert len(warned) == (0 if score is not None else 1)


@pytest.mark.parametrize(("reply", "passed", "score"), [
    pytest.param(with_logprob("Y", math.log(0.95)), True, math.log(0.95), id="yes-logprob"),
    pytest.param(with_logprob("N", math.log(0.6), Y=math.log(0.4)), False, math.log(0.4),
                 id="yes-in-top-logprobs"),
    pytest.param(AIMessage("Y"), True, 0.0, id="yes-text-only"),
    pytest.param(AIMessage("No."), False, -math.inf, id="no-text-only"),
])
async def test_self_check_verifier(reply: AIMessage, passed: bool, score: float) -> None:
    model = FakeChatModel(respond=lambda m, t: reply)
    tier = Tier("small", model)
    verdict = SelfCheckVerifier(threshold=math.log(0.8)).check(ctx(tier=tier))
    assert (verdict.passed, verdict.score) == (passed, pytest.approx(score))
    assert "Is the answer correct" in last_text(model.calls[0])
    assert (await SelfCheckVerifier().acheck(ctx(tier=tier))).passed is passed


async def test_judge_verifier_reads_acceptance_and_grades() -> None:
    judge = FakeChatModel(respond=lambda m, t: '{"score": 8, "reason": "correct"}')
    verifier = JudgeVerifier(Tier("frontier", judge), threshold=0.7)
    subtask = Subtask(id="s1", instruction="x", acceptance="states the number")
    verdict = verifier.check(ctx(subtask=subtask))
    assert verdict == Verdict(True, 0.8, "correct")
    assert "A good answer: states the number" in last_text(judge.calls[0])
    bad = JudgeVerifier(Tier("frontier", FakeChatModel(respond=lambda m, t: "looks fine")))
    assert (await bad.acheck(ctx())).passed is False


async def test_function_verifier_sync_and_async() -> None:
    assert FunctionVerifier(lambda c: c.answer == "42").check(ctx()).passed
    assert not FunctionVerifier(lambda c: Verdict(False, 0.1, "tests fail")).check(ctx()).passed

    async def run_tests(c: VerifyContext) -> bool:
        return c.answer == "42"

    assert (await FunctionVerifier(run_tests).acheck(ctx())).passed
    with pytest.raises(TypeError, match="ainvoke"):
        FunctionVerifier(run_tests).check(ctx())


# --- policy ----------------------------------------------------------------------------------


def test_policy_round_trips_through_json(tmp_path: Any) -> None:
    policy = EscalationPolicy(tiers=("a", "c"), thresholds={"a": -0.25},
                              accept_on_agreement={"c"}, max_attempts=2)
    assert EscalationPolicy.from_json(policy.to_json()) == policy
    policy.save(tmp_path / "p.json")
    assert EscalationPolicy.load(tmp_path / "p.json") == policy
    with pytest.raises(ValueError, match="Unknown EscalationPolicy fields"):
        EscalationPolicy.from_dict({"tier": ["a"]})


def test_policy_ladder_skips_tiers_and_starts_where_asked() -> None:
    policy = EscalationPolicy(tiers=("a", "c", "d"))
    assert policy.ladder(["a", "b", "c", "d"]) == ["a", "c", "d"]
    assert policy.ladder(["a", "b", "c", "d"], start="b") == ["b", "c", "d"]
    assert EscalationPolicy().ladder(["a", "b"]) == ["a", "b"]
    with pytest.raises(ValueError, match=r"names tiers \['z'\]"):
        EscalationPolicy(tiers=("a", "z")).ladder(["a", "b"])


@pytest.mark.parametrize(("text", "normal"), [
    ("Step 1...\n#### 1,200", "1200"),
    ("  B ", "b"),
    ("The capital is Lima.\nLima.", "lima"),
    ({"b": 1, "a": 2}, '{"a": 2, "b": 1}'),
])
def test_normalize_answer(text: Any, normal: str) -> None:
    assert normalize_answer(text) == normal


# --- escalation in the graphs ------------------------------------------------------------------


def scored(text: str, logprob: float) -> Any:
    return lambda messages, tools: with_logprob(text, logprob)


def test_cascade_escalates_unsure_answers_and_keeps_every_attempt() -> None:
    tiers = [Tier("mini", FakeChatModel(respond=scored("Paris?", -2.0), model_name="gpt-5-mini")),
             Tier("mid", FakeChatModel(respond=scored("Lyon", -1.0))),
             Tier("top", FakeChatModel(respond=scored("Paris", -0.01)))]
    cascade = create_cascade(tiers, verifier=ConfidenceVerifier(threshold=-0.5))
    tracker = CostTracker()
    out = cascade.invoke({"messages": [HumanMessage("Capital of France?")]},
                         config={"callbacks": [tracker]})
    assert (out["answer"], out["tier"]) == ("Paris", "top")
    assert [(a["tier"], a["accepted"]) for a in out["attempts"]] == [
        ("mini", False), ("mid", False), ("top", True)]
    assert out["attempts"][0]["score"] == -2.0
    assert out["attempts"][-1]["reason"] == "last tier of the ladder"
    assert out["messages"][-1].content == "Paris"
    assert tracker.report().by_node["worker"].calls == 3


def test_policy_thresholds_override_the_verifier_and_skip_tiers() -> None:
    mid = FakeChatModel(respond=scored("Lyon", -1.0))
    tiers = [Tier("mini", FakeChatModel(respond=scored("Paris", -0.3))), Tier("mid", mid),
             Tier("top", FakeChatModel(respond=scored("Paris", -0.01)))]
    policy = EscalationPolicy(tiers=("mini", "top"), thresholds={"mini": -0.4})
    out = create_cascade(tiers, verifier=ConfidenceVerifier(-0.1), escalation=policy).invoke(
        {"messages": [HumanMessage("q")]})
    assert out["tier"] == "mini"
    strict = EscalationPolicy(tiers=("mini", "top"), thresholds={"mini": -0.2})
    out = create_cascade(tiers, verifier=ConfidenceVerifier(-0.9), escalation=strict).invoke(
        {"messages": [HumanMessage("q")]})
    assert [a["tier"] for a in out["attempts"]] == ["mini", "top"]
    assert mid.calls == []


def test_agreement_accepts_without_verifying() -> None:
    judge = FakeChatModel(respond=lambda m, t: '{"score": 0}')
    tiers = [Tier("a", FakeChatModel(respond=scored("#### 12", -3.0))),
             Tier("b", FakeChatModel(respond=scored("so the answer is\n#### 12", -3.0))),
             Tier("c", FakeChatModel(respond=scored("#### 13", 0.0)))]
    policy = EscalationPolicy(accept_on_agreement={"b"})
    out = create_cascade(tiers, verifier=JudgeVerifier(Tier("judge", judge)),
                         escalation=policy).invoke({"messages": [HumanMessage("q")]})
    assert out["tier"] == "b" and out["attempts"][-1]["reason"] == "agrees with an earlier tier"
    assert len(judge.calls) == 1  # only tier a was judged


def test_verifier_calls_are_attributed_to_a_verify_node() -> None:
    def mini(messages: list[BaseMessage], tools: Any) -> str:
        return "N" if "Reply with Y or N" in last_text(messages) else "answer"

    tiers = [Tier("mini", FakeChatModel(respond=mini, model_name="gpt-5-mini")),
             Tier("top", FakeChatModel(respond=echo_worker, model_name="claude-opus-4-7"))]
    tracker = CostTracker()
    create_cascade(tiers, verifier=SelfCheckVerifier()).invoke(
        {"messages": [HumanMessage("q")]}, config={"callbacks": [tracker]})
    report = tracker.report()
    assert report.by_node["verify"].calls == 1
    assert report.by_node["worker"].calls == 2
    assert report.by_node["verify"].cost_usd > 0


def test_cascade_top_tier_error_raises_with_attempts() -> None:
    tiers = [Tier("a", FakeChatModel(respond=lambda m, t: ValueError("bad request"))),
             Tier("b", FakeChatModel(respond=lambda m, t: ValueError("context too long")))]
    with pytest.raises(CascadeFailedError) as caught:
        create_cascade(tiers).invoke({"messages": [HumanMessage("q")]})
    assert [a["tier"] for a in caught.value.attempts] == ["a", "b"]
    assert "context too long" in str(caught.value)


async def test_cascade_async_and_max_attempts() -> None:
    tiers = [Tier(n, FakeChatModel(respond=scored(n, -5.0))) for n in ("a", "b", "c")]
    policy = EscalationPolicy(max_attempts=2)
    out = await create_cascade(tiers, verifier=ConfidenceVerifier(-0.1),
                               escalation=policy).ainvoke(
        {"messages": [SystemMessage("be brief"), HumanMessage("q")]})
    assert out["tier"] == "b" and len(out["attempts"]) == 2


def test_tiered_graph_escalates_weak_subtask_answers() -> None:
    plan = {"subtasks": [{"id": "s1", "instruction": "easy"},
                         {"id": "s2", "instruction": "hard"}]}

    def small(messages: list[BaseMessage], tools: Any) -> Any:
        text = last_text(messages)
        return with_logprob("sure", -0.01) if "easy" in text else with_logprob("hmm", -3.0)

    big = Tier("frontier", FakeChatModel(respond=lambda m, t: (
        "confident" if "Your subtask" in last_text(m)
        else planner_responder([plan])(m, t))))
    graph = create_tiered_graph(planner=big, tiers=[Tier("small", FakeChatModel(respond=small)),
                                                    big],
                                verifier=ConfidenceVerifier(-0.5))
    out = graph.invoke({"task": "t"})
    assert out["results"]["s1"]["tier"] == "small"
    assert out["results"]["s2"]["tier"] == "frontier"
    assert [a["accepted"] for a in out["results"]["s2"]["attempts"]] == [False, True]
    assert out["results"]["s2"]["output"] == "confident"


def test_unknown_policy_tier_is_rejected_when_building() -> None:
    tiers = [Tier("a", FakeChatModel()), Tier("b", FakeChatModel())]
    with pytest.raises(ValueError, match="does not have"):
        create_cascade(tiers, escalation=EscalationPolicy(tiers=("a", "x")))
