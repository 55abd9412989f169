"""`tiered-agents bench replay`: calibrate on recorded answers, then run the test questions
through `create_cascade` (LangGraph, with `CostTracker` attached) and compare with each model
alone, the top model and an oracle.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

from tiered_agents.calibration import Calibration, search_policies, simulate, to_examples
from tiered_agents.cascade import create_cascade
from tiered_agents.escalation import EscalationPolicy
from tiered_agents.pricing import UnpricedModelWarning
from tiered_agents.replay import ReplayChatModel, recording_messages
from tiered_agents.tiers import Tier
from tiered_agents.tracing import CostTracker
from tiered_agents.verifiers import ConfidenceVerifier

__all__ = ["models_cheapest_first", "run_replay_bench"]

Record = Mapping[str, Any]


def models_cheapest_first(records: Sequence[Record]) -> list[str]:
    """The recorded models, ordered by their mean recorded cost per question."""
    totals: dict[str, float] = {}
    for record in records:
        for model, answer in record["answers"].items():
            totals[model] = totals.get(model, 0.0) + float(answer["cost_usd"])
    return sorted(totals, key=lambda m: totals[m])


def _alone(records: Sequence[Record], model: str) -> dict[str, float]:
    return {"accuracy": sum(r["answers"][model]["correct"] for r in records) / len(records),
            "cost_usd": sum(float(r["answers"][model]["cost_usd"]) for r in records)}


def _oracle(records: Sequence[Record], models: Sequence[str]) -> dict[str, float]:
    correct, cost = 0, 0.0
    for record in records:
        right = [m for m in models if record["answers"][m]["correct"]]
        pick = min(right or models, key=lambda m: float(record["answers"][m]["cost_usd"]))
        correct += bool(right)
        cost += float(record["answers"][pick]["cost_usd"])
    return {"accuracy": correct / len(records), "cost_usd": cost}


def _run_cascade(policy: EscalationPolicy, models: Sequence[str], records: Sequence[Record],
                 console: Console | None) -> tuple[list[dict[str, Any]], CostTracker]:
    tiers = [Tier(m, ReplayChatModel(recording=records, model=m)) for m in models]
    cascade = create_cascade(tiers, verifier=ConfidenceVerifier(threshold=0.0),
                             escalation=policy, name="replay_cascade")
    tracker = CostTracker()
    outcomes = []
    # Recorded costs are charged as recorded: the top model need not be in genai-prices.
    with warnings.catch_warnings(), Progress(console=console, transient=True,
                                             disable=console is None) as progress:
        warnings.simplefilter("ignore", UnpricedModelWarning)
        task = progress.add_task("replaying test questions", total=len(records))
        for record in records:
            out = cascade.invoke({"messages": recording_messages(record)},
                                 config={"callbacks": [tracker]})
            outcomes.append({"tier": out["tier"], "attempts": [a.tier for a in out["attempts"]],
                             "correct": bool(record["answers"][out["tier"]]["correct"])})
            progress.advance(task)
    return outcomes, tracker


def _escalation_rate(outcomes: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    reached: dict[str, int] = {}
    passed_up: dict[str, int] = {}
    for outcome in outcomes:
        for i, tier in enumerate(outcome["attempts"]):
            reached[tier] = reached.get(tier, 0) + 1
            if i < len(outcome["attempts"]) - 1:
                passed_up[tier] = passed_up.get(tier, 0) + 1
    return {t: passed_up.get(t, 0) / n for t, n in reached.items()}


def _plot(path: Path, results: Mapping[str, Any], calibration: Calibration,
          test_examples: Sequence[Any], models: Sequence[str], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5))
    frontier = sorted((simulate(r.policy, test_examples, models) for r in calibration.frontier),
                      key=lambda r: r.cost_usd)
    ax.plot([r.cost_usd for r in frontier], [r.accuracy for r in frontier], "-", color="0.6",
            label="frontier of searched policies (fit on train, shown on test)")
    cheap, top = models[0], models[-1]
    sweep = []
    scores = sorted({e[cheap].score for e in test_examples if e[cheap].score is not None})
    for threshold in [-math.inf, *scores, math.inf]:
        policy = EscalationPolicy(tiers=(cheap, top), thresholds={
            cheap: 1e9 if threshold == math.inf else -1e9 if threshold == -math.inf
            else threshold})
        sweep.append(simulate(policy, test_examples, models))
    ax.plot([r.cost_usd for r in sweep], [r.accuracy for r in sweep], "--", color="tab:blue",
            label=f"threshold sweep {cheap} -> {top}")
    for name, figures in results["models"].items():
        ax.scatter(figures["cost_usd"], figures["accuracy"], color="black", zorder=3)
        ax.annotate(name, (figures["cost_usd"], figures["accuracy"]), fontsize=8,
                    xytext=(4, -10), textcoords="offset points")
    oracle, tiered = results["oracle"], results["tiered"]
    ax.scatter(oracle["cost_usd"], oracle["accuracy"], marker="*", s=160, color="tab:green",
               label="oracle (cheapest correct model)", zorder=4)
    ax.scatter(tiered["cost_usd"], tiered["accuracy"], marker="D", s=80, color="tab:red",
               label="calibrated policy (run through LangGraph)", zorder=5)
    top_acc = results["top_model"]["accuracy"]
    ax.axhline(results["target_quality"] * top_acc, color="tab:red", lw=0.8, ls=":",
               label=f"{results['target_quality']:.0%} of the top model's accuracy")
    ax.set_xscale("log")
    ax.set_xlabel("cost of the test questions (USD, log scale)")
    ax.set_ylabel("accuracy")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_replay_bench(
    train: Sequence[Record],
    test: Sequence[Record],
    *,
    target_quality: float = 0.99,
    margin: float = 1.0,
    out_dir: str | Path | None = None,
    title: str = "replay",
    console: Console | None = None,
) -> dict[str, Any]:
    """Calibrate on `train`, replay `test` through the cascade, write results.json and
    pareto.png under `out_dir`, and return the results."""
    if not train or not test:
        raise ValueError("bench replay needs records in both the train and the test file.")
    models = models_cheapest_first(train)
    calibration = search_policies(to_examples(train, models), models,
                                  target_quality=target_quality, margin=margin)
    policy = calibration.policy
    outcomes, tracker = _run_cascade(policy, models, test, console)
    report = tracker.report()
    test_examples = to_examples(test, models)
    check = simulate(policy, test_examples, models)
    top = models[-1]
    results: dict[str, Any] = {
        "tiered": {
            "accuracy": sum(o["correct"] for o in outcomes) / len(outcomes),
            "cost_usd": float(report.total_cost_usd or 0.0),
            "escalation_rate": _escalation_rate(outcomes),
            "policy": policy.to_dict(),
            "model_calls": report.total.calls,
        },
        "top_model": {"name": top, **_alone(test, top)},
        "models": {m: _alone(test, m) for m in models},
        "oracle": _oracle(test, models),
        "target_quality": target_quality,
        "calibration": {"margin": margin, "train_questions": len(train),
                        "test_questions": len(test), "train_accuracy": calibration.train.accuracy,
                        "train_top_accuracy": calibration.top_accuracy},
        "check": {"simulated_accuracy": check.accuracy, "simulated_cost_usd": check.cost_usd},
    }
    tiered, top_model = results["tiered"], results["top_model"]
    results["savings_vs_top"] = top_model["cost_usd"] / tiered["cost_usd"] if \
        tiered["cost_usd"] else None
    results["quality_vs_top"] = tiered["accuracy"] / top_model["accuracy"] if \
        top_model["accuracy"] else None
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        _plot(out / "pareto.png", results, calibration, test_examples, models, title)
    return results
