"""Ready local tiers: Gemma-3-270M (grammar-constrained) and Qwen2.5-Coder-1.5B, each served
by its own llama.cpp server on 127.0.0.1 and priced by the hour."""

from __future__ import annotations

import atexit
import os
import threading
from types import TracebackType
from typing import Any

from pydantic import SecretStr

from tiered_agents.local.client import LocalChatOpenAI
from tiered_agents.local.server import LlamaServer
from tiered_agents.local.weights import GEMMA_270M, QWEN_CODER_1_5B
from tiered_agents.pricing import Price
from tiered_agents.tiers import Tier

__all__ = ["NOMINAL_USD_PER_HOUR", "VALUE_SCHEMA", "LocalModels", "local_tiers"]

NOMINAL_USD_PER_HOUR = 0.10
"""A nominal on-demand price for a 2-vCPU cloud machine like the one the demo targets (about
what the big clouds charged in 2026 for 2 vCPUs and 8-16 GB). Each call is charged its
wall-clock seconds at this rate; set your own with `local_tiers(usd_per_hour=...)`."""

VALUE_SCHEMA: dict[str, Any] = {
    "type": "object", "properties": {"value": {"type": "string"}}, "required": ["value"]}
"""The grammar the small tier's replies are forced into unless a call asks for another."""


class LocalModels:
    """Start the local model servers, hand out their tiers, stop them on exit.

    Example:
        ```python
        with LocalModels() as local:
            small, frontier = local.tiers()
            graph = create_tiered_graph(planner=frontier, tiers=[small, frontier])
        ```
    """

    def __init__(self, *, usd_per_hour: float = NOMINAL_USD_PER_HOUR,
                 n_threads: int | None = None, small_max_tokens: int = 96,
                 frontier_max_tokens: int = 768) -> None:
        threads = n_threads or os.cpu_count() or 2
        self.usd_per_hour = usd_per_hour
        self.small_max_tokens = small_max_tokens
        self.frontier_max_tokens = frontier_max_tokens
        # The base Gemma GGUF carries no chat template: name it, or the server falls back to
        # a Llama-2 template the model has never seen.
        self.small_server = LlamaServer(GEMMA_270M.path(), alias="gemma-3-270m", n_ctx=4096,
                                        n_threads=threads, extra_args=("--chat_format", "gemma"))
        self.frontier_server = LlamaServer(QWEN_CODER_1_5B.path(), alias="qwen2.5-coder-1.5b",
                                           n_ctx=8192, n_threads=threads)

    def start(self) -> LocalModels:
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
        """`Tier("small", Gemma-270M under a JSON grammar)`, `Tier("frontier", Qwen-1.5B)`."""
        price = Price.per_hour(self.usd_per_hour)
        small = LocalChatOpenAI(base_url=self.small_server.base_url,
                                api_key=SecretStr("local"), model=self.small_server.alias,
                                temperature=0, max_completion_tokens=self.small_max_tokens,
                                json_schema=VALUE_SCHEMA, max_retries=0, timeout=120)
        frontier = LocalChatOpenAI(base_url=self.frontier_server.base_url,
                                   api_key=SecretStr("local"), model=self.frontier_server.alias,
                                   temperature=0, max_completion_tokens=self.frontier_max_tokens,
                                   max_retries=0, timeout=300)
        return (Tier("small", small, price=price, max_concurrency=1,
                     description="Gemma-3-270M: fills a JSON schema from text, cannot reason"),
                Tier("frontier", frontier, price=price, max_concurrency=1,
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
