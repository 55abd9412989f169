"""The drift check: live verifier scores against the ones a policy was calibrated on."""

from __future__ import annotations

import random
import warnings

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from tiered_agents import EscalationPolicy, Tier, calibrate, create_cascade
from tiered_agents.calibration import Outcome
from tiered_agents.drift import check_drift, scores_by_tier
from tiered_agents.errors import DriftWarning
from tiered_agents.state import Attempt
from tiered_agents.testing import FakeChatModel
from tiered_agents.verifiers import ConfidenceVerifier


def calibrated(seed: int = 0) -> EscalationPolicy:
    rng = random.Random(seed)
    examples = []
    for _ in range(300):
        score = -rng.random() * 0.1 if rng.random() < 0.7 else -1 - rng.random()
        examples.append({"small": Outcome(score > -0.5, 1.0, score),
                         "frontier": Outcome(True, 20.0, None)})
    policy = calibrate(examples, ["small", "frontier"], target_quality=0.9)
    assert policy.certificate is not None and policy.certificate.certified
    assert policy.tiers == ("small", "frontier")
    return policy


def test_same_traffic_is_not_flagged() -> None:
    policy = calibrated()
    rng = random.Random(7)
    live = {"small": [-rng.random() * 0.1 if rng.random() < 0.7 else -1 - rng.random()
                      for _ in range(200)]}
    with warnings.catch_warnings():
        warnings.simplefilter("error", DriftWarning)
        report = check_drift(policy, live)
    assert not report.drifted and [t.tier for t in report.tiers] == ["small"]
    assert "no drift" in report.summary()


def test_shifted_traffic_is_flagged_with_a_warning() -> None:
    policy = calibrated()
    rng = random.Random(8)
    live = {"small": [-rng.random() * 0.1 if rng.random() < 0.3 else -1 - rng.random()
                      for _ in range(200)]}
    with pytest.warns(DriftWarning, match="calibrate again"):
        report = check_drift(policy, live)
    assert report.drifted and report.tiers[0].p_value < 0.01
    assert report.to_dict()["tiers"][0]["drifted"] is True


def test_too_few_scores_are_not_tested_and_a_policy_needs_a_certificate() -> None:
    policy = calibrated()
    assert check_drift(policy, {"small": [-3.0] * 5}).tiers == ()
    with pytest.raises(ValueError, match="no certificate"):
        check_drift(EscalationPolicy(), {"small": [0.0]})


def test_scores_come_from_live_cascade_runs() -> None:
    policy = calibrated()

    def reply(confidence: float) -> AIMessage:
        return AIMessage("Lima", response_metadata={
            "logprobs": {"content": [{"token": "Lima", "logprob": confidence}]}})

    rng = random.Random(9)
    small = FakeChatModel(respond=lambda m, t: reply(-1 - rng.random()), model_name="gpt-5-mini",
                          provider="openai")
    big = FakeChatModel(respond=lambda m, t: "Lima", model_name="claude-opus-4-7",
                        provider="anthropic")
    cascade = create_cascade([Tier("small", small), Tier("frontier", big)],
                             verifier=ConfidenceVerifier(), escalation=policy)
    outs = [cascade.invoke({"messages": [HumanMessage(f"Capital of Peru? {i}")]})
            for i in range(30)]
    assert all(o["tier"] == "frontier" for o in outs)  # every small answer is unsure now
    scores = scores_by_tier(outs)
    assert list(scores) == ["small"] and len(scores["small"]) == 30
    attempts = [a for o in outs for a in o["attempts"]]
    assert scores_by_tier([attempts]) == scores
    assert all(set(a) == set(Attempt.__annotations__) for a in attempts)
    with pytest.warns(DriftWarning):
        assert check_drift(policy, outs).drifted
