"""`calibrate`: the cheapest escalation policy whose quality claim is statistically certified.

The claim: with probability at least `confidence` over the draw of the labelled calibration
examples, the policy's accuracy on new questions from the same distribution is at least
`target_quality` x the top tier's. It is tested with Learn-then-Test (Angelopoulos, Bates,
Candes, Jordan and Lei, 2021):

- Families of policies are fixed before any label is read: every ladder of at most `max_tiers`
  tiers, in order, where tiers may be skipped (the top tier alone needs no test: it meets any
  target by definition). The confidence is split evenly between families (Bonferroni).
- Within a family, thresholds on the verifier's score are tried from the strictest to the
  loosest on a fixed grid (probabilities, or log-probabilities for scores <= 0; quantiles of the
  calibration scores for other score ranges), a fixed sequence with no multiplicity cost: the
  first threshold that is not certified ends the family.
- Each hypothesis is tested on the paired per-question loss (target x top correct - policy
  correct) by two finite-sample tests, an exact binomial test on the questions where the policy
  and the top tier disagree and a test by betting that also uses the slack the target leaves;
  the smaller p-value, doubled, must be at most the family's share of 1 - `confidence`.

The cheapest certified policy wins; when none is certified, the top tier alone is returned and
its certificate says so. Nothing in it is specific to a dataset.

What the guarantee costs: at `target_quality=0.99`, certifying needs the cheaper tiers to win
clearly more of the questions they disagree on than they lose, because a 1% slack is invisible
in a few hundred questions. Lower targets or more labelled examples buy savings back.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tiered_agents._stats import betting_test, sign_test
from tiered_agents.certificate import Certificate
from tiered_agents.escalation import EscalationPolicy, normalize_answer
from tiered_agents.tiers import Tier

__all__ = ["Outcome", "PolicyResult", "calibrate", "frontier_policies", "search_frontier",
           "simulate", "to_examples"]


@dataclass(frozen=True)
class Outcome:
    """What one tier did on one labelled example."""

    correct: bool
    cost_usd: float
    score: float | None
    """The verifier's score for this answer (for recordings: the recorded confidence)."""
    answer: str = ""
    """The answer, normalised for agreement checks."""


Example = Mapping[str, Outcome]
"""Tier name to what that tier did on one question."""


def _name(tier: str | Tier) -> str:
    return tier.name if isinstance(tier, Tier) else tier


def to_examples(records: Sequence[Mapping[str, Any]], tiers: Sequence[str | Tier]
                ) -> list[dict[str, Outcome]]:
    """Labelled examples from records of the recording format (see `tiered_agents.replay`)."""
    keys = {}
    for tier in tiers:
        name = _name(tier)
        candidates = [name] + ([tier.model_name] if isinstance(tier, Tier) else [])
        keys[name] = next((c for c in candidates if records and c in records[0]["answers"]),
                          name)
    examples = []
    for record in records:
        example = {}
        for name, key in keys.items():
            a = record["answers"].get(key)
            if a is None:
                raise ValueError(f"Record {record.get('id')!r} has no answer by {key!r}.")
            example[name] = Outcome(bool(a["correct"]), float(a["cost_usd"]),
                                    None if a.get("confidence") is None else float(a["confidence"]),
                                    normalize_answer(a.get("text", "")))
        examples.append(example)
    return examples


@dataclass(frozen=True)
class PolicyResult:
    """How a policy does on a set of examples."""

    policy: EscalationPolicy
    accuracy: float
    cost_usd: float
    escalation_rate: dict[str, float]
    """Per tier: the share of the questions that reached it which it passed upwards."""
    correct: tuple[bool, ...] = field(repr=False, default=())


def _run(ladder: Sequence[str], thresholds: Mapping[str, float], agree: frozenset[str],
         examples: Sequence[Example], scores: dict[str, list[float]] | None = None
         ) -> tuple[list[bool], float, dict[str, list[int]]]:
    """Replay a ladder; with `scores`, also collect the scores each deciding tier saw."""
    correct, total = [], 0.0
    flow = {t: [0, 0] for t in ladder}  # reached, escalated
    last = len(ladder) - 1
    for example in examples:
        seen: set[str] = set()
        for i, tier in enumerate(ladder):
            outcome = example[tier]
            total += outcome.cost_usd
            flow[tier][0] += 1
            if i == last:
                break
            score = outcome.score
            if scores is not None and score is not None:
                scores.setdefault(tier, []).append(score)
            if tier in agree and outcome.answer in seen:
                break
            if score is not None and score >= thresholds.get(tier, NEVER):
                break
            seen.add(outcome.answer)
            flow[tier][1] += 1
        correct.append(outcome.correct)
    return correct, total, flow


def simulate(policy: EscalationPolicy, examples: Sequence[Example],
             tiers: Sequence[str | Tier]) -> PolicyResult:
    """Replay `policy` on labelled examples, as `create_cascade` with a score verifier would."""
    ladder = policy.ladder([_name(t) for t in tiers])
    if policy.max_attempts is not None:
        ladder = ladder[:policy.max_attempts]
    correct, total, flow = _run(ladder, policy.thresholds, policy.accept_on_agreement, examples)
    n = max(len(examples), 1)
    return PolicyResult(policy, sum(correct) / n, total,
                        {t: (e / r if r else 0.0) for t, (r, e) in flow.items()}, tuple(correct))


NEVER = 1e9
"""A threshold no score reaches: the tier's answer is accepted only when tiers agree."""
ALWAYS = -1e9
"""A threshold every score reaches."""

PROBABILITIES = (0.9999, 0.999, 0.995, 0.99, 0.98, 0.97, 0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5,
                 0.0)
"""The fixed threshold path, strictest first, for scores that are probabilities (or their
logarithms)."""


def _finite(threshold: float) -> float:
    """Thresholds as JSON-safe numbers (scores are log-probabilities or grades)."""
    return NEVER if threshold == math.inf else ALWAYS if threshold == -math.inf else threshold


def _grid(values: Sequence[float | None], size: int) -> list[float]:
    known = sorted(v for v in values if v is not None)
    if not known:
        return [-math.inf]
    cuts = {known[min(len(known) - 1, round(q * (len(known) - 1) / size))] for q in range(size + 1)}
    return [-math.inf, *sorted(cuts)]


def _path(values: Sequence[float | None]) -> list[float]:
    """The thresholds a family tries, strictest first, chosen without reading any label."""
    known = [v for v in values if v is not None]
    if not known:
        return []
    if all(v <= 0 for v in known):  # log-probabilities
        return [math.log(p) if p > 0 else ALWAYS for p in PROBABILITIES]
    if all(0 <= v <= 1 for v in known):
        return [p if p > 0 else ALWAYS for p in PROBABILITIES]
    return [_finite(t) for t in reversed(_grid(known, len(PROBABILITIES) - 1))]


def search_frontier(
    examples: Sequence[Example],
    tiers: Sequence[str | Tier],
    *,
    max_tiers: int = 3,
    grid: int = 8,
    agreement: bool = True,
) -> list[PolicyResult]:
    """Every searched policy that no other beats on both cost and accuracy on `examples`,
    cheapest first: ladders of up to `max_tiers` tiers, a score-quantile grid per tier, and
    agreement rules. Uncertified: for plots and for seeing what a guarantee costs."""
    names = [_name(t) for t in tiers]
    grids = {t: _grid([e[t].score for e in examples], grid) for t in names}
    results: list[PolicyResult] = []
    for size in range(1, min(max_tiers, len(names)) + 1):
        for ladder in itertools.combinations(names, size):
            options = []
            for i, tier in enumerate(ladder[:-1]):
                # +inf: never accept on the score (pass the answer on for agreement checks).
                choices = [(th, False) for th in [*grids[tier], math.inf]]
                if agreement and i > 0:
                    choices += [(th, True) for th in [*grids[tier], math.inf]]
                options.append(choices)
            for combo in itertools.product(*options):
                policy = EscalationPolicy(
                    tiers=ladder,
                    thresholds={t: _finite(th) for t, (th, _) in zip(ladder, combo,
                                                                    strict=False)},
                    accept_on_agreement=frozenset(
                        t for t, (_, a) in zip(ladder, combo, strict=False) if a))
                results.append(simulate(policy, examples, names))
    frontier: list[PolicyResult] = []
    best = -1.0
    for result in sorted(results, key=lambda r: (r.cost_usd, -r.accuracy)):
        if result.accuracy > best:
            frontier.append(result)
            best = result.accuracy
    return frontier


def frontier_policies(certificate: Certificate) -> list[PolicyResult]:
    """The certificate's uncertified frontier as policies with their calibration cost and
    accuracy, cheapest first."""
    out = []
    for point in certificate.frontier:
        fields = {k: v for k, v in point.items() if k not in ("cost_usd", "accuracy")}
        out.append(PolicyResult(EscalationPolicy.from_dict(fields), float(point["accuracy"]),
                                float(point["cost_usd"]), {}))
    return out


@dataclass
class _Candidate:
    result: PolicyResult
    p_value: float


def _families(names: Sequence[str], max_tiers: int, agreement: bool
              ) -> list[tuple[tuple[str, ...], bool]]:
    top = names[-1]
    ladders = [ladder for size in range(1, min(max_tiers, len(names)) + 1)
               for ladder in itertools.combinations(names, size) if ladder != (top,)]
    return [(ladder, False) for ladder in ladders] + (
        [(ladder, True) for ladder in ladders if len(ladder) >= 3] if agreement else [])


def _p_value(correct: Sequence[bool], top_correct: Sequence[bool], target: float) -> float:
    worse = sum(1 for c, t in zip(correct, top_correct, strict=True) if t and not c)
    better = sum(1 for c, t in zip(correct, top_correct, strict=True) if c and not t)
    losses = [target * t - c for c, t in zip(correct, top_correct, strict=True)]
    return min(1.0, 2 * min(sign_test(worse, better, target), betting_test(losses, target)))


def _certify(examples: Sequence[Example], names: Sequence[str], *, target: float,
             confidence: float, max_tiers: int, agreement: bool
             ) -> tuple[list[_Candidate], int, int]:
    top_correct = [e[names[-1]].correct for e in examples]
    families = _families(names, max_tiers, agreement)
    level = (1 - confidence) / max(len(families), 1)
    paths = {t: _path([e[t].score for e in examples]) for t in names}
    certified: list[_Candidate] = []
    tested = 0
    for ladder, agree in families:
        deciding = ladder[:-1]
        if not deciding:
            sequence = [EscalationPolicy(tiers=ladder)]
        else:
            # One threshold for every deciding tier, strictest first (tiers' scores share a
            # scale in a family only through the path, which reads no label).
            steps = len(paths[deciding[0]])
            sequence = [EscalationPolicy(
                tiers=ladder,
                thresholds={t: paths[t][i] for t in deciding if i < len(paths[t])},
                accept_on_agreement=frozenset(ladder[1:-1]) if agree else frozenset())
                for i in range(steps)]
        previous: tuple[bool, ...] | None = None
        for policy in sequence:
            result = simulate(policy, examples, names)
            if result.correct != previous:
                tested += 1
                p = _p_value(result.correct, top_correct, target)
                previous = result.correct
            if p > level:
                break
            certified.append(_Candidate(result, p))
    return certified, len(families), tested


def _reference_scores(policy: EscalationPolicy, examples: Sequence[Example],
                      names: Sequence[str], keep: int = 200) -> dict[str, tuple[float, ...]]:
    """Quantiles of the scores each deciding tier of `policy` saw on `examples`."""
    seen: dict[str, list[float]] = {}
    _run(policy.ladder(list(names)), policy.thresholds, policy.accept_on_agreement, examples,
         seen)
    out = {}
    for tier, values in seen.items():
        ordered = sorted(values)
        if len(ordered) > keep:
            ordered = [ordered[round(i * (len(ordered) - 1) / (keep - 1))] for i in range(keep)]
        out[tier] = tuple(round(v, 6) for v in ordered)
    return out


METHOD = ("Learn-then-Test: Bonferroni over ladder families, fixed-sequence testing along a "
          "label-free threshold path, each step an exact binomial test on discordant questions "
          "and a test by betting on the paired loss (the smaller p-value, doubled)")


def calibrate(
    examples: Sequence[Example] | Sequence[Mapping[str, Any]],
    tiers: Sequence[str | Tier],
    *,
    target_quality: float = 0.99,
    confidence: float = 0.9,
    max_tiers: int = 2,
    agreement: bool = True,
) -> EscalationPolicy:
    """The cheapest policy whose accuracy is certified to be >= `target_quality` x the top
    tier's, with probability >= `confidence` over the draw of the calibration examples.

    The returned policy's `certificate` says what was certified (or that nothing was, in which
    case the policy is the top tier alone), the expected saving on the calibration data, the
    uncertified cost/accuracy frontier of a wider search, and the scores seen, for
    `tiered_agents.drift.check_drift`. See the module docstring for the method.

    Example:
        ```python
        examples = [{"small": Outcome(correct=True, cost_usd=0.0001, score=-0.05),
                     "frontier": Outcome(correct=True, cost_usd=0.002, score=None)}, ...]
        policy = calibrate(examples, ["small", "frontier"], target_quality=0.95)
        policy.certificate.summary()
        ```

    Args:
        examples: Labelled examples: tier name to `Outcome`, or records of the recording
            format (`tiered_agents.replay`).
        tiers: The tiers, cheapest first; the last one is the quality reference.
        target_quality: The share of the top tier's accuracy to certify.
        confidence: The probability that the certified claim holds (1 - the error rate).
        max_tiers: The longest ladder tried; each more tier adds families, which share the
            confidence, so longer ladders pay for themselves only with more examples.
        agreement: Also try ladders of three or more tiers that accept a middle tier's answer
            when it agrees with an earlier tier's.
    """
    if examples and "answers" in examples[0]:
        examples = to_examples(examples, tiers)
    outcomes: Sequence[Example] = examples
    names = [_name(t) for t in tiers]
    if not outcomes:
        raise ValueError("calibrate needs labelled examples.")
    if not 0 < target_quality <= 1:
        raise ValueError(f"target_quality must be in (0, 1], got {target_quality}.")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}.")
    if max_tiers < 1:
        raise ValueError(f"max_tiers must be >= 1, got {max_tiers}.")
    top = simulate(EscalationPolicy(tiers=(names[-1],)), outcomes, names)
    certified, families, tested = _certify(outcomes, names, target=target_quality,
                                           confidence=confidence, max_tiers=max_tiers,
                                           agreement=agreement)
    best = min(certified, key=lambda c: (c.result.cost_usd, -c.result.accuracy), default=None)
    chosen = best.result if best is not None else top
    frontier = search_frontier(outcomes, names)
    certificate = Certificate(
        certified=best is not None, target_quality=target_quality, confidence=confidence,
        method=METHOD, examples=len(outcomes), families=families, tested=tested,
        p_value=best.p_value if best is not None else None, accuracy=chosen.accuracy,
        top_accuracy=top.accuracy, cost_usd=chosen.cost_usd, top_cost_usd=top.cost_usd,
        frontier=tuple({**r.policy.to_dict(), "cost_usd": r.cost_usd, "accuracy": r.accuracy}
                       for r in frontier),
        scores=_reference_scores(chosen.policy, outcomes, names),
    )
    policy = chosen.policy
    return EscalationPolicy(tiers=policy.tiers, thresholds=policy.thresholds,
                            accept_on_agreement=policy.accept_on_agreement,
                            certificate=certificate)
