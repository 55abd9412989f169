"""Runs under injected provider faults: the default retry policy against LangGraph's default.

    python bench/faults.py [--runs 100] [--rate 0.2] [--seed 7]

Every model call of a three-subtask tiered run (planner, workers, synthesizer) fails with
probability `rate`: HTTP 429, 503 or 529 raised as `httpx.HTTPStatusError` (with
`Retry-After: 0`), or a bare `TimeoutError` (no header: the policy's own backoff). The same
seeded fault sequence runs twice, side by side in one process:

- `default`: `create_tiered_graph(...)` as shipped (`tiered_agents.retry.default_retry_policy`);
- `langgraph`: `retry_policy=RetryPolicy()`, LangGraph's own default `retry_on`.

Counts runs completed, worker attempts that escalated because a call failed (not because an
answer was weak), frontier calls, and wall time. Writes bench/results/faults.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from langgraph.types import RetryPolicy

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine

from tiered_agents import Tier, create_tiered_graph
from tiered_agents.testing import (
    THREE_STEP_PLAN,
    FakeChatModel,
    TransientFaults,
    echo_worker,
    last_text,
    planner_responder,
)


def run(policy: RetryPolicy | None, runs: int, rate: float, seed: int) -> dict[str, Any]:
    small_faults = TransientFaults(echo_worker, rate=rate, seed=seed)
    plans = planner_responder([THREE_STEP_PLAN])
    big_faults = TransientFaults(lambda m, t: echo_worker(m, t) if "Your subtask" in last_text(m)
                                 else plans(m, t), rate=rate, seed=seed + 1)
    small = Tier("small", FakeChatModel(respond=small_faults, model_name="gpt-5-mini"))
    big_model = FakeChatModel(respond=big_faults, model_name="claude-opus-4-7")
    big = Tier("frontier", big_model)
    graph = create_tiered_graph(planner=big, tiers=[small, big],
                                **({"retry_policy": policy} if policy else {}))
    started = time.perf_counter()
    outs = graph.batch([{"task": f"review batch {i}"} for i in range(runs)],
                       config={"max_concurrency": 25}, return_exceptions=True)
    seconds = time.perf_counter() - started
    completed = [o for o in outs if isinstance(o, dict) and o.get("answer")]
    escalations = sum(a["call_failed"] for o in completed for r in o["results"].values()
                      for a in r["attempts"][:-1])
    failures: dict[str, int] = {}
    for out in outs:
        if isinstance(out, BaseException):
            failures[type(out).__name__] = failures.get(type(out).__name__, 0) + 1
    worker_frontier = sum(1 for c in big_model.calls if "Your subtask" in last_text(c))
    return {"runs": runs, "completed": len(completed), "failed": failures,
            "escalations_from_faults": escalations,
            "frontier_worker_calls": worker_frontier,
            "faults_injected": small_faults.injected + big_faults.injected,
            "seconds": round(seconds, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--rate", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    results = {"default": run(None, args.runs, args.rate, args.seed),
               "langgraph": run(RetryPolicy(), args.runs, args.rate, args.seed)}
    for name, figures in results.items():
        print(f"{name:>9}: {figures['completed']}/{figures['runs']} runs completed, "
              f"{figures['escalations_from_faults']} escalations caused by faults, "
              f"{figures['frontier_worker_calls']} frontier worker calls, "
              f"failures {figures['failed'] or 'none'}, {figures['faults_injected']} faults "
              f"injected, {figures['seconds']} s")
    out = Path(__file__).parent / "results" / "faults.json"
    out.write_text(json.dumps({"rate": args.rate, "seed": args.seed, **results,
                               "machine": machine(),
                               "command": "python bench/faults.py"}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
