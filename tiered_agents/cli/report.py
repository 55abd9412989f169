"""The cost report as a rich table, for the command line."""

from __future__ import annotations

from rich.table import Table

from tiered_agents.tracing import CostReport

__all__ = ["rich_table"]


def _usd(value: object) -> str:
    return "unknown" if value is None else f"${value:.6f}"


def rich_table(report: CostReport) -> Table:
    """`report` as a `rich` table: a row per node and tier, totals, and the baseline."""
    table = Table(title="Cost by node and tier", show_footer=True)
    for header in ("node", "tier", "calls", "input tok", "output tok", "cost"):
        table.add_column(header, justify="left" if header in ("node", "tier") else "right")
    for node, tier, usage in report.rows():
        table.add_row(node, tier, str(usage.calls), f"{usage.input_tokens:,}",
                      f"{usage.output_tokens:,}", _usd(usage.cost_usd))
    total = report.total
    table.columns[0].footer = "total"
    table.columns[2].footer = str(total.calls)
    table.columns[3].footer = f"{total.input_tokens:,}"
    table.columns[4].footer = f"{total.output_tokens:,}"
    table.columns[5].footer = _usd(total.cost_usd)
    table.caption = report.caption()
    return table
