"""Ready local tiers: Qwen2.5-Coder-0.5B (small) and Qwen2.5-Coder-1.5B (frontier), each
served by its own llama.cpp server on 127.0.0.1, priced per token at its measured speed."""

from __future__ import annotations

import atexit
import os
import threading
from types import TracebackType
from typing import Any

from pydantic import SecretStr

from tiered_agents.local.client import LocalChatOpenAI
from tiered_agents.local.server import LlamaServer
from tiered_agents.local.throughput import Throughput, throughput
from tiered_agents.local.weights import QWEN_CODER_0_5B, QWEN_CODER_1_5B
from tiered_agents.tiers import Tier

__all__ = ["NOMINAL_USD_PER_HOUR", "LocalModels", "local_tiers"]

NOMINAL_USD_PER_HOUR = 0.10
"""A nominal on-demand price for a 2-vCPU cloud machine like the one the demo targets (about
what the big clouds charged in 2026 for 2 vCPUs and 8-16 GB). A token costs the time it takes
its model alone on this machine at this rate (see `tiered_agents.local.throughput`); set your
own with `LocalModels(usd_per_hour=...)`."""


class LocalModels:
    """Start the local model servers, measure their speed, hand out their tiers, stop them.

    Example:
        ```python
        with LocalModels() as local:
            small, frontier = local.tiers()
            graph = create_tiered_graph(planner=frontier, tiers=[small, frontier])
        ```
    """

    def __init__(self, *, usd_per_hour: float = NOMINAL_USD_PER_HOUR,
                 n_threads: int | None = None, small_max_tokens: int = 256,
                 frontier_max_tokens: int = 768, remeasure: bool = False) -> None:
        self.n_threads = threads = n_threads or os.cpu_count() or 2
        self.usd_per_hour = usd_per_hour
        self.small_max_tokens = small_max_tokens
        self.frontier_max_tokens = frontier_max_tokens
        self.remeasure = remeasure
        self.speeds: dict[str, Throughput] = {}
        """Each tier's measured speed, once started."""
        self.small_server = LlamaServer(QWEN_CODER_0_5B.path(), alias="qwen2.5-coder-0.5b",
                                        n_ctx=4096, n_threads=threads)
        self.frontier_server = LlamaServer(QWEN_CODER_1_5B.path(), alias="qwen2.5-coder-1.5b",
                                           n_ctx=8192, n_threads=threads)

    def start(self) -> LocalModels:
        # First, one model at a time with the machine to itself: each model's speed.
        self.speeds = {
            "small": throughput(QWEN_CODER_0_5B, n_threads=self.n_threads,
                                refresh=self.remeasure),
            "frontier": throughput(QWEN_CODER_1_5B, n_threads=self.n_threads,
                                   refresh=self.remeasure)}
        errors: list[BaseException] = []

        def start(server: LlamaServer) -> None:
            try:
                server.start()
            except BaseException as exc:  # reported below, after both tried
                errors.append(exc)

        threads = [threading.Thread(target=start, args=(s,)) for s in
                   (self.small_server, self.frontier_server)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            self.stop()
            raise errors[0]
        return self

    def stop(self) -> None:
        self.small_server.stop()
        self.frontier_server.stop()

    def tiers(self) -> tuple[Tier, Tier]:
        """`Tier("small", Qwen-0.5B)`, `Tier("frontier", Qwen-1.5B)`, priced per token."""
        if not self.speeds:
            raise RuntimeError("Start the servers first: `with LocalModels() as local:` or "
                               "`LocalModels().start()`.")
        small = LocalChatOpenAI(base_url=self.small_server.base_url,
                                api_key=SecretStr("local"), model=self.small_server.alias,
                                temperature=0, max_completion_tokens=self.small_max_tokens,
                                max_retries=0, timeout=300)
        frontier = LocalChatOpenAI(base_url=self.frontier_server.base_url,
                                   api_key=SecretStr("local"), model=self.frontier_server.alias,
                                   temperature=0, max_completion_tokens=self.frontier_max_tokens,
                                   max_retries=0, timeout=300)
        return (Tier("small", small, price=self.speeds["small"].price(self.usd_per_hour),
                     max_concurrency=1,
                     description="Qwen2.5-Coder-0.5B: reads documents, extracts facts as JSON"),
                Tier("frontier", frontier, price=self.speeds["frontier"].price(self.usd_per_hour),
                     max_concurrency=1,
                     description="Qwen2.5-Coder-1.5B: follows instructions, plans, writes"))

    def __enter__(self) -> LocalModels:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


_SHARED: dict[str, LocalModels] = {}
"""The process's servers, started once by `local_tiers`."""
_LOCK = threading.Lock()


def local_tiers(**options: Any) -> list[Tier]:
    """Start the local servers once per process (stopped at exit) and return their tiers,
    cheapest first: `[small, frontier]`."""
    with _LOCK:
        if "models" not in _SHARED:
            _SHARED["models"] = LocalModels(**options).start()
            atexit.register(_SHARED["models"].stop)
    return list(_SHARED["models"].tiers())
