"""Certified calibration on every recorded file, on questions the calibration never saw.

    python bench/replay_all.py [--data ../shared/data/recorded] [--calibrate 150] [--splits 5]
                               [--target-quality 0.99] [--confidence 0.9]

Protocol ("exchangeable", as a user who labels a sample of their own traffic): for each file
and each of `--splits` random splits, calibrate on `--calibrate` random questions and test on
the rest. Every test run goes through `create_cascade` executed by LangGraph with `CostTracker`
attached (`tiered-agents bench replay`). Reported: the geometric-mean saving against the top
model, how many runs fall below the target (overall, and at the fixed split 0), and the drift
check's false alarms on these exchangeable splits.

Two more tables, simulated offline on the same splits (no LangGraph run; the LangGraph figures
equal the simulation, see `check` in each results.json):
- the price of the guarantee: certified savings at other targets, next to the uncertified
  choice (the cheapest searched policy whose calibration accuracy meets the target);
- the drift check across datasets of one model family (calibrate on one, test on another).

Writes bench/results/replay/summary.{json,md} and, for split 0 of each file,
bench/results/replay/<file>/{results.json,pareto.png}. The recordings are read, never copied.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine

from tiered_agents.calibration import (
    calibrate,
    frontier_policies,
    simulate,
    to_examples,
)
from tiered_agents.cli.replay_bench import (
    models_cheapest_first,
    recorded_scores,
    run_replay_bench,
    short_name,
)
from tiered_agents.drift import compare_scores
from tiered_agents.escalation import EscalationPolicy
from tiered_agents.replay import load_recording

ROOT = Path(__file__).resolve().parent
TARGETS = (0.99, 0.97, 0.95, 0.9)


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def split(n: int, calibrate_n: int, seed: int) -> tuple[list[int], list[int]]:
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return order[:calibrate_n], order[calibrate_n:]


def price_of_guarantee(files: list[Path], calibrate_n: int, splits: int, confidence: float
                       ) -> list[dict[str, Any]]:
    """Certified against uncertified, simulated on the same splits, for several targets."""
    rows = []
    data = []
    for path in files:
        records = load_recording(path)
        models = models_cheapest_first(records)
        data.append((models, to_examples(records, models)))
    for target in TARGETS:
        certified, uncertified = [], []
        for models, examples in data:
            top = EscalationPolicy(tiers=(models[-1],))
            for seed in range(splits):
                cal_ids, test_ids = split(len(examples), calibrate_n, seed)
                cal = [examples[i] for i in cal_ids]
                test = [examples[i] for i in test_ids]
                top_test = simulate(top, test, models)
                policy = calibrate(cal, models, target_quality=target, confidence=confidence)
                top_cal = simulate(top, cal, models).accuracy
                # The uncertified choice, from the frontier `calibrate` already searched.
                assert policy.certificate is not None
                loose = next((r.policy for r in frontier_policies(policy.certificate)
                              if r.accuracy >= target * top_cal), top)
                for chosen, out in ((policy, certified), (loose, uncertified)):
                    result = simulate(chosen, test, models)
                    out.append((top_test.cost_usd / result.cost_usd,
                                result.accuracy < target * top_test.accuracy))
        rows.append({"target_quality": target,
                     "certified_saving": geomean([s for s, _ in certified]),
                     "certified_below": sum(b for _, b in certified),
                     "uncertified_saving": geomean([s for s, _ in uncertified]),
                     "uncertified_below": sum(b for _, b in uncertified),
                     "runs": len(certified)})
        print(f"target {target}: certified {rows[-1]['certified_saving']:.2f}x "
              f"({rows[-1]['certified_below']} below), uncertified "
              f"{rows[-1]['uncertified_saving']:.2f}x ({rows[-1]['uncertified_below']} below)",
              flush=True)
    return rows


def cross_dataset_drift(files: list[Path]) -> dict[str, int]:
    """Calibrate-time scores of one dataset against another's, within a model family."""
    chains: dict[str, list[tuple[str, list[str], list[Any]]]] = {}
    for path in files:
        records = load_recording(path)
        models = models_cheapest_first(records)
        name = short_name(path)
        chain = name.split("_", 1)[1]
        chains.setdefault(chain, []).append((name, models, to_examples(records, models)))
    flagged = pairs = 0
    for members in chains.values():
        for a_name, models, a in members:
            for b_name, _, b in members:
                if a_name == b_name:
                    continue
                pairs += 1
                report = compare_scores(recorded_scores(a, models), recorded_scores(b, models))
                flagged += report.drifted
    return {"pairs": pairs, "flagged": flagged}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(ROOT.parent.parent / "shared" / "data" / "recorded"))
    parser.add_argument("--calibrate", type=int, default=150,
                        help="questions to calibrate on (the rest are the test)")
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--target-quality", type=float, default=0.99)
    parser.add_argument("--confidence", type=float, default=0.9)
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
        name = short_name(path)
        for seed in range(args.splits):
            cal_ids, test_ids = split(len(records), args.calibrate, seed)
            results = run_replay_bench(
                [records[i] for i in cal_ids], [records[i] for i in test_ids],
                target_quality=args.target_quality, confidence=args.confidence,
                out_dir=out / name if seed == 0 else None,
                title=f"{name}: calibrated on {args.calibrate} questions, tested on the rest")
            rows.append({
                "file": name, "split": seed,
                "tiered_accuracy": results["tiered"]["accuracy"],
                "top_accuracy": results["top_model"]["accuracy"],
                "quality_vs_top": results["quality_vs_top"],
                "meets_target": results["meets_target"],
                "tiered_cost_usd": results["tiered"]["cost_usd"],
                "top_cost_usd": results["top_model"]["cost_usd"],
                "savings_vs_top": results["savings_vs_top"],
                "oracle_savings": results["top_model"]["cost_usd"] / results["oracle"]["cost_usd"],
                "certified": results["certificate"]["certified"],
                "policy": results["policy"]["tiers"],
                "drift_flagged": results["drift"]["drifted"],
            })
            print(f"{name} split {seed}: {rows[-1]['savings_vs_top']:.2f}x at "
                  f"{rows[-1]['quality_vs_top']:.1%} of the top model's accuracy"
                  f"{'' if rows[-1]['meets_target'] else ' (below target)'}", flush=True)
    langgraph_seconds = round(time.perf_counter() - started, 1)
    guarantee = price_of_guarantee(files, args.calibrate, args.splits, args.confidence)
    drift = cross_dataset_drift(files)
    fixed = [r for r in rows if r["split"] == 0]
    summary = {
        "command": "python bench/replay_all.py",
        "protocol": f"exchangeable: calibrate on {args.calibrate} random questions of a file, "
                    f"test on the rest, {args.splits} splits per file",
        "machine": machine(),
        "seconds": round(time.perf_counter() - started, 1),
        "langgraph_seconds": langgraph_seconds,
        "target_quality": args.target_quality,
        "confidence": args.confidence,
        "geomean_savings_vs_top": geomean([r["savings_vs_top"] for r in rows]),
        "geomean_oracle_savings": geomean([r["oracle_savings"] for r in rows]),
        "mean_quality_vs_top": sum(r["quality_vs_top"] for r in rows) / len(rows),
        "runs_below_target": sum(not r["meets_target"] for r in rows),
        "files_below_target_at_split_0": sum(not r["meets_target"] for r in fixed),
        "files": len(fixed),
        "runs": len(rows),
        "runs_certified": sum(r["certified"] for r in rows),
        "drift_false_alarms": sum(r["drift_flagged"] for r in rows),
        "cross_dataset_drift": drift,
        "price_of_guarantee": guarantee,
        "rows": rows,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    lines = [
        f"Protocol: {summary['protocol']}; target {args.target_quality:.0%} of the top model's "
        f"accuracy, confidence {args.confidence:.0%}. Command: `python bench/replay_all.py`. "
        f"Machine: {summary['machine']['cpu']}, {summary['machine']['cores']} cores; "
        f"{summary['seconds']} s.", "",
        f"**Geometric-mean saving vs the top model: {summary['geomean_savings_vs_top']:.2f}x**; "
        f"runs below target: **{summary['runs_below_target']}/{summary['runs']}** "
        f"(split 0: {summary['files_below_target_at_split_0']}/{summary['files']} files); "
        f"certified cheaper policies in {summary['runs_certified']}/{summary['runs']} runs; "
        f"mean quality vs top {summary['mean_quality_vs_top']:.1%}; oracle "
        f"{summary['geomean_oracle_savings']:.1f}x.", "",
        f"Drift check: {summary['drift_false_alarms']}/{summary['runs']} false alarms on these "
        f"exchangeable splits; {drift['flagged']}/{drift['pairs']} cross-dataset pairs of one "
        "model family flagged.", "",
        "| file | split | tiered acc | top acc | quality vs top | saving vs top | certified | "
        "ladder |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['file']} | {r['split']} | {r['tiered_accuracy']:.3f} | "
                     f"{r['top_accuracy']:.3f} | {r['quality_vs_top']:.1%}"
                     f"{'' if r['meets_target'] else ' (below target)'} | "
                     f"{r['savings_vs_top']:.2f}x | {'yes' if r['certified'] else 'no'} | "
                     f"{' > '.join(r['policy'])} |")
    lines += ["", f"The price of the guarantee (simulated on the same splits, confidence "
              f"{args.confidence:.0%}; uncertified = the cheapest searched policy whose "
              "calibration accuracy meets the target):", "",
              "| target | certified saving | runs below | uncertified saving | runs below |",
              "|---|---|---|---|---|"]
    for g in guarantee:
        lines.append(f"| {g['target_quality']:.0%} | {g['certified_saving']:.2f}x | "
                     f"{g['certified_below']}/{g['runs']} | {g['uncertified_saving']:.2f}x | "
                     f"{g['uncertified_below']}/{g['runs']} |")
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
