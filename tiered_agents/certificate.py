"""`Certificate`: what `calibrate` proved about the policy it returned, and on what data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Certificate"]


@dataclass(frozen=True, kw_only=True)
class Certificate:
    """The statistical claim behind a calibrated `EscalationPolicy`.

    When `certified`, then with probability at least `confidence` over the draw of the
    calibration examples, the policy's accuracy on new questions from the same distribution is
    at least `target_quality` x the top tier's. It assumes the calibration questions and the
    future ones are exchangeable (drawn alike); `tiered_agents.drift.check_drift` warns when
    live verifier scores say they are not.
    """

    certified: bool
    """False when no cheaper policy could be certified: the policy is then the top tier
    alone (which meets any target by definition)."""
    target_quality: float
    """The certified share of the top tier's accuracy."""
    confidence: float
    """The probability, over the calibration draw, that the claim holds."""
    method: str
    """How the claim was tested, in words."""
    examples: int
    """Labelled examples it was calibrated on."""
    families: int
    """Policy families tested (the confidence is split evenly between them)."""
    tested: int
    """Hypotheses tested in all (fixed-sequence within each family)."""
    p_value: float | None
    """The chosen policy's p-value (`None` for the top tier alone, which needs no test)."""
    accuracy: float
    """The policy's accuracy on the calibration examples."""
    top_accuracy: float
    """The top tier's accuracy on the same examples."""
    cost_usd: float
    """The policy's cost on the calibration examples."""
    top_cost_usd: float
    """The top tier's cost on the same examples."""
    frontier: tuple[Mapping[str, Any], ...] = ()
    """The searched policies no other beats on both cost and accuracy on the calibration
    examples (uncertified, for information): dicts with tiers, thresholds,
    accept_on_agreement, cost_usd and accuracy."""
    scores: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    """Per tier the policy decides on: quantiles of the verifier scores it saw at calibration
    (for the drift check)."""

    @property
    def expected_saving(self) -> float | None:
        """Top tier's cost over the policy's, on the calibration examples (in-sample)."""
        return self.top_cost_usd / self.cost_usd if self.cost_usd else None

    def summary(self) -> str:
        """One line for people."""
        if not self.certified:
            return (f"nothing cheaper than the top tier could be certified at "
                    f"{self.target_quality:.0%} of its accuracy with {self.confidence:.0%} "
                    f"confidence on {self.examples} examples: using the top tier alone")
        saving = self.expected_saving
        return (f"certified: accuracy >= {self.target_quality:.0%} of the top tier's with "
                f"{self.confidence:.0%} confidence (p = {self.p_value:.3g}, {self.examples} "
                f"examples); expected saving {saving:.2f}x on the calibration data"
                if saving is not None else "certified")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["frontier"] = [dict(f) for f in self.frontier]
        out["scores"] = {k: list(v) for k, v in self.scores.items()}
        out["expected_saving"] = self.expected_saving
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Certificate:
        values = {k: v for k, v in data.items() if k not in ("expected_saving", "summary")}
        values["frontier"] = tuple(dict(f) for f in values.get("frontier") or ())
        values["scores"] = {k: tuple(float(x) for x in v)
                            for k, v in (values.get("scores") or {}).items()}
        return cls(**values)
