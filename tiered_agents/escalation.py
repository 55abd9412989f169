"""`EscalationPolicy`: which tiers answer, in what order, and when an answer is good enough."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tiered_agents.certificate import Certificate

__all__ = ["EscalationPolicy", "normalize_answer"]

_FINAL = re.compile(r"####\s*(.+?)\s*$", re.DOTALL)
_PUNCT = re.compile(r"[\s\.,;:!\"'`$()\[\]{}]+")


def normalize_answer(text: Any) -> str:
    """A comparable form of an answer, for "two tiers agree" checks.

    JSON values compare as canonical JSON. Text keeps what follows a final-answer marker
    (`#### x`) when there is one, else its last non-empty line, without case, spaces or
    punctuation. Heuristic and format-agnostic: calibration uses agreement only where it helps
    on labelled data.
    """
    if not isinstance(text, str):
        return json.dumps(text, sort_keys=True, ensure_ascii=False)
    final = _FINAL.search(text)
    if final:
        text = final.group(1)
    else:
        lines = [line for line in text.strip().splitlines() if line.strip()]
        text = lines[-1] if lines else ""
    return _PUNCT.sub("", text).lower()


@dataclass(frozen=True, kw_only=True)
class EscalationPolicy:
    """How a request climbs the ladder of tiers. Serialises to and from JSON.

    Example:
        ```python
        policy = EscalationPolicy(tiers=("gpt-5-mini", "claude-opus-4-7"),
                                  thresholds={"gpt-5-mini": -0.2})
        policy.save("policy.json"); EscalationPolicy.load("policy.json")
        ```
    """

    tiers: tuple[str, ...] | None = None
    """Tier names to use, cheapest first (tiers left out are skipped); `None` uses all."""
    thresholds: Mapping[str, float] = field(default_factory=dict)
    """Per tier: accept its answer when the verifier's score is at least this. A tier without
    a threshold accepts when the verifier says `passed`."""
    accept_on_agreement: frozenset[str] = frozenset()
    """Tiers whose answer is accepted without verification when it matches (after
    `normalize_answer`) the answer of an earlier tier of the same request."""
    max_attempts: int | None = None
    """At most this many answered attempts per request or subtask; the last one is accepted.
    A call that failed (a provider error, after its retries) produced no answer and does not
    count."""
    certificate: Certificate | None = field(default=None, compare=False, repr=False)
    """What `calibrate` certified about this policy (and the scores it saw, for the drift
    check); `None` for a policy written by hand."""

    def __post_init__(self) -> None:
        if self.tiers is not None:
            object.__setattr__(self, "tiers", tuple(self.tiers))
            if not self.tiers:
                raise ValueError("EscalationPolicy.tiers must name at least one tier, or be None.")
        object.__setattr__(self, "thresholds", dict(self.thresholds))
        object.__setattr__(self, "accept_on_agreement", frozenset(self.accept_on_agreement))
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}.")

    def ladder(self, available: Sequence[str], start: str | None = None) -> list[str]:
        """The tiers a request climbs, from `start` (default: the policy's first) upwards."""
        names = list(self.tiers) if self.tiers is not None else list(available)
        unknown = [n for n in names if n not in available]
        if unknown:
            raise ValueError(
                f"EscalationPolicy names tiers {unknown} that the graph does not have "
                f"({list(available)}); rename them or pass the matching tiers."
            )
        if start is not None and start in available:
            floor = list(available).index(start)
            above = [n for n in names if list(available).index(n) >= floor]
            names = above if start in above else [start, *above]
        return (names or [start]) if start else names

    def accepts(self, tier: str, passed: bool, score: float | None) -> bool:
        threshold = self.thresholds.get(tier)
        if threshold is None or score is None:
            return passed
        return score >= threshold

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "tiers": list(self.tiers) if self.tiers is not None else None,
            "thresholds": dict(self.thresholds),
            "accept_on_agreement": sorted(self.accept_on_agreement),
            "max_attempts": self.max_attempts}
        if self.certificate is not None:
            out["certificate"] = self.certificate.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EscalationPolicy:
        unknown = set(data) - {"tiers", "thresholds", "accept_on_agreement", "max_attempts",
                               "certificate"}
        if unknown:
            raise ValueError(f"Unknown EscalationPolicy fields {sorted(unknown)}.")
        tiers = data.get("tiers")
        return cls(tiers=tuple(tiers) if tiers is not None else None,
                   thresholds={k: float(v) for k, v in (data.get("thresholds") or {}).items()},
                   accept_on_agreement=frozenset(data.get("accept_on_agreement") or ()),
                   max_attempts=data.get("max_attempts"),
                   certificate=Certificate.from_dict(data["certificate"])
                   if data.get("certificate") else None)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> EscalationPolicy:
        return cls.from_dict(json.loads(text))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | Path) -> EscalationPolicy:
        return cls.from_json(Path(path).read_text())
