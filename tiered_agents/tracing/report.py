"""`CostReport`: a run's usage and dollars by node, tier, subtask and model, and the saving."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from tiered_agents.usage import Usage

__all__ = ["CallRecord", "CostReport"]


@dataclass(frozen=True)
class CallRecord:
    """One model call, as the tracker attributed it."""

    node: str
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


@dataclass
class CostReport:
    """What a run spent, where, and what it saved against the frontier model alone."""

    calls: list[CallRecord] = field(default_factory=list)
    reference: str | None = None
    """Name of the frontier model the saving is measured against."""

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
        return _group(self.calls, "node")

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
        own = [c for c in self.calls if c.model == self.reference and c.seconds]
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
    def frontier_cost_usd(self) -> Decimal | None:
        """The same token counts priced at the frontier tier's prices; `None` if unknown.

        For a frontier tier priced by the hour, each call's time on it is estimated from the
        frontier model's own measured speed in this report (its own calls count as measured).
        """
        speed = self._reference_speed()
        total = Decimal(0)
        for call in self.calls:
            if call.reference_cost_usd is not None:
                total += call.reference_cost_usd
            elif call.reference_usd_per_hour is not None and (
                    speed is not None or call.model == self.reference):
                if call.model == self.reference and call.seconds is not None:
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

    def to_dict(self) -> dict[str, Any]:
        def table(groups: dict[str, Usage]) -> dict[str, Any]:
            return {k: v.to_dict() for k, v in groups.items()}

        frontier = self.frontier_cost_usd
        return {
            "total": self.total.to_dict(),
            "total_cost_usd": None if self.total_cost_usd is None else float(self.total_cost_usd),
            "frontier_cost_usd": None if frontier is None else float(frontier),
            "savings_ratio": self.savings_ratio,
            "reference": self.reference,
            "by_node": table(self.by_node),
            "by_tier": table(self.by_tier),
            "by_subtask": table(self.by_subtask),
            "by_model": table(self.by_model),
        }

    def rich_table(self) -> Table:
        table = Table(title="Cost by node and tier", show_footer=True)
        for header in ("node", "tier", "calls", "input tok", "output tok", "cost"):
            table.add_column(header, justify="left" if header in ("node", "tier") else "right")
        rows: dict[tuple[str, str], Usage] = {}
        for call in self.calls:
            rows.setdefault((call.node, call.tier or "-"), Usage()).incr(call.usage)
        for (node, tier), usage in sorted(rows.items()):
            table.add_row(node, tier, str(usage.calls), f"{usage.input_tokens:,}",
                          f"{usage.output_tokens:,}", _usd(usage.cost_usd))
        total = self.total
        table.columns[0].footer = "total"
        table.columns[2].footer = str(total.calls)
        table.columns[3].footer = f"{total.input_tokens:,}"
        table.columns[4].footer = f"{total.output_tokens:,}"
        table.columns[5].footer = _usd(total.cost_usd)
        ratio = self.savings_ratio
        table.caption = (
            f"on {self.reference or 'the frontier tier'} alone: {_usd(self.frontier_cost_usd)}"
            + (f"  ·  saving {ratio:.2f}x" if ratio is not None else "")
            + (f"  ·  {total.unpriced_calls} unpriced call(s)" if total.unpriced_calls else "")
        )
        return table

    def table(self) -> str:
        """The report as a text table (`print(report.table())`)."""
        buffer = io.StringIO()
        Console(file=buffer, width=100, force_terminal=False).print(self.rich_table())
        return buffer.getvalue()
