"""Run `tiered-agents bench replay` over every recorded file: calibrate on one half of each
file, test on the other half, then swap the halves (two-fold cross-validation).

    python bench/replay_all.py [--data ../shared/data/recorded] [--target-quality 0.99]

Each run goes through `create_cascade` executed by LangGraph with `CostTracker` attached.
Writes bench/results/replay/<file>/fold<k>/{results.json,pareto.png} and
bench/results/replay/summary.{json,md}. The recordings themselves are read, never copied.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine  # noqa: E402

from tiered_agents.replay import load_recording  # noqa: E402
from tiered_agents.replay_bench import run_replay_bench  # noqa: E402

ROOT = Path(__file__).resolve().parent


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(ROOT.parent.parent / "shared" / "data" / "recorded"))
    parser.add_argument("--target-quality", type=float, default=0.99)
    parser.add_argument("--margin", type=float, default=1.0)
    parser.add_argument("--out", default=str(ROOT / "results" / "replay"))
    args = parser.parse_args()
    files = sorted(Path(args.data).glob("*.jsonl*"))
    if not files:
        sys.exit(f"no recordings under {args.data}")
    out = Path(args.out)
    rows = []
    started = time.perf_counter()
    for path in files:
        records = load_recording(path)
        order = list(range(len(records)))
        random.Random(0).shuffle(order)
        half = len(order) // 2
        folds = [order[:half], order[half:]]
        for k, (train_ids, test_ids) in enumerate([(folds[0], folds[1]), (folds[1], folds[0])]):
            name = path.name.split(".")[0]
            results = run_replay_bench([records[i] for i in train_ids],
                                       [records[i] for i in test_ids],
                                       target_quality=args.target_quality, margin=args.margin,
                                       out_dir=out / name / f"fold{k}",
                                       title=f"{name}, fold {k}: calibrated on the other half")
            rows.append({
                "file": name, "fold": k,
                "tiered_accuracy": results["tiered"]["accuracy"],
                "top_accuracy": results["top_model"]["accuracy"],
                "quality_vs_top": results["quality_vs_top"],
                "meets_target": results["tiered"]["accuracy"] >=
                args.target_quality * results["top_model"]["accuracy"],
                "tiered_cost_usd": results["tiered"]["cost_usd"],
                "top_cost_usd": results["top_model"]["cost_usd"],
                "savings_vs_top": results["savings_vs_top"],
                "oracle_savings": results["top_model"]["cost_usd"] / results["oracle"]["cost_usd"],
                "policy": results["tiered"]["policy"]["tiers"],
            })
            print(f"{name} fold {k}: {rows[-1]['savings_vs_top']:.2f}x at "
                  f"{rows[-1]['quality_vs_top']:.1%} of the top model's accuracy", flush=True)
    summary = {
        "command": "python bench/replay_all.py",
        "machine": machine(),
        "seconds": round(time.perf_counter() - started, 1),
        "target_quality": args.target_quality,
        "margin": args.margin,
        "geomean_savings_vs_top": geomean([r["savings_vs_top"] for r in rows]),
        "geomean_oracle_savings": geomean([r["oracle_savings"] for r in rows]),
        "mean_quality_vs_top": sum(r["quality_vs_top"] for r in rows) / len(rows),
        "runs_meeting_target": sum(r["meets_target"] for r in rows),
        "runs": len(rows),
        "rows": rows,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    lines = ["| file | fold | tiered acc | top acc | quality vs top | saving vs top | oracle "
             "saving | ladder |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['file']} | {r['fold']} | {r['tiered_accuracy']:.3f} | "
                     f"{r['top_accuracy']:.3f} | {r['quality_vs_top']:.1%}"
                     f"{'' if r['meets_target'] else ' (below)'} | {r['savings_vs_top']:.2f}x | "
                     f"{r['oracle_savings']:.1f}x | {' > '.join(r['policy'])} |")
    lines.append(f"\nGeometric mean saving vs the top model: "
                 f"**{summary['geomean_savings_vs_top']:.2f}x**; mean quality vs top "
                 f"{summary['mean_quality_vs_top']:.1%}; {summary['runs_meeting_target']}/"
                 f"{summary['runs']} runs at >= {args.target_quality:.0%} of the top model's "
                 f"accuracy. Oracle: {summary['geomean_oracle_savings']:.1f}x. "
                 f"Machine: {summary['machine']['cpu']}, {summary['machine']['cores']} cores; "
                 f"{summary['seconds']} s.")
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
