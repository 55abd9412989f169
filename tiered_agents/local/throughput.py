"""What a local model's token costs on this machine: its prompt and generation speed, measured
by llama.cpp alone on the machine (no other model running), turned into per-token prices.

Charging local calls by their wall-clock time charges one model for waiting on another when
several share the CPU. Tokens priced at each model's own compute speed do not: a call costs
the compute its tokens take that model when it has the machine to itself, whatever else runs
at the same time, so the same work always costs the same.

The speed is llama.cpp's own: the time to evaluate a prompt, and to decode one token after
another, timed around `Llama.eval` in a separate process. The Python server's overhead per
request and per token (HTTP, the chat template, sampling and grammars in Python) is not
charged: it is the same for every model, and a production server avoids most of it.
Measurements are cached per machine, model, thread count and llama.cpp version (in
`cache_dir()/throughput.json`), so the demo and the benchmark reuse them; `refresh=True`
measures again.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from decimal import Decimal
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from tiered_agents.errors import ServerError
from tiered_agents.local.weights import LocalWeights, cache_dir
from tiered_agents.pricing import Price

__all__ = ["Throughput", "measure_throughput", "throughput"]

_CLAUSE = ("Clause {i}: the supplier delivers goods within {d} business days of each order, "
           "at the prices of the current schedule.")
_PROMPT_CLAUSES = 28
"""Clauses in the measured prompt (about 650 tokens, the size of a worker's prompt)."""
_DECODE = 48
"""Tokens decoded one by one in the generation measurement."""


@dataclass(frozen=True)
class Throughput:
    """A model's speed on this machine when it runs alone: the time one more token takes."""

    prompt_tokens_per_second: float
    """Input tokens read per second."""
    output_tokens_per_second: float
    """Output tokens generated per second."""

    def price(self, usd_per_hour: float) -> Price:
        """Per-token prices: a machine at `usd_per_hour`, for the time each token takes."""
        per_second = Decimal(str(usd_per_hour)) / 3600
        mtok = Decimal(1_000_000)
        return Price(
            input_per_mtok=per_second * mtok / Decimal(str(self.prompt_tokens_per_second)),
            output_per_mtok=per_second * mtok / Decimal(str(self.output_tokens_per_second)))


def _measure_here(model_path: str, n_threads: int, rounds: int) -> dict[str, float]:
    """Run in the measuring process: time `Llama.eval` on a prompt, then on single tokens."""
    from llama_cpp import Llama

    llm = Llama(model_path, n_ctx=2048, n_threads=n_threads, n_threads_batch=n_threads,
                verbose=False)
    text = " ".join(_CLAUSE.format(i=i, d=i + 3) for i in range(_PROMPT_CLAUSES))
    tokens = llm.tokenize(text.encode())
    prompt, decode = [], []
    for _ in range(rounds):  # the fastest counts: noise on a shared machine only slows it
        llm.reset()  # type: ignore[no-untyped-call]
        started = time.perf_counter()
        llm.eval(tokens)
        prompt.append(len(tokens) / (time.perf_counter() - started))
        llm.reset()  # type: ignore[no-untyped-call]
        llm.eval(tokens[:16])
        started = time.perf_counter()
        for token in tokens[16:16 + _DECODE]:
            llm.eval([token])
        decode.append(_DECODE / (time.perf_counter() - started))
    return {"prompt_tokens_per_second": round(max(prompt), 1),
            "output_tokens_per_second": round(max(decode), 1)}


def measure_throughput(model_path: str | Path, *, n_threads: int, rounds: int = 2
                       ) -> Throughput:
    """Measure a GGUF model's prompt and decode speed with llama.cpp on `n_threads`, in a
    separate process (its memory is freed when it ends). Nothing else should use the machine
    meanwhile."""
    code = ("import json, sys; from tiered_agents.local.throughput import _measure_here; "
            "print(json.dumps(_measure_here(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))")
    done = subprocess.run([sys.executable, "-c", code, str(model_path), str(n_threads),
                           str(rounds)], capture_output=True, text=True, timeout=600,
                          check=False)
    if done.returncode != 0:
        raise ServerError(f"Measuring the speed of {Path(model_path).name} failed:\n"
                          f"{done.stderr[-2000:]}")
    return Throughput(**json.loads(done.stdout.strip().splitlines()[-1]))


def _key(weights: LocalWeights, n_threads: int) -> str:
    try:
        runtime = version("llama-cpp-python")
    except PackageNotFoundError:
        runtime = "not installed"
    return (f"{weights.sha256[:16]}/{n_threads} threads/{platform.machine()} "
            f"{platform.processor() or _cpu_name()}/llama-cpp-python {runtime}")


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown cpu"


def throughput(weights: LocalWeights, *, n_threads: int, refresh: bool = False,
               directory: Path | None = None) -> Throughput:
    """The speed of `weights` on this machine: from the cache, else measured and cached."""
    path = (directory or cache_dir()) / "throughput.json"
    key = _key(weights, n_threads)
    try:
        cached: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        cached = {}
    if not refresh and isinstance(cached.get(key), dict):
        try:
            return Throughput(**cached[key])
        except TypeError:
            pass  # an older layout: measure again
    measured = measure_throughput(weights.path(directory), n_threads=n_threads)
    cached[key] = asdict(measured)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(cached, indent=1) + "\n")
    partial.replace(path)
    return measured
