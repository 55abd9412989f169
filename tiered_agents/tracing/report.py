"""`CostReport`: a run's usage and dollars by node, tier, subtask and model, and the saving."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from tiered_agents.usage import Usage

__all__ = ["BASELINE", "CallRecord", "CostReport"]


@dataclass(frozen=True)
class CallRecord:
    """One model call, as the tracker attributed it."""

    node: str
    """The node's path in the graph, outer subgraph nodes first (`"planner"`,
    `"supervisor/agent"`, `"research_expert/agent"`): every agent of a multi-agent app has its
    own key."""
    tier: str | None
    subtask_id: str | None
    model: str
    usage: Usage
    reference_cost_usd: Decimal | None
    """What the same tokens would have cost on the frontier (reference) tier."""
    seconds: float | None = None
    """Wall-clock seconds of the call."""
    reference_usd_per_hour: Decimal | None = None
    """Set when the reference tier is priced by the hour: its cost for these tokens is then
    estimated from its own measured speed in the same report."""
    role: str | None = None
    """The tiered role of the node that made the call (`planner`, `worker`, `verify`, ...)."""
    attempt: int | None = None
    """The attempt number, for calls a worker made while trying a subtask or request."""
    node_name: str | None = None
    """The innermost node name alone (`"agent"`), or the tiered role (`"worker"`)."""
    baseline: bool = True
    """Whether the call stands in the frontier-only baseline: one answer per unit of work.
    Calls of rejected attempts, of retried tries, of verifiers and of the advisor do not."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data, dollars as exact decimal strings (`from_dict` reads it back), to
        carry a call across processes, as Temporal activities do."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "usage"}
        out["usage"] = {f.name: getattr(self.usage, f.name) for f in fields(self.usage)}
        for data, key in ((out, "reference_cost_usd"), (out, "reference_usd_per_hour"),
                          (out["usage"], "cost_usd")):
            data[key] = None if data[key] is None else str(data[key])
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CallRecord:
        """The call `to_dict` wrote (keys it does not know are ignored)."""
        usage = dict(data["usage"])
        usage["cost_usd"] = _decimal(usage.get("cost_usd"))
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values.update(usage=Usage(**usage),
                      reference_cost_usd=_decimal(data.get("reference_cost_usd")),
                      reference_usd_per_hour=_decimal(data.get("reference_usd_per_hour")))
        return cls(**values)


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _group(calls: list[CallRecord], key: str) -> dict[str, Usage]:
    out: dict[str, Usage] = {}
    for call in calls:
        name = getattr(call, key)
        if name is None:
            continue
        out.setdefault(name, Usage()).incr(call.usage)
    return out


def _usd(value: Decimal | None) -> str:
    return "unknown" if value is None else f"${value:.6f}"


BASELINE = ("one answer per request or subtask (the accepted attempt's tokens), plus planner "
            "and synthesizer, at the frontier's prices; rejected attempts, retries, verifier "
            "and advisor calls excluded")
"""What `CostReport.frontier_cost_usd` counts, in one line (the table's footer)."""


@dataclass
class CostReport:
    """What a run spent, where, and what it would have cost on the frontier model alone.

    The baseline (`frontier_cost_usd`) is the same requests answered by the reference model
    alone: for a tiered graph, the planner and synthesizer calls and one answer per subtask
    (the accepted attempt's tokens, its tool rounds included); for a cascade, one answer per
    request; for the advisor agent, the executor's loop. Everything is priced at the reference
    model's prices. Rejected attempts, retried tries, verifier calls and advisor consultations
    add to the actual cost only. In plain LangGraph apps every call counts once.
    """

    calls: list[CallRecord] = field(default_factory=list)
    references: tuple[str, ...] = ()
    """Names of the frontier models the baseline prices calls at (more than one only when a
    report mixes graphs with different frontier tiers)."""

    @property
    def reference(self) -> str | None:
        """The frontier model the saving is measured against (names joined if mixed)."""
        return " + ".join(self.references) if self.references else None

    @property
    def total(self) -> Usage:
        total = Usage()
        for call in self.calls:
            total.incr(call.usage)
        return total

    @property
    def total_cost_usd(self) -> Decimal | None:
        """Sum of the priced calls; `None` only when no call could be priced."""
        return self.total.cost_usd

    @property
    def by_node(self) -> dict[str, Usage]:
        """Usage per node path (`"supervisor/agent"`, `"research_expert/agent"`, `"planner"`)."""
        return _group(self.calls, "node")

    @property
    def by_node_name(self) -> dict[str, Usage]:
        """Usage per innermost node name (`"agent"`), whatever subgraph it runs in."""
        return _group(self.calls, "node_name")

    @property
    def by_tier(self) -> dict[str, Usage]:
        return _group(self.calls, "tier")

    @property
    def by_subtask(self) -> dict[str, Usage]:
        return _group(self.calls, "subtask_id")

    @property
    def by_model(self) -> dict[str, Usage]:
        return _group(self.calls, "model")

    def _reference_speed(self) -> tuple[float, float] | None:
        """Seconds per input and per output token of the reference model, fitted by least
        squares on its own calls in this report (non-negative; one shared rate as fallback)."""
        own = [c for c in self.calls if c.model in self.references and c.seconds]
        if not own:
            return None
        sii = sum(c.usage.input_tokens ** 2 for c in own)
        soo = sum(c.usage.output_tokens ** 2 for c in own)
        sio = sum(c.usage.input_tokens * c.usage.output_tokens for c in own)
        sis = sum(c.usage.input_tokens * (c.seconds or 0) for c in own)
        sos = sum(c.usage.output_tokens * (c.seconds or 0) for c in own)
        det = sii * soo - sio * sio
        if det > 0:
            a, b = (sis * soo - sos * sio) / det, (sos * sii - sis * sio) / det
            if a >= 0 and b >= 0:
                return a, b
        tokens = sum(c.usage.total_tokens for c in own)
        rate = sum(c.seconds or 0 for c in own) / tokens if tokens else 0.0
        return rate, rate

    @property
    def baseline_calls(self) -> list[CallRecord]:
        """The calls the frontier-only baseline re-prices (see the class docstring)."""
        return [c for c in self.calls if c.baseline]

    @property
    def frontier_cost_usd(self) -> Decimal | None:
        """What the same work would have cost on the frontier model alone; `None` if unknown.

        One reference-priced answer per unit of work (`baseline_calls`). For a frontier tier
        priced by the hour, each call's time on it is estimated from the frontier model's own
        measured speed in this report (its own calls count as measured).
        """
        speed = self._reference_speed()
        total = Decimal(0)
        for call in self.baseline_calls:
            if call.reference_cost_usd is not None:
                total += call.reference_cost_usd
            elif call.reference_usd_per_hour is not None and (
                    speed is not None or call.model in self.references):
                if call.model in self.references and call.seconds is not None:
                    seconds = call.seconds
                else:
                    assert speed is not None
                    seconds = speed[0] * call.usage.input_tokens + \
                        speed[1] * call.usage.output_tokens
                total += Decimal(str(seconds)) * call.reference_usd_per_hour / Decimal(3600)
            else:
                return None
        return total if self.calls else None

    @property
    def savings_ratio(self) -> float | None:
        """`frontier_cost_usd / total_cost_usd`: 3.0 means the run cost a third."""
        frontier, total = self.frontier_cost_usd, self.total_cost_usd
        if frontier is None or total is None or total == 0 or self.total.unpriced_calls:
            return None
        return float(frontier / total)

    @property
    def saved_usd(self) -> Decimal | None:
        """`frontier_cost_usd - total_cost_usd`: negative when the run cost more."""
        frontier, total = self.frontier_cost_usd, self.total_cost_usd
        if frontier is None or total is None or self.total.unpriced_calls:
            return None
        return frontier - total

    def verdict(self) -> str:
        """One line: how much cheaper (or dearer) the run was than the frontier alone."""
        ratio, saved = self.savings_ratio, self.saved_usd
        name = self.reference or "the frontier tier"
        if ratio is None or saved is None:
            return f"saving against {name} alone: unknown"
        if ratio >= 1:
            return f"saving {ratio:.2f}x against {name} alone ({_usd(saved)} saved)"
        return f"{1 / ratio:.2f}x more expensive than {name} alone ({_usd(-saved)} lost)"

    def to_dict(self) -> dict[str, Any]:
        def table(groups: dict[str, Usage]) -> dict[str, Any]:
            return {k: v.to_dict() for k, v in groups.items()}

        frontier = self.frontier_cost_usd
        return {
            "total": self.total.to_dict(),
            "total_cost_usd": None if self.total_cost_usd is None else float(self.total_cost_usd),
            "frontier_cost_usd": None if frontier is None else float(frontier),
            "savings_ratio": self.savings_ratio,
            "saved_usd": None if self.saved_usd is None else float(self.saved_usd),
            "reference": self.reference,
            "baseline": BASELINE,
            "baseline_calls": len(self.baseline_calls),
            "by_node": table(self.by_node),
            "by_tier": table(self.by_tier),
            "by_subtask": table(self.by_subtask),
            "by_model": table(self.by_model),
        }

    def rows(self) -> list[tuple[str, str, Usage]]:
        """(node, tier, usage) per node and tier, sorted: the table's body."""
        rows: dict[tuple[str, str], Usage] = {}
        for call in self.calls:
            rows.setdefault((call.node, call.tier or "-"), Usage()).incr(call.usage)
        return [(node, tier, usage) for (node, tier), usage in sorted(rows.items())]

    def caption(self) -> str:
        """The lines under the table: the baseline's cost, the verdict, and what it counts."""
        total = self.total
        if not self.calls:
            return ("no model calls were seen: pass the tracker to the run, e.g. "
                    "graph.invoke(..., config={'callbacks': [tracker]})")
        line = (f"on {self.reference or 'the frontier tier'} alone: "
                f"{_usd(self.frontier_cost_usd)}  ·  {self.verdict()}")
        if total.unpriced_calls:
            line += f"  ·  {total.unpriced_calls} unpriced call(s)"
        if len(self.references) > 1:
            line += "  ·  mixed frontier references"
        return f"{line}\nbaseline: {BASELINE}"

    def table(self) -> str:
        """The report as a plain text table (`print(report.table())`)."""
        header = ("node", "tier", "calls", "input tok", "output tok", "cost")
        body = [(node, tier, str(u.calls), f"{u.input_tokens:,}", f"{u.output_tokens:,}",
                 _usd(u.cost_usd)) for node, tier, u in self.rows()]
        total = self.total
        footer = ("total", "", str(total.calls), f"{total.input_tokens:,}",
                  f"{total.output_tokens:,}", _usd(total.cost_usd))
        widths = [max(len(row[i]) for row in (header, *body, footer)) for i in range(6)]

        def line(row: tuple[str, ...]) -> str:
            return "  ".join(cell.ljust(w) if i < 2 else cell.rjust(w)
                             for i, (cell, w) in enumerate(zip(row, widths, strict=True)))

        rule = "-" * len(line(header))
        return "\n".join(["Cost by node and tier", line(header), rule, *map(line, body), rule,
                          line(footer), "", self.caption(), ""])
