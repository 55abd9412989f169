"""Run `tiered-agents bench local` and keep its figures in bench/results/.

    python bench/local.py [--contracts 6] [--repetitions 3]   (needs pip install -e '.[local]')
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from tiered_agents.cli.local_bench import run_local_bench

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--contracts", type=int, default=6)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--remeasure", action="store_true")
    args = parser.parse_args()
    run_local_bench(args.contracts, args.repetitions, Path(__file__).parent / "results",
                    Console(), remeasure=args.remeasure)
