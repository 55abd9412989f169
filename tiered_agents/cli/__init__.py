"""The `tiered-agents` command line: the demo, the benchmarks and the Temporal workers.

This subpackage holds everything that is not the library: the demo, its sample contracts, the
benchmark commands, and the terminal output (`rich`, and `matplotlib` for plots). It uses only
the public API, and no library module imports it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rich.console import Console

from tiered_agents.cli.tracing import tracer_provider

__all__ = ["main"]


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _demo(args: argparse.Namespace) -> int:
    from tiered_agents.cli.demo import run_demo

    console = Console()
    provider = tracer_provider(args)
    try:
        run_demo(console, count=args.contracts, tracer_provider=provider, fake=args.fake)
    finally:
        if provider is not None:
            provider.shutdown()
    if args.trace_file:
        console.print(f"Trace written to {args.trace_file}")
    return 0


def _bench_replay(args: argparse.Namespace) -> int:
    import json
    import warnings
    from pathlib import Path

    from rich.table import Table

    from tiered_agents.cli.replay_bench import plot_replay, run_replay_bench, short_name
    from tiered_agents.errors import OverlapWarning
    from tiered_agents.replay import load_recording

    console = Console()
    same = Path(args.train).resolve() == Path(args.test).resolve()
    if same:
        console.print("[yellow]warning: --train and --test are the same file: the results "
                      "measure fit, not quality on unseen questions.[/yellow]")
    train, test = load_recording(args.train), load_recording(args.test)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", OverlapWarning)
        results = run_replay_bench(
            train, test, target_quality=args.target_quality, confidence=args.confidence,
            out_dir=args.out, title=short_name(args.test), console=console, plot=False)
    for warning in caught:
        if issubclass(warning.category, OverlapWarning) and not same:
            console.print(f"[yellow]warning: {warning.message}[/yellow]")
    name = short_name(args.test)
    table = Table(title=f"Replay of {name} (policy calibrated on {short_name(args.train)})")
    for column in ("", "accuracy", "cost (USD)"):
        table.add_column(column, justify="left" if not column else "right")
    top, best = results["top_model"], results["best_single_model"]
    rows = [("tiered (calibrated)", results["tiered"]), (f"top model {top['name']}", top),
            (f"best single model {best['name']}", best), ("oracle", results["oracle"]),
            *((f"  {model} alone", figures) for model, figures in results["models"].items())]
    for label, figures in rows:
        table.add_row(label, f"{figures['accuracy']:.3f}", f"{figures['cost_usd']:.5f}")
    console.print(table)
    saving, quality = results["savings_vs_top"], results["quality_vs_top"]
    if saving is None or quality is None:
        console.print("saving: not computable")
    else:
        line = f"saving vs the top model: {saving:.2f}x at {quality:.1%} of its accuracy"
        if not results["meets_target"]:
            line = (f"[bold red]{line}: below target "
                    f"({results['target_quality']:.0%})[/bold red]")
        console.print(line)
    console.print(f"certificate: {results['certificate']['summary']}")
    console.print(f"policy: {results['policy']}")
    drift = results["drift"]
    if drift["drifted"]:
        tiers = [t["tier"] for part in ("live", "all_tiers") for t in drift[part]["tiers"]
                 if t["drifted"]]
        console.print(f"[bold yellow]drift: the test questions' verifier scores differ from "
                      f"calibration for {sorted(set(tiers))}: the certificate does not cover "
                      "this traffic[/bold yellow]")
    else:
        console.print("drift: none detected between calibration and test scores")
    if args.out:
        out = Path(args.out)
        if plot_replay(out / "pareto.png", results, test, name):
            results["plot"] = str(out / "pareto.png")
            (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
            console.print(f"wrote {out}/results.json and {out}/pareto.png")
        else:
            console.print(f"wrote {out}/results.json (no plot: matplotlib is not installed; "
                          "pip install 'tiered-agents[bench]')")
    return 0


def _bench_local(args: argparse.Namespace) -> int:
    from tiered_agents.cli.local_bench import run_local_bench

    console = Console()
    summary = run_local_bench(args.contracts, args.repetitions, args.out, console,
                              remeasure=args.remeasure)
    for label in ("tiered", "frontier_only"):
        figures = summary[label]
        console.print(f"{label}: field accuracy {figures['field_accuracy']['median']:.1%}, "
                      f"{figures['seconds']['median']:.1f} s, "
                      f"${figures['cost_usd']['median']:.6f} (medians)")
    console.print(f"saving: {summary['saving']}x; wrote {args.out}/local.json and local.md")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tiered-agents",
        description="A frontier model plans, small models work; see what it cost and saved.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="review a batch of contracts with a tiered team")
    demo.add_argument("--contracts", type=_positive, default=6,
                      help="how many shipped contracts to review (default 6)")
    demo.add_argument("--fake", action="store_true",
                      help="use the scripted fake models instead of the real local ones")
    demo.add_argument("--trace-file", help="write the OpenTelemetry spans to this JSONL file")
    demo.add_argument("--otlp", help="send spans to this OTLP/HTTP endpoint, "
                                     "e.g. http://127.0.0.1:6006 for Phoenix")
    demo.set_defaults(run=_demo)
    bench = commands.add_parser("bench", help="benchmarks").add_subparsers(dest="bench",
                                                                          required=True)
    replay = bench.add_parser("replay", help="calibrate on recorded answers, replay a test set")
    replay.add_argument("--train", required=True, help="recording to calibrate on (.jsonl[.gz])")
    replay.add_argument("--test", required=True, help="recording to test on (.jsonl[.gz])")
    replay.add_argument("--target-quality", type=float, default=0.99,
                        help="share of the top model's accuracy to keep (default 0.99)")
    replay.add_argument("--confidence", type=float, default=0.9,
                        help="probability that the certified quality claim holds "
                             "(default 0.9)")
    replay.add_argument("--out", help="directory for results.json and pareto.png")
    replay.set_defaults(run=_bench_replay)
    local = bench.add_parser("local", help="the contract review on real local models, tiered "
                                           "against the frontier tier alone")
    local.add_argument("--contracts", type=_positive, default=6,
                       help="how many shipped contracts per batch (default 6)")
    local.add_argument("--repetitions", type=_positive, default=3,
                       help="runs of each mode, interleaved (default 3)")
    local.add_argument("--remeasure", action="store_true",
                       help="measure the models' speeds again instead of using the cached ones")
    local.add_argument("--out", default="bench/results", help="directory for local.json/.md")
    local.set_defaults(run=_bench_local)
    from tiered_agents.cli.temporal import add_commands

    add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
