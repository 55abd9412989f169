"""Certified calibration: synthetic labelled sets whose answer is known, and the guarantee
itself checked over repeated calibration draws from a known population."""

from __future__ import annotations

import random

import pytest

from tiered_agents import EscalationPolicy, calibrate
from tiered_agents._stats import betting_test, binom_cdf, ks_test, sign_test
from tiered_agents.calibration import Outcome, search_frontier, simulate

TIERS = ["cheap", "mid", "top"]


def example(cheap_ok: bool, cheap_score: float | None, *, mid_ok: bool = True,
            top_ok: bool = True, cheap_answer: str = "x", mid_answer: str = "x"
            ) -> dict[str, Outcome]:
    return {"cheap": Outcome(cheap_ok, 1.0, cheap_score, cheap_answer),
            "mid": Outcome(mid_ok, 5.0, -0.5, mid_answer),
            "top": Outcome(top_ok, 20.0, None, "x")}


def test_a_threshold_separating_right_from_wrong_is_certified() -> None:
    # The cheap tier is right exactly when it is confident (p = 0.995).
    examples = [example(True, -0.005)] * 120 + [example(False, -2.0, mid_ok=False)] * 80
    policy = calibrate(examples, TIERS, target_quality=0.9)
    assert policy.tiers == ("cheap", "top")
    assert -2.0 < policy.thresholds["cheap"] <= -0.005
    certificate = policy.certificate
    assert certificate is not None and certificate.certified
    assert certificate.p_value is not None and certificate.p_value <= 0.1 / certificate.families
    assert certificate.accuracy == certificate.top_accuracy == 1.0
    assert certificate.expected_saving == pytest.approx(200 * 20 / (200 * 1 + 80 * 20))
    assert set(certificate.scores) == {"cheap"} and len(certificate.scores["cheap"]) == 200
    assert "certified" in certificate.summary()


def test_nothing_certifiable_returns_the_top_tier_alone_and_says_so() -> None:
    # 90% right with no usable score: fine at a 0.9 target by luck, never certifiable at 0.99.
    examples = [example(True, -0.5)] * 90 + [example(False, -0.5, mid_ok=False)] * 10
    policy = calibrate(examples, TIERS, target_quality=0.99)
    assert policy.tiers == ("top",) and policy.thresholds == {}
    certificate = policy.certificate
    assert certificate is not None and not certificate.certified
    assert certificate.p_value is None and "top tier alone" in certificate.summary()
    # The uncertified frontier still shows what the data suggests.
    assert certificate.frontier[0]["tiers"] == ["cheap"]


def test_a_cheaper_tier_that_beats_the_top_is_certified_without_the_top() -> None:
    # mid is right on every question; top misses a fifth of them.
    examples = [example(False, -3.0, top_ok=i % 5 != 0) for i in range(150)]
    policy = calibrate(examples, TIERS, target_quality=0.99)
    assert policy.tiers == ("mid",)
    assert policy.certificate is not None and policy.certificate.certified


def test_agreement_is_certified_when_the_data_supports_it() -> None:
    # Scores carry no signal, but when cheap and mid agree both are right.
    examples = ([example(True, -0.5, cheap_answer="a", mid_answer="a")] * 150
                + [example(False, -0.5, mid_ok=False, cheap_answer="a", mid_answer="b")] * 150)
    policy = calibrate(examples, TIERS, target_quality=0.9, max_tiers=3)
    assert policy.tiers == ("cheap", "mid", "top")
    assert policy.accept_on_agreement == frozenset({"mid"})
    result = simulate(policy, examples, TIERS)
    assert result.accuracy == 1.0 and result.cost_usd == 150 * 6.0 + 150 * 26.0


def _population(size: int, seed: int) -> list[dict[str, Outcome]]:
    """Cheap is right with a probability that rises with its score; top is right 85% of the
    time, independently. Some thresholds sit just below a 0.97 target."""
    rng = random.Random(seed)
    out = []
    for _ in range(size):
        score = -rng.random()
        cheap_ok = rng.random() < 0.55 + 0.45 * (1 + score)
        top_ok = rng.random() < 0.85
        out.append({"cheap": Outcome(cheap_ok, 1.0, score), "top": Outcome(top_ok, 20.0, None)})
    return out


def test_the_guarantee_holds_over_repeated_calibration_draws() -> None:
    population = _population(40_000, seed=1)
    target = 0.97
    top_accuracy = simulate(EscalationPolicy(tiers=("top",)), population, ["cheap", "top"]
                            ).accuracy
    rng = random.Random(2)
    draws, violations, savings, naive_violations = 40, 0, 0, 0
    for _ in range(draws):
        sample = rng.sample(population, 300)
        policy = calibrate(sample, ["cheap", "top"], target_quality=target, confidence=0.9)
        truth = simulate(policy, population, ["cheap", "top"])
        violations += truth.accuracy < target * top_accuracy
        savings += policy.tiers != ("top",)
        # The uncertified choice: cheapest searched policy meeting the target in-sample.
        in_sample = simulate(EscalationPolicy(tiers=("top",)), sample, ["cheap", "top"]).accuracy
        naive = next(r.policy for r in search_frontier(sample, ["cheap", "top"])
                     if r.accuracy >= target * in_sample)
        naive_violations += simulate(naive, population, ["cheap", "top"]).accuracy < \
            target * top_accuracy
    assert violations <= 0.1 * draws  # what confidence=0.9 promises
    assert naive_violations >= 0.3 * draws  # the trap the certificate avoids
    assert savings >= 0.5 * draws  # and it still finds cheaper policies


def test_certificate_round_trips_with_the_policy(tmp_path: object) -> None:
    examples = [example(True, -0.005)] * 120 + [example(False, -2.0, mid_ok=False)] * 80
    policy = calibrate(examples, TIERS, target_quality=0.9)
    loaded = EscalationPolicy.from_json(policy.to_json())
    assert loaded == policy
    assert loaded.certificate == policy.certificate


def test_recording_records_are_accepted_directly() -> None:
    records = [{"id": str(i), "answers": {
        "m1": {"text": "A", "correct": i % 4 != 0, "cost_usd": 1,
               "confidence": -0.001 if i % 4 else -2.0},
        "m2": {"text": "A", "correct": True, "cost_usd": 10, "confidence": -0.1}}}
        for i in range(200)]
    policy = calibrate(records, ["m1", "m2"], target_quality=0.9)
    assert isinstance(policy, EscalationPolicy) and policy.tiers == ("m1", "m2")
    assert -2.0 < policy.thresholds["m1"] <= -0.001


@pytest.mark.parametrize(("kwargs", "message"), [
    pytest.param({"target_quality": 1.5}, "target_quality", id="target"),
    pytest.param({"confidence": 1.0}, "confidence", id="confidence"),
    pytest.param({"max_tiers": 0}, "max_tiers", id="max_tiers"),
])
def test_bad_arguments(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        calibrate([example(True, 0.0)], TIERS, **kwargs)
    with pytest.raises(ValueError, match="labelled examples"):
        calibrate([], ["a"])


@pytest.mark.parametrize(("k", "n", "p", "expected"), [
    pytest.param(0, 4, 0.5, 1 / 16, id="none-of-4"),
    pytest.param(1, 7, 0.5, 8 / 128, id="one-of-7"),
    pytest.param(3, 3, 0.5, 1.0, id="all"),
    pytest.param(-1, 3, 0.5, 0.0, id="below-support"),
])
def test_binomial_cdf(k: int, n: int, p: float, expected: float) -> None:
    assert binom_cdf(k, n, p) == pytest.approx(expected)


def test_tests_reject_only_on_evidence() -> None:
    assert sign_test(0, 0, 0.99) == 1.0
    assert sign_test(0, 6, 0.99) < 0.02 < sign_test(3, 3, 0.99)
    # Every question a little better than the target's edge: the betting test sees it.
    assert betting_test([-0.1] * 300, 0.9) < 1e-3
    assert betting_test([0.9, -1.0] * 100, 0.9) > 0.1
    assert betting_test([], 0.9) == 1.0


def test_ks_test() -> None:
    same = [i / 100 for i in range(100)]
    assert ks_test(same, same) == (0.0, 1.0)
    statistic, p = ks_test(same, [x + 0.5 for x in same])
    assert statistic == pytest.approx(0.51) and p < 1e-9
