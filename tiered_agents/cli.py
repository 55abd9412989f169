"""The `tiered-agents` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rich.console import Console

__all__ = ["main"]


def _tracing(args: argparse.Namespace) -> object | None:
    if not (args.trace_file or args.otlp):
        return None
    from tiered_agents.tracing import configure_tracing

    return configure_tracing(otlp_endpoint=args.otlp, jsonl_path=args.trace_file,
                             project_name="tiered-agents")


def _demo(args: argparse.Namespace) -> int:
    from tiered_agents.demo import run_demo

    console = Console()
    provider = _tracing(args)
    try:
        run_demo(console, contract_index=args.contract, tracer_provider=provider)
    finally:
        if provider is not None:
            provider.shutdown()  # type: ignore[attr-defined]
    if args.trace_file:
        console.print(f"Trace written to {args.trace_file}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tiered-agents",
        description="A frontier model plans, small models work; see what it cost and saved.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="review a contract with a tiered team")
    demo.add_argument("--contract", type=int, default=0, help="which shipped contract (0-4)")
    demo.add_argument("--trace-file", help="write the OpenTelemetry spans to this JSONL file")
    demo.add_argument("--otlp", help="send spans to this OTLP/HTTP endpoint, "
                                     "e.g. http://127.0.0.1:6006 for Phoenix")
    demo.set_defaults(run=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
