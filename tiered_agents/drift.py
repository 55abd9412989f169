"""Drift: is live traffic still the traffic a policy was certified on? No labels needed.

A calibrated policy remembers the verifier scores each of its deciding tiers saw at
calibration (`Certificate.scores`). `check_drift` compares the scores of live runs (or of a
test set) with them, tier by tier, with a two-sample Kolmogorov-Smirnov test. A certificate
holds only for questions drawn like the calibration ones: a drifted tier means the quality
claim is no longer backed, and it is time to label a fresh sample and calibrate again.

Example:
    ```python
    outs = [cascade.invoke({"messages": m}) for m in batch]
    report = check_drift(policy, outs)      # warns with DriftWarning when a tier drifted
    report.drifted, report.summary()
    ```
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tiered_agents._stats import ks_test
from tiered_agents.certificate import Certificate
from tiered_agents.errors import DriftWarning
from tiered_agents.escalation import EscalationPolicy

__all__ = ["DriftReport", "DriftWarning", "TierDrift", "check_drift", "compare_scores",
           "scores_by_tier"]


@dataclass(frozen=True)
class TierDrift:
    """One tier's comparison of live scores with calibration scores."""

    tier: str
    calibration: int
    """Scores kept from calibration (quantiles)."""
    observed: int
    """Live scores compared."""
    statistic: float
    """The Kolmogorov-Smirnov distance between the two score distributions (0 to 1)."""
    p_value: float
    """How likely a distance this large is without drift."""
    drifted: bool


@dataclass(frozen=True)
class DriftReport:
    """Per deciding tier, whether live scores drifted from calibration."""

    tiers: tuple[TierDrift, ...]
    alpha: float
    """The family-wise false-alarm rate (split evenly across tiers)."""

    @property
    def drifted(self) -> bool:
        return any(t.drifted for t in self.tiers)

    def summary(self) -> str:
        if not self.tiers:
            return "drift: nothing to compare (no deciding tier, or no scores)"
        parts = [f"{t.tier}: KS {t.statistic:.2f}, p={t.p_value:.2g} on {t.observed} scores"
                 + (" DRIFTED" if t.drifted else "") for t in self.tiers]
        head = "drift detected" if self.drifted else "no drift detected"
        return f"{head} ({'; '.join(parts)})"

    def to_dict(self) -> dict[str, Any]:
        return {"drifted": self.drifted, "alpha": self.alpha,
                "tiers": [vars(t).copy() for t in self.tiers]}


def scores_by_tier(runs: Iterable[Any]) -> dict[str, list[float]]:
    """Verifier scores per tier from cascade or tiered-graph outputs, or lists of attempts.

    The accepted attempt of the ladder's last tier carries no decision and is skipped later,
    by `check_drift`, through the certificate's tiers.
    """
    out: dict[str, list[float]] = {}
    for run in runs:
        for attempt in _attempts(run):
            score = attempt.get("score")
            if score is not None:
                out.setdefault(str(attempt["tier"]), []).append(float(score))
    return out


def _attempts(run: Any) -> Iterable[Any]:
    if isinstance(run, Mapping):
        if "attempts" in run:
            return run["attempts"] or []
        results = run.get("results") or {}
        return [a for result in results.values() for a in result["attempts"]]
    if isinstance(run, Sequence) and not isinstance(run, str):
        return run
    return [run]


def compare_scores(reference: Mapping[str, Sequence[float]],
                   observed: Mapping[str, Sequence[float]], *, alpha: float = 0.01,
                   min_scores: int = 20) -> DriftReport:
    """Per tier present in both with at least `min_scores` observed scores: a two-sample
    Kolmogorov-Smirnov test at level `alpha` / (number of tiers tested)."""
    tiers = [t for t in reference if reference[t] and len(observed.get(t, ())) >= min_scores]
    level = alpha / max(len(tiers), 1)
    results = []
    for tier in tiers:
        statistic, p = ks_test(reference[tier], observed[tier])
        results.append(TierDrift(tier, len(reference[tier]), len(observed[tier]), statistic,
                                 p, p < level))
    return DriftReport(tuple(results), alpha)


def check_drift(
    policy: EscalationPolicy | Certificate,
    observed: Mapping[str, Sequence[float]] | Iterable[Any],
    *,
    alpha: float = 0.01,
    min_scores: int = 20,
    warn: bool = True,
) -> DriftReport:
    """Compare live verifier scores with the ones `policy` was calibrated on.

    Args:
        policy: A calibrated policy (or its certificate).
        observed: Scores per tier, or run outputs / attempts to take them from
            (`scores_by_tier`).
        alpha: False-alarm rate over all tiers (Bonferroni).
        min_scores: Tiers with fewer live scores are not tested yet.
        warn: Issue a `DriftWarning` when a tier drifted.
    """
    certificate = policy.certificate if isinstance(policy, EscalationPolicy) else policy
    if certificate is None:
        raise ValueError("This policy has no certificate to compare with: calibrate it with "
                         "tiered_agents.calibrate, or load one saved with its certificate.")
    live = observed if isinstance(observed, Mapping) else scores_by_tier(observed)
    report = compare_scores(certificate.scores, live, alpha=alpha, min_scores=min_scores)
    if warn and report.drifted:
        warnings.warn(f"{report.summary()}: the policy's quality certificate was earned on "
                      "different traffic. Label a fresh sample and calibrate again.",
                      DriftWarning, stacklevel=2)
    return report
