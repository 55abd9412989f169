"""A tier's `max_concurrency` under load: the previous limiter against the current one.

    python bench/limiter.py [--concurrent 1000] [--limit 20] [--repetitions 2]

`--concurrent` runs of a two-subtask plan started at once with `ainvoke`, on fakes that take
50 ms a call, with the small tier limited to `--limit` calls at once, so every worker call
waits for a slot. The two limiters alternate in one process: `polling` is the limiter of
7200fea (a threading semaphore that async waiters polled, sleeping 1 to 20 ms between tries),
kept here only to be measured; `handover` is `tiered_agents._calls.Limiter`, which hands a
freed slot to the longest waiter. Reports wall-clock seconds against the ideal (the worker
calls' turns of 50 ms), runs per second, the process's CPU time per run and the event loop's
lag. Writes bench/results/limiter.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine
from latency import concurrent_runs

import tiered_agents._attempt as attempt_module
from tiered_agents._calls import Limiter


class PollingLimiter:
    """The limiter of 7200fea, for comparison only."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._sem = threading.BoundedSemaphore(limit)

    def acquire(self) -> None:
        self._sem.acquire()

    async def aacquire(self) -> None:
        delay = 0.001
        while not self._sem.acquire(blocking=False):
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.02)

    def release(self) -> None:
        self._sem.release()


LIMITERS: dict[str, Any] = {"polling": PollingLimiter, "handover": Limiter}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--concurrent", type=int, default=1000)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--repetitions", type=int, default=2)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" /
                                             "limiter.json"))
    args = parser.parse_args()
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in LIMITERS}
    try:
        for _ in range(args.repetitions):
            for name, limiter in LIMITERS.items():
                attempt_module.Limiter = limiter  # what the tiered graph's workers use
                runs[name].append(asyncio.run(
                    concurrent_runs(args.concurrent, traced=False, limit=args.limit)))
    finally:
        attempt_module.Limiter = Limiter
    summary = {name: {key: statistics.median(r[key] for r in results)
                      for key in ("wall_seconds", "runs_per_second", "cpu_ms_per_run")}
               for name, results in runs.items()}
    result = {"command": f"python bench/limiter.py --concurrent {args.concurrent} "
                         f"--limit {args.limit} --repetitions {args.repetitions}",
              "machine": machine(), "ideal_seconds": runs["handover"][0]["ideal_seconds"],
              "medians": summary, "runs": runs}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    for name, figures in summary.items():
        print(f"{name:>9}: {figures['wall_seconds']:.2f} s (ideal {result['ideal_seconds']:.1f})"
              f", {figures['runs_per_second']:.0f} runs/s, {figures['cpu_ms_per_run']:.2f} ms "
              f"CPU per run, {sum(r['errors'] for r in runs[name])} errors")


if __name__ == "__main__":
    main()
