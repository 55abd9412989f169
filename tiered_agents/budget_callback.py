"""`BudgetCallback`: a `Budget` enforced on any LangGraph app (or any LangChain runnable)."""

from __future__ import annotations

import threading
from dataclasses import replace
from decimal import Decimal
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import LLMResult

import tiered_agents.attributes as attr
from tiered_agents._budget import on_budget_stop
from tiered_agents.budget import Budget, Spend
from tiered_agents.pricing import Price, charged, price_result

__all__ = ["BudgetCallback"]


class BudgetCallback(BaseCallbackHandler):
    """Enforces a `Budget` on any LangGraph app as a callback.

    Before each chat model call it checks the spending so far and raises `BudgetExceeded`
    (`on_exceed="raise"`) or pauses the graph with a LangGraph interrupt
    (`on_exceed="interrupt"`; needs a checkpointer). `stop` and `downgrade` need the graph's
    cooperation and are available on `create_tiered_graph` and `create_cascade` only.

    Example:
        ```python
        guard = BudgetCallback(Budget(max_usd=1.0, on_exceed="raise"))
        app.invoke(inputs, config={"callbacks": [guard]})
        guard.spent_usd
        ```
    """

    raise_error = True
    run_inline = True

    def __init__(self, budget: Budget) -> None:
        super().__init__()
        if budget.on_exceed not in ("raise", "interrupt"):
            raise ValueError(
                f"BudgetCallback supports on_exceed='raise' or 'interrupt', not "
                f"{budget.on_exceed!r}: 'stop' and 'downgrade' need create_tiered_graph or "
                "create_cascade(budget=...).")
        self.budget = budget
        """The limits in force (a resumed interrupt raises `max_usd`)."""
        self._lock = threading.Lock()
        self.spent_usd = Decimal(0)
        self.spent_tokens = 0
        self.by_node: dict[str, Decimal] = {}
        self._calls: dict[UUID, tuple[dict[str, Any], str, Any]] = {}

    @property
    def max_usd(self) -> float | None:
        """The dollar limit in force."""
        return self.budget.max_usd

    def _spent(self) -> Spend:
        with self._lock:
            return Spend(self.spent_usd, self.spent_tokens, dict(self.by_node))

    def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: UUID,
                            metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        metadata = dict(metadata or {})
        node = str(metadata.get(attr.ROLE) or metadata.get("langgraph_node") or "(no node)")
        spent = self._spent()
        reason = self.budget.check(spent, node)
        if reason is not None:
            resumed = on_budget_stop(self.budget, reason, state={}, spent={
                "limit_usd": self.budget.max_usd, "spent_usd": spent.usd,
                "spent_tokens": spent.tokens, "exceeded": True, "stopped_at": node})
            if resumed is not None:
                self.budget = replace(self.budget,
                                      max_usd=resumed.get("limit_usd", self.budget.max_usd),
                                      max_tokens=resumed.get("limit_tokens",
                                                             self.budget.max_tokens))
        with self._lock:
            self._calls[run_id] = (metadata, node, messages)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        with self._lock:
            metadata, node, prompt = self._calls.pop(run_id, ({}, "(no node)", None))
        reply = price_result(response, metadata)
        own = metadata.get(attr.PRICE)
        usd, tokens = charged(reply.usage, prompt, reply.message, model=reply.model,
                              provider=metadata.get("ls_provider"),
                              price=Price.from_dict(own) if isinstance(own, dict) else None)
        with self._lock:
            self.spent_usd += usd
            self.spent_tokens += tokens
            self.by_node[node] = self.by_node.get(node, Decimal(0)) + usd
