"""Calibration on small synthetic labelled sets whose optimal policy is known."""

from __future__ import annotations

import pytest

from tiered_agents import EscalationPolicy, calibrate
from tiered_agents.calibration import NEVER, Outcome, search_policies, simulate


def example(cheap_ok: bool, cheap_score: float, mid_ok: bool = True, top_ok: bool = True,
            cheap_answer: str = "x", mid_answer: str = "x") -> dict[str, Outcome]:
    return {"cheap": Outcome(cheap_ok, 1.0, cheap_score, cheap_answer),
            "mid": Outcome(mid_ok, 5.0, -0.5, mid_answer),
            "top": Outcome(top_ok, 20.0, -0.1, "x")}


def test_threshold_separating_right_from_wrong_is_found() -> None:
    # The cheap tier is right exactly when its score is >= -0.3.
    examples = [example(True, -0.1)] * 60 + [example(False, -0.9, mid_ok=False)] * 40
    policy = calibrate(examples, ["cheap", "mid", "top"], margin=0.0)
    assert policy.tiers == ("cheap", "top")
    assert -0.9 < policy.thresholds["cheap"] <= -0.1
    result = simulate(policy, examples, ["cheap", "mid", "top"])
    assert result.accuracy == 1.0
    assert result.cost_usd == 60 * 1.0 + 40 * 21.0
    assert result.escalation_rate == {"cheap": 0.4, "top": 0.0}


def test_useless_tier_is_skipped_and_good_enough_cheap_tier_stops_the_ladder() -> None:
    # mid is never right; cheap is always right: the cheapest policy is cheap alone.
    examples = [example(True, -2.0, mid_ok=False)] * 50
    assert calibrate(examples, ["cheap", "mid", "top"]).tiers == ("cheap",)


def test_agreement_rule_is_used_when_the_data_supports_it() -> None:
    # Scores carry no signal, but when cheap and mid agree both are right.
    examples = ([example(True, -0.5, cheap_answer="a", mid_answer="a")] * 50
                + [example(False, -0.5, mid_ok=False, cheap_answer="a", mid_answer="b")] * 50)
    calibration = search_policies(examples, ["cheap", "mid", "top"], margin=0.0)
    policy = calibration.policy
    assert policy.tiers == ("cheap", "mid", "top")
    assert policy.accept_on_agreement == frozenset({"mid"})
    assert policy.thresholds["mid"] == NEVER
    result = simulate(policy, examples, ["cheap", "mid", "top"])
    assert result.accuracy == 1.0 and result.cost_usd == 50 * 6.0 + 50 * 26.0
    assert calibration.frontier[0].cost_usd <= calibration.frontier[-1].cost_usd


def test_target_quality_trades_accuracy_for_cost() -> None:
    # Cheap is right 90% of the time with no usable score: only a 0.9 target accepts it.
    examples = [example(True, -0.5)] * 90 + [example(False, -0.5, mid_ok=False)] * 10
    assert calibrate(examples, ["cheap", "mid", "top"], target_quality=0.99, margin=0.0
                     ).tiers[-1] == "top"
    assert calibrate(examples, ["cheap", "mid", "top"], target_quality=0.9, margin=0.0
                     ).tiers == ("cheap",)


def test_margin_makes_the_choice_more_conservative() -> None:
    examples = [example(True, -0.1)] * 95 + [example(False, -0.1, mid_ok=False)] * 5
    loose = calibrate(examples, ["cheap", "mid", "top"], target_quality=0.95, margin=0.0)
    strict = calibrate(examples, ["cheap", "mid", "top"], target_quality=0.95, margin=3.0)
    tiers = ["cheap", "mid", "top"]
    assert simulate(loose, examples, tiers).cost_usd < simulate(strict, examples, tiers).cost_usd


def test_recording_records_are_accepted_directly() -> None:
    records = [{"id": str(i), "answers": {
        "m1": {"text": "A", "correct": i % 4 != 0, "cost_usd": 1, "confidence": -0.1 if i % 4
               else -2.0},
        "m2": {"text": "A", "correct": True, "cost_usd": 10, "confidence": -0.1}}}
        for i in range(40)]
    policy = calibrate(records, ["m1", "m2"], margin=0.0)
    assert isinstance(policy, EscalationPolicy) and policy.tiers == ("m1", "m2")
    assert -2.0 < policy.thresholds["m1"] <= -0.1


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="labelled examples"):
        calibrate([], ["a"])
    with pytest.raises(ValueError, match="target_quality"):
        calibrate([example(True, 0.0)], ["cheap", "mid", "top"], target_quality=1.5)
