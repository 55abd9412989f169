"""`calibrate`: pick the cheapest escalation policy that keeps quality, from labelled data.

The search covers cascades over any ordered subset of the tiers (tiers may be skipped), a
score threshold per tier, and "accept when this tier agrees with an earlier one" rules. A
policy is feasible when its accuracy stays at or above `target_quality` times the top tier's
accuracy on the same examples, with a safety margin of `margin` standard errors of the paired
difference (so that it holds on unseen questions, not only on the ones it was fitted to).
Nothing in it is specific to a dataset.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tiered_agents.escalation import EscalationPolicy, normalize_answer
from tiered_agents.tiers import Tier

__all__ = ["Calibration", "Outcome", "PolicyResult", "calibrate", "search_policies",
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
         examples: Sequence[Example]) -> tuple[list[bool], float, dict[str, list[int]]]:
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


@dataclass(frozen=True)
class Calibration:
    """The chosen policy, and the cost/accuracy frontier of everything tried."""

    policy: EscalationPolicy
    train: PolicyResult
    top_accuracy: float
    frontier: list[PolicyResult]
    """Policies no other policy beats on both cost and accuracy (on the training examples)."""


NEVER = 1e9
"""A threshold no score reaches: the tier's answer is accepted only when tiers agree."""
ALWAYS = -1e9
"""A threshold every score reaches."""


def _finite(threshold: float) -> float:
    """Thresholds as JSON-safe numbers (scores are log-probabilities or grades)."""
    return NEVER if threshold == math.inf else ALWAYS if threshold == -math.inf else threshold


def _grid(values: Sequence[float | None], size: int) -> list[float]:
    known = sorted(v for v in values if v is not None)
    if not known:
        return [-math.inf]
    cuts = {known[min(len(known) - 1, round(q * (len(known) - 1) / size))] for q in range(size + 1)}
    return [-math.inf, *sorted(cuts)]


def search_policies(
    examples: Sequence[Example],
    tiers: Sequence[str | Tier],
    *,
    target_quality: float = 0.99,
    margin: float = 1.0,
    max_tiers: int = 3,
    grid: int = 16,
    agreement: bool = True,
) -> Calibration:
    """Search policies on labelled `examples`; see `calibrate`."""
    names = [_name(t) for t in tiers]
    if not examples:
        raise ValueError("calibrate needs labelled examples.")
    if not 0 < target_quality <= 1:
        raise ValueError(f"target_quality must be in (0, 1], got {target_quality}.")
    top = names[-1]
    top_correct = [e[top].correct for e in examples]
    top_accuracy = sum(top_correct) / len(examples)
    grids = {t: _grid([e[t].score for e in examples], grid) for t in names}
    n = len(examples)
    results: list[tuple[PolicyResult, float]] = []  # (result, slack)

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
                thresholds = {t: _finite(th) for t, (th, _) in zip(ladder, combo, strict=False)}
                agree = frozenset(t for t, (_, a) in zip(ladder, combo, strict=False) if a)
                correct, cost, flow = _run(ladder, thresholds, agree, examples)
                diffs = [c - target_quality * t for c, t in zip(correct, top_correct,
                                                                strict=True)]
                mean = sum(diffs) / n
                sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / max(n - 1, 1))
                slack = mean - margin * sd / math.sqrt(n)
                policy = EscalationPolicy(tiers=ladder, thresholds=thresholds,
                                          accept_on_agreement=agree)
                rate = {t: (e / r if r else 0.0) for t, (r, e) in flow.items()}
                results.append((PolicyResult(policy, sum(correct) / n, cost, rate,
                                             tuple(correct)), slack))

    feasible = [(r, s) for r, s in results if s >= -1e-12]
    if feasible:
        chosen = min(feasible, key=lambda rs: (rs[0].cost_usd, -rs[0].accuracy))[0]
    else:  # nothing beats the margin: the top tier alone
        chosen = next(r for r, _ in results if r.policy.tiers == (top,))
    ordered = sorted((r for r, _ in results), key=lambda r: (r.cost_usd, -r.accuracy))
    frontier, best = [], -1.0
    for result in ordered:
        if result.accuracy > best:
            frontier.append(result)
            best = result.accuracy
    return Calibration(policy=chosen.policy, train=chosen, top_accuracy=top_accuracy,
                       frontier=frontier)


def calibrate(
    examples: Sequence[Example] | Sequence[Mapping[str, Any]],
    tiers: Sequence[str | Tier],
    *,
    target_quality: float = 0.99,
    margin: float = 1.0,
    max_tiers: int = 3,
) -> EscalationPolicy:
    """The cheapest policy whose accuracy is at least `target_quality` x the top tier's.

    Args:
        examples: Labelled examples: tier name to `Outcome`, or records of the recording
            format (`tiered_agents.replay`).
        tiers: The tiers, cheapest first; the last one is the quality reference.
        target_quality: The share of the top tier's accuracy to keep.
        margin: Standard errors of safety on the accuracy constraint (0: fit the examples
            exactly, which overfits small sets).
        max_tiers: The longest ladder tried.
    """
    if examples and "answers" in examples[0]:
        examples = to_examples(examples, tiers)
    return search_policies(examples, tiers, target_quality=target_quality,
                           margin=margin, max_tiers=max_tiers).policy
