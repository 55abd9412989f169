"""`tiered-agents bench local`: the demo's batch review on real local models, tiered
(Qwen-0.5B workers; Qwen-1.5B planner, escalations and comparison) against the frontier tier
alone (Qwen-1.5B for everything), interleaved on the same servers, several repetitions each."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from tiered_agents.cli.contracts import make_contracts
from tiered_agents.cli.demo import DEMO_CONTRACTS, run_batch
from tiered_agents.local import NOMINAL_USD_PER_HOUR, LocalModels

__all__ = ["run_local_bench"]

MODES = ("tiered", "frontier_only")


def _spread(values: list[float], digits: int) -> dict[str, float]:
    return {"median": round(statistics.median(values), digits),
            "min": round(min(values), digits), "max": round(max(values), digits)}


def _summary(rows: list[dict[str, Any]], mode: str) -> dict[str, Any]:
    mine = [r for r in rows if r["mode"] == mode]
    return {"field_accuracy": _spread([r["field_accuracy"] for r in mine], 4),
            "cost_usd": _spread([r["cost_usd"] for r in mine], 8),
            "seconds": _spread([r["seconds"] for r in mine], 1),
            "escalated_subtasks": _spread([float(len(r["escalated"])) for r in mine], 1)}


def run_local_bench(count: int = DEMO_CONTRACTS, repetitions: int = 3,
                    out_dir: str | Path | None = None, console: Console | None = None,
                    remeasure: bool = False) -> dict[str, Any]:
    """Review `count` shipped contracts tiered and frontier-only, `repetitions` times each,
    alternating which goes first; write local.json and local.md to `out_dir`."""
    started = time.perf_counter()
    contracts = make_contracts(count)
    rows: list[dict[str, Any]] = []
    with LocalModels(remeasure=remeasure) as models:
        small, frontier = models.tiers()
        for rep in range(repetitions):
            for mode in MODES if rep % 2 == 0 else MODES[::-1]:
                outcome = run_batch(contracts, small, frontier,
                                    frontier_only=mode == "frontier_only")
                report = outcome.report
                rows.append({
                    "repetition": rep + 1, "mode": mode, "correct": outcome.correct,
                    "fields": outcome.total, "field_accuracy": outcome.accuracy,
                    "seconds": round(outcome.seconds, 2),
                    "cost_usd": float(report.total_cost_usd or 0),
                    "calls_by_tier": {k: v.calls for k, v in report.by_tier.items()},
                    "tokens_by_node": {f"{node}/{tier}": [u.input_tokens, u.output_tokens]
                                       for node, tier, u in report.rows()},
                    "escalated": outcome.escalated})
                if console is not None:
                    console.print(f"repetition {rep + 1} {mode}: {outcome.correct}/"
                                  f"{outcome.total} fields, {outcome.seconds:.1f} s, "
                                  f"${rows[-1]['cost_usd']:.6f}, escalated "
                                  f"{len(outcome.escalated)}")
        speeds = {name: {"prompt_tokens_per_second": s.prompt_tokens_per_second,
                         "output_tokens_per_second": s.output_tokens_per_second}
                  for name, s in models.speeds.items()}
    tiered, alone = _summary(rows, "tiered"), _summary(rows, "frontier_only")
    ratios = [f["cost_usd"] / t["cost_usd"] for t, f in zip(
        [r for r in rows if r["mode"] == "tiered"],
        [r for r in rows if r["mode"] == "frontier_only"], strict=True) if t["cost_usd"]]
    summary: dict[str, Any] = {
        "command": f"tiered-agents bench local --contracts {count} --repetitions {repetitions}",
        "contracts": count, "repetitions": repetitions,
        "tiered": tiered, "frontier_only": alone,
        "saving": round(alone["cost_usd"]["median"] / tiered["cost_usd"]["median"], 3)
        if tiered["cost_usd"]["median"] else None,
        "saving_per_repetition": _spread(ratios, 3) if ratios else None,
        "pricing": {"usd_per_hour": NOMINAL_USD_PER_HOUR, "speeds": speeds,
                    "rule": "tokens at each model's own llama.cpp speed on this machine "
                            "(measured alone), at the nominal machine price per hour"},
        "machine": {"cpu": platform.processor() or platform.machine(),
                    "cores": os.cpu_count(), "python": platform.python_version()},
        "seconds": round(time.perf_counter() - started, 1),
        "runs": rows,
    }
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "local.json").write_text(json.dumps(summary, indent=2) + "\n")
        (out / "local.md").write_text(_markdown(summary))
    return summary


def _markdown(summary: dict[str, Any]) -> str:
    def cell(v: dict[str, float], form: str) -> str:
        return f"{v['median']:{form}} ({v['min']:{form}}–{v['max']:{form}})"

    lines = ["| run | field accuracy | cost (USD) | seconds | escalated subtasks |",
             "|---|---|---|---|---|"]
    for name, key in (("tiered", "tiered"), ("frontier only", "frontier_only")):
        v = summary[key]
        lines.append(f"| {name} | {cell(v['field_accuracy'], '.1%')} | "
                     f"{cell(v['cost_usd'], '.6f')} | {cell(v['seconds'], '.1f')} | "
                     f"{cell(v['escalated_subtasks'], '.0f')} |")
    speeds = summary["pricing"]["speeds"]
    per = summary["saving_per_repetition"] or {"min": 0, "max": 0}
    lines += [
        "",
        f"**Saving: {summary['saving']}x** (median frontier-only cost / median tiered cost; "
        f"per repetition {per['min']}x–{per['max']}x). Medians with (min–max) over "
        f"{summary['repetitions']} repetitions of each, interleaved, {summary['contracts']} "
        "contracts of 7 fields, on the same llama.cpp servers.",
        "",
        f"Pricing: each token at its model's own speed on this machine, measured alone "
        f"(small: {speeds['small']['prompt_tokens_per_second']} prompt and "
        f"{speeds['small']['output_tokens_per_second']} output tokens/s; frontier: "
        f"{speeds['frontier']['prompt_tokens_per_second']} and "
        f"{speeds['frontier']['output_tokens_per_second']}), at a nominal "
        f"${summary['pricing']['usd_per_hour']}/hour. {summary['machine']['cores']} cores, "
        f"{summary['seconds']} s in all. Command: `{summary['command']}`.",
    ]
    return "\n".join(lines) + "\n"
