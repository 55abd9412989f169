"""The commands' `--trace-file`/`--otlp` options: where a command's spans go."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["tracer_provider"]


def tracer_provider(args: argparse.Namespace) -> Any:
    """A tracer provider exporting to `args.trace_file` and/or `args.otlp`, or `None`."""
    if not (args.trace_file or args.otlp):
        return None
    from tiered_agents.tracing import configure_tracing

    return configure_tracing(otlp_endpoint=args.otlp, jsonl_path=args.trace_file,
                             project_name="tiered-agents")
