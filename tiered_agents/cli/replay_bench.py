"""`tiered-agents bench replay`: calibrate on recorded answers, then run the test questions
through `create_cascade` (LangGraph, with `CostTracker` attached) and compare with each model
alone, the top model, the best single model and an oracle; check the test traffic for drift.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

from tiered_agents import CostTracker, EscalationPolicy, Tier, calibrate, create_cascade
from tiered_agents.calibration import frontier_policies, simulate, to_examples
from tiered_agents.certificate import Certificate
from tiered_agents.drift import compare_scores, scores_by_tier
from tiered_agents.errors import OverlapWarning, UnpricedModelWarning
from tiered_agents.replay import ReplayChatModel, recording_messages
from tiered_agents.verifiers import ConfidenceVerifier

__all__ = ["models_cheapest_first", "plot_replay", "recorded_scores",
           "run_replay_bench", "short_name"]


def short_name(path: str | Path) -> str:
    """`mmlu_qwen_oai_train` for `.../mmlu_qwen_oai_train.jsonl.gz`."""
    return Path(path).name.split(".")[0]

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


def _best_single(figures: Mapping[str, Mapping[str, float]]) -> str:
    """The most accurate single model (the cheaper one on a tie)."""
    return max(figures, key=lambda m: (figures[m]["accuracy"], -figures[m]["cost_usd"]))


def recorded_scores(examples: Sequence[Mapping[str, Any]], models: Sequence[str]
            ) -> dict[str, list[float]]:
    """Every model's recorded confidences (the drift check's unconditional view)."""
    return {m: [float(e[m].score) for e in examples if e[m].score is not None] for m in models}


def _key(record: Record) -> str:
    return json.dumps(record.get("messages"), sort_keys=True)


def _overlap(train: Sequence[Record], test: Sequence[Record]) -> int:
    seen = {_key(r) for r in train}
    return sum(1 for r in test if _key(r) in seen)


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
            outcomes.append({"tier": out["tier"], "attempts": [a["tier"] for a in out["attempts"]],
                             "correct": bool(record["answers"][out["tier"]]["correct"]),
                             "scores": scores_by_tier([out])})
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


def plot_replay(path: str | Path, results: Mapping[str, Any], test: Sequence[Record],
                title: str) -> bool:
    """Write the cost/accuracy plot of a `run_replay_bench` result on its `test` records;
    `False` (and no file) when matplotlib is not installed (`pip install matplotlib`)."""
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(results["models"])
    test_examples = to_examples(test, models)
    fig, ax = plt.subplots(figsize=(8, 6.2))
    certificate = Certificate.from_dict(results["certificate"])
    frontier = sorted((simulate(r.policy, test_examples, models)
                       for r in frontier_policies(certificate)),
                      key=lambda r: r.cost_usd)
    ax.plot([r.cost_usd for r in frontier], [r.accuracy for r in frontier], "-", color="0.6",
            label="frontier of searched policies (fit on calibration, shown on test)")
    for name, figures in results["models"].items():
        ax.scatter(figures["cost_usd"], figures["accuracy"], color="black", zorder=3)
        ax.annotate(name, (figures["cost_usd"], figures["accuracy"]), fontsize=8,
                    xytext=(4, -10), textcoords="offset points")
    top, best = results["top_model"], results["best_single_model"]
    ax.scatter(top["cost_usd"], top["accuracy"], marker="s", s=90, facecolors="none",
               edgecolors="black", label=f"top model ({top['name']})", zorder=4)
    if best["name"] != top["name"]:
        ax.scatter(best["cost_usd"], best["accuracy"], marker="^", s=90, facecolors="none",
                   edgecolors="tab:purple", label=f"best single model ({best['name']})",
                   zorder=4)
    oracle, tiered = results["oracle"], results["tiered"]
    ax.scatter(oracle["cost_usd"], oracle["accuracy"], marker="*", s=160, color="tab:green",
               label="oracle (cheapest correct model)", zorder=4)
    certified = results["certificate"]["certified"]
    ax.scatter(tiered["cost_usd"], tiered["accuracy"], marker="D", s=80, color="tab:red",
               label="calibrated policy, " + ("certified" if certified else
                                               "nothing certified: top alone")
               + " (run through LangGraph)", zorder=5)
    ax.axhline(results["target_quality"] * top["accuracy"], color="tab:red", lw=0.8, ls=":",
               label=f"{results['target_quality']:.0%} of the top model's accuracy")
    ax.set_xscale("log")
    ax.set_xlabel("cost of the test questions (USD, log scale)")
    ax.set_ylabel("accuracy on the test questions")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2,
              frameon=False)
    fig.tight_layout()
    fig.savefig(Path(path), dpi=110)
    plt.close(fig)
    return True


def run_replay_bench(
    train: Sequence[Record],
    test: Sequence[Record],
    *,
    target_quality: float = 0.99,
    confidence: float = 0.9,
    out_dir: str | Path | None = None,
    title: str = "replay",
    console: Console | None = None,
    plot: bool = True,
) -> dict[str, Any]:
    """Calibrate on `train`, replay `test` through the cascade, and return the results.

    With `out_dir`, write `results.json` there and, when `plot` and matplotlib is installed,
    `pareto.png` (`results["plot"]` names it; `plot_replay` draws it later). Warns
    (`OverlapWarning`) when test questions also appear in `train`.
    """
    if not train or not test:
        raise ValueError("bench replay needs records in both the train and the test file.")
    overlap = _overlap(train, test)
    if overlap:
        warnings.warn(f"{overlap} of the {len(test)} test questions are also in the calibration "
                      "set: accuracy and savings on them are not a test of unseen questions. "
                      "Pass disjoint --train and --test files.", OverlapWarning, stacklevel=2)
    models = models_cheapest_first(train)
    train_examples = to_examples(train, models)
    policy = calibrate(train_examples, models, target_quality=target_quality,
                       confidence=confidence)
    certificate = policy.certificate
    assert certificate is not None
    outcomes, tracker = _run_cascade(policy, models, test, console)
    report = tracker.report()
    test_examples = to_examples(test, models)
    check = simulate(policy, test_examples, models)
    top = models[-1]
    singles = {m: _alone(test, m) for m in models}
    best = _best_single(singles)
    live: dict[str, list[float]] = {}
    for outcome in outcomes:
        for tier, values in outcome["scores"].items():
            live.setdefault(tier, []).extend(values)
    live_drift = compare_scores(certificate.scores, live)
    all_tiers = compare_scores(recorded_scores(train_examples, models),
                               recorded_scores(test_examples, models))
    plain = {k: v for k, v in policy.to_dict().items() if k != "certificate"}
    results: dict[str, Any] = {
        "tiered": {
            "accuracy": sum(o["correct"] for o in outcomes) / len(outcomes),
            "cost_usd": float(report.total_cost_usd or 0.0),
            "escalation_rate": _escalation_rate(outcomes),
            "policy": plain,
            "model_calls": report.total.calls,
        },
        "policy": plain,
        "certificate": certificate.to_dict() | {"summary": certificate.summary()},
        "top_model": {"name": top, **singles[top]},
        "best_single_model": {"name": best, **singles[best]},
        "models": singles,
        "oracle": _oracle(test, models),
        "target_quality": target_quality,
        "confidence": confidence,
        "calibration": {"train_questions": len(train), "test_questions": len(test),
                        "overlapping_questions": overlap,
                        "train_accuracy": certificate.accuracy,
                        "train_top_accuracy": certificate.top_accuracy},
        "drift": {"live": live_drift.to_dict(), "all_tiers": all_tiers.to_dict(),
                  "drifted": live_drift.drifted or all_tiers.drifted},
        "check": {"simulated_accuracy": check.accuracy, "simulated_cost_usd": check.cost_usd},
    }
    tiered, top_model = results["tiered"], results["top_model"]
    results["savings_vs_top"] = top_model["cost_usd"] / tiered["cost_usd"] if \
        tiered["cost_usd"] else None
    results["quality_vs_top"] = tiered["accuracy"] / top_model["accuracy"] if \
        top_model["accuracy"] else None
    results["meets_target"] = tiered["accuracy"] >= target_quality * top_model["accuracy"]
    results["plot"] = None
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        if plot and plot_replay(out / "pareto.png", results, test, title):
            results["plot"] = str(out / "pareto.png")
        (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    return results
