"""`tiered-agents bench local`: the contract review on real local models, tiered (Gemma-270M
workers, Qwen-1.5B planner and escalation) against the frontier tier alone (Qwen-1.5B for
everything), side by side in one run on the same servers."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from tiered_agents.cli.contracts import make_contracts
from tiered_agents.cli.demo import run_review
from tiered_agents.local import NOMINAL_USD_PER_HOUR, LocalModels

__all__ = ["run_local_bench"]


def run_local_bench(count: int = 5, out_dir: str | Path | None = None,
                    console: Console | None = None) -> dict[str, Any]:
    """Review `count` shipped contracts both ways; write local.json and local.md."""
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    with LocalModels() as models:
        small, frontier = models.tiers()
        for contract in make_contracts(count):
            for label, frontier_only in (("tiered", False), ("frontier_only", True)):
                outcome = run_review(contract, small, frontier, frontier_only=frontier_only)
                report = outcome.report
                rows.append({
                    "contract": contract.id, "run": label, "correct": outcome.correct,
                    "fields": len(contract.answers), "seconds": round(outcome.seconds, 2),
                    "cost_usd": float(report.total_cost_usd or 0), "calls": report.total.calls,
                    "calls_by_tier": {k: v.calls for k, v in report.by_tier.items()},
                })
                if console is not None:
                    console.print(f"{contract.id} {label}: {outcome.correct}/7 fields, "
                                  f"{outcome.seconds:.1f} s, ${rows[-1]['cost_usd']:.6f}")
    summary: dict[str, Any] = {
        "command": "tiered-agents bench local", "contracts": count,
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
        "usd_per_hour": NOMINAL_USD_PER_HOUR, "seconds": round(time.perf_counter() - started, 1)}
    for label in ("tiered", "frontier_only"):
        mine = [r for r in rows if r["run"] == label]
        summary[label] = {
            "field_accuracy": sum(r["correct"] for r in mine) / sum(r["fields"] for r in mine),
            "mean_seconds": sum(r["seconds"] for r in mine) / len(mine),
            "cost_usd": sum(r["cost_usd"] for r in mine),
        }
    summary["rows"] = rows
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "local.json").write_text(json.dumps(summary, indent=2) + "\n")
        t, f = summary["tiered"], summary["frontier_only"]
        lines = ["| run | field accuracy | mean seconds per contract | cost (USD) |",
                 "|---|---|---|---|",
                 *(f"| {name} | {v['field_accuracy']:.1%} | {v['mean_seconds']:.1f} | "
                   f"{v['cost_usd']:.6f} |" for name, v in (("tiered", t), ("frontier only", f))),
                 "", f"{count} contracts, 7 fields each, both runs on the same llama.cpp "
                 f"servers in one process; cost = wall-clock seconds x ${NOMINAL_USD_PER_HOUR}"
                 f"/hour; {summary['machine']['cores']} cores; total {summary['seconds']} s. "
                 "Command: `tiered-agents bench local`."]
        (out / "local.md").write_text("\n".join(lines) + "\n")
    return summary
