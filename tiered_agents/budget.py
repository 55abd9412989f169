"""Dollar and token budgets that the graphs enforce, and a callback that enforces them in any
LangGraph app.

Spending is counted from each call's real usage, priced by the same code as the tracer
(`pricing.price_message`). Before a call starts, the budget checks what is already spent:
by the run's finished supersteps (in the graph state) and by sibling tasks of the current
superstep (a live ledger keyed by LangGraph's checkpoint id). So the overshoot is bounded by
the calls already in flight when the limit is crossed: at most (calls in flight) x (the cost of
the dearest such call). Bound the calls in flight with `max_concurrency` (per run or per tier)
to tighten it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, get_args
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import ChatGeneration, LLMResult
from langgraph.runtime import get_runtime

from tiered_agents import attributes as attr
from tiered_agents.errors import TieredAgentsError
from tiered_agents.pricing import Price, price_message
from tiered_agents.usage import Usage

__all__ = ["Budget", "BudgetCallback", "BudgetExceeded", "OnExceed"]

OnExceed = Literal["stop", "downgrade", "interrupt", "raise"]
"""What happens when a limit is reached.

- `stop`: no new model call starts; the run ends cleanly with every finished result.
- `downgrade`: remaining work runs on the cheapest tier, and escalation stops.
- `interrupt`: the run pauses (a LangGraph interrupt); resume with
  `Command(resume={"max_usd": ...})` (or a number) to raise the limit.
- `raise`: `BudgetExceeded`, carrying the state the run had.
"""


@dataclass(frozen=True)
class Budget:
    """Limits on what a run may spend.

    Example:
        ```python
        graph = create_tiered_graph(planner=frontier, tiers=[small, frontier],
                                    budget=Budget(max_usd=0.50, on_exceed="stop"))
        ```
    """

    max_usd: float | None = None
    """Dollars the run may spend on model calls."""
    max_tokens: int | None = None
    """Input plus output tokens the run may use."""
    per_node: Mapping[str, float] | None = None
    """Dollars per node (`planner`, `worker`, `synthesizer`, `verify`, `advisor`, ...)."""
    on_exceed: OnExceed = "stop"
    """What to do when a limit is reached (see `OnExceed`)."""

    def __post_init__(self) -> None:
        if self.on_exceed not in get_args(OnExceed):
            raise ValueError(f"Invalid on_exceed: {self.on_exceed!r}. Needs to be one of "
                             f"{get_args(OnExceed)}.")
        for name in ("max_usd", "max_tokens"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"Budget.{name} must be >= 0, got {value}.")
        if self.per_node is not None:
            object.__setattr__(self, "per_node", dict(self.per_node))

    def initial_state(self) -> dict[str, Any]:
        return {"limit_usd": self.max_usd, "limit_tokens": self.max_tokens, "spent_usd": 0.0,
                "spent_tokens": 0, "by_node": {}, "exceeded": False, "stopped_at": None}


class BudgetExceeded(TieredAgentsError):
    """A budget with `on_exceed="raise"` was reached. `state` is what the run had (finished
    results included); `budget` the spending figures."""

    def __init__(self, reason: str, *, state: Mapping[str, Any] | None = None,
                 budget: Mapping[str, Any] | None = None) -> None:
        self.reason = reason
        self.state = dict(state or {})
        self.budget = dict(budget or self.state.get("budget") or {})
        super().__init__(f"Budget exceeded: {reason}. Finished work is in `.state`; raise the "
                         "limit or use on_exceed='stop' to end cleanly instead.")


class BudgetStopped(Exception):  # noqa: N818 - internal control flow, not an error
    """Internal: a call was not started because the budget is spent."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def merge_budget(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """Reducer: adds spending, keeps the first stop, and applies limit changes."""
    out = dict(left or {})
    if not right:
        return out
    if right.get("reset"):
        out.update(exceeded=False, stopped_at=None)
    for key in ("limit_usd", "limit_tokens"):
        if key in right:
            out[key] = right[key]
    out["spent_usd"] = float(out.get("spent_usd") or 0.0) + float(right.get("spent_usd") or 0.0)
    out["spent_tokens"] = int(out.get("spent_tokens") or 0) + int(right.get("spent_tokens") or 0)
    by_node = dict(out.get("by_node") or {})
    for node, usd in (right.get("by_node") or {}).items():
        by_node[node] = by_node.get(node, 0.0) + usd
    out["by_node"] = by_node
    if right.get("exceeded"):
        out["exceeded"] = True
        out["stopped_at"] = out.get("stopped_at") or right.get("stopped_at")
    out.setdefault("exceeded", False)
    out.setdefault("stopped_at", None)
    return out


class _LiveLedger:
    """Spending of the tasks of one superstep, shared while they run (bounded in size)."""

    def __init__(self, size: int = 4096) -> None:
        self._lock = threading.Lock()
        self._steps: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._size = size

    def add(self, key: str, node: str, usd: Decimal, tokens: int) -> None:
        with self._lock:
            step = self._steps.setdefault(key, {"usd": Decimal(0), "tokens": 0, "by_node": {}})
            step["usd"] += usd
            step["tokens"] += tokens
            step["by_node"][node] = step["by_node"].get(node, Decimal(0)) + usd
            while len(self._steps) > self._size:
                self._steps.popitem(last=False)

    def get(self, key: str) -> dict[str, Any]:
        with self._lock:
            step = self._steps.get(key)
            return {"usd": step["usd"], "tokens": step["tokens"],
                    "by_node": dict(step["by_node"])} if step else \
                {"usd": Decimal(0), "tokens": 0, "by_node": {}}


_LIVE = _LiveLedger()


def _step_key() -> str | None:
    try:
        info = get_runtime().execution_info
    except Exception:
        return None
    if info is None:
        return None
    # Tasks of one superstep share the checkpoint id; their namespaces differ only in the
    # last "node:task_id" segment, so the parent graph's namespace completes the key.
    parent = info.checkpoint_ns.rpartition("|")[0]
    return f"{parent}|{info.checkpoint_id}"


class RunBudget:
    """One node execution's view of the run's budget."""

    def __init__(self, budget: Budget | None, committed: Mapping[str, Any] | None,
                 node: str) -> None:
        self.budget = budget
        self.node = node
        self.fresh = not committed
        self.committed = dict(committed or (budget.initial_state() if budget else {}))
        self.key = _step_key() if budget is not None else None
        self._lock = threading.Lock()
        self.spent_usd = Decimal(0)
        self.spent_tokens = 0
        self.stopped: str | None = None

    @property
    def mode(self) -> OnExceed | None:
        return self.budget.on_exceed if self.budget else None

    def _live(self) -> dict[str, Any]:
        if self.key is not None:
            return _LIVE.get(self.key)
        with self._lock:
            return {"usd": self.spent_usd, "tokens": self.spent_tokens,
                    "by_node": {self.node: self.spent_usd}}

    def exceeded(self) -> str | None:
        """Why the budget is spent, or `None` while there is room."""
        if self.budget is None:
            return None
        if self.committed.get("exceeded") and self.mode != "downgrade":
            return f"the budget was already exceeded at {self.committed.get('stopped_at')}"
        live = self._live()
        usd = Decimal(str(self.committed.get("spent_usd") or 0)) + live["usd"]
        tokens = int(self.committed.get("spent_tokens") or 0) + live["tokens"]
        limit_usd = self.committed.get("limit_usd", self.budget.max_usd)
        limit_tokens = self.committed.get("limit_tokens", self.budget.max_tokens)
        if limit_usd is not None and usd >= Decimal(str(limit_usd)):
            return f"spent ${float(usd):.6f} of ${limit_usd}"
        if limit_tokens is not None and tokens >= limit_tokens:
            return f"used {tokens} of {limit_tokens} tokens"
        node_limit = (self.budget.per_node or {}).get(self.node)
        if node_limit is not None:
            node_usd = Decimal(str((self.committed.get("by_node") or {}).get(self.node, 0))) + \
                live["by_node"].get(self.node, Decimal(0))
            if node_usd >= Decimal(str(node_limit)):
                return f"node {self.node!r} spent ${float(node_usd):.6f} of ${node_limit}"
        return None

    @property
    def downgraded(self) -> bool:
        return self.mode == "downgrade" and self.exceeded() is not None

    def guard(self) -> None:
        """Called before each model call: stops it when the budget is spent."""
        if self.mode in (None, "downgrade"):
            return
        reason = self.exceeded()
        if reason is not None:
            self.stopped = reason
            raise BudgetStopped(reason)

    def hooks(self, model: str, provider: str | None, price: Price | None
              ) -> dict[str, Any]:
        """`Call` keyword arguments that check the budget before and count it after."""
        if self.budget is None:
            return {}

        def after(result: Any, seconds: float) -> None:
            self.record(result, seconds, model=model, provider=provider, price=price)

        return {"before": self.guard, "after": after}

    def record(self, result: Any, seconds: float, *, model: str, provider: str | None,
               price: Price | None) -> None:
        """Called after each model call with its result."""
        if self.budget is None:
            return
        message = result.get("raw") if isinstance(result, dict) else result
        response = getattr(message, "response_metadata", None) or {}
        usage: Usage = price_message(message, model=response.get("model_name") or model,
                                     provider=provider, price=price, seconds=seconds)
        usd = usage.cost_usd or Decimal(0)
        with self._lock:
            self.spent_usd += usd
            self.spent_tokens += usage.total_tokens
        if self.key is not None:
            _LIVE.add(self.key, self.node, usd, usage.total_tokens)

    def update(self, stopped_at: str | None = None) -> dict[str, Any]:
        """This node's contribution to the `budget` state channel."""
        if self.budget is None:
            return {}
        with self._lock:
            update: dict[str, Any] = {"spent_usd": float(self.spent_usd),
                                      "spent_tokens": self.spent_tokens,
                                      "by_node": {self.node: float(self.spent_usd)}}
        if self.fresh:
            update["limit_usd"] = self.budget.max_usd
            update["limit_tokens"] = self.budget.max_tokens
        reason = self.stopped or (self.exceeded() if self.mode == "downgrade" else None)
        if reason is not None:
            update.update(exceeded=True, stopped_at=stopped_at or self.node)
        return update


def resume_update(answer: Any) -> dict[str, Any]:
    """The `budget` state update for an interrupt resumed with `answer`: a new dollar limit
    (a number, or {"max_usd": ..., "max_tokens": ...})."""
    update: dict[str, Any] = {"reset": True}
    limit = answer.get("max_usd") if isinstance(answer, dict) else answer
    tokens = answer.get("max_tokens") if isinstance(answer, dict) else None
    if limit is not None:
        update["limit_usd"] = float(limit)
    if tokens is not None:
        update["limit_tokens"] = int(tokens)
    return update


def public_view(state_budget: Mapping[str, Any] | None) -> dict[str, Any]:
    b = dict(state_budget or {})
    return {"limit_usd": b.get("limit_usd"), "spent_usd": b.get("spent_usd", 0.0),
            "exceeded": bool(b.get("exceeded")), "stopped_at": b.get("stopped_at")}


class BudgetCallback(BaseCallbackHandler):
    """Enforces a `Budget` on any LangGraph app (or any LangChain runnable) as a callback.

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
        self.max_usd = budget.max_usd
        """The dollar limit in force (raised when an interrupt is resumed with a new one)."""
        self._lock = threading.Lock()
        self.spent_usd = Decimal(0)
        self.spent_tokens = 0
        self.by_node: dict[str, Decimal] = {}
        self._calls: dict[UUID, tuple[dict[str, Any], str | None]] = {}

    def _reason(self, node: str) -> str | None:
        b = self.budget
        if self.max_usd is not None and self.spent_usd >= Decimal(str(self.max_usd)):
            return f"spent ${float(self.spent_usd):.6f} of ${self.max_usd}"
        if b.max_tokens is not None and self.spent_tokens >= b.max_tokens:
            return f"used {self.spent_tokens} of {b.max_tokens} tokens"
        limit = (b.per_node or {}).get(node)
        if limit is not None and self.by_node.get(node, Decimal(0)) >= Decimal(str(limit)):
            return f"node {node!r} spent ${float(self.by_node[node]):.6f} of ${limit}"
        return None

    def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: UUID,
                            metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        metadata = dict(metadata or {})
        node = str(metadata.get(attr.ROLE) or metadata.get("langgraph_node") or "(no node)")
        with self._lock:
            reason = self._reason(node)
        if reason is not None:
            if self.budget.on_exceed == "interrupt":
                from langgraph.types import interrupt

                answer = interrupt({"reason": "budget", "detail": reason,
                                    "spent_usd": float(self.spent_usd)})
                self._apply_resume(answer)
            else:
                raise BudgetExceeded(reason, budget={"spent_usd": float(self.spent_usd),
                                                     "spent_tokens": self.spent_tokens})
        with self._lock:
            self._calls[run_id] = (metadata, node)

    def _apply_resume(self, answer: Any) -> None:
        new = answer.get("max_usd") if isinstance(answer, dict) else answer
        if new is not None:
            self.max_usd = float(new)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        with self._lock:
            metadata, node = self._calls.pop(run_id, ({}, None))
        generation = response.generations[0][0] if response.generations and \
            response.generations[0] else None
        message = generation.message if isinstance(generation, ChatGeneration) else None
        model = (message.response_metadata.get("model_name") if message is not None else None) \
            or metadata.get("ls_model_name")
        price = Price.from_dict(metadata[attr.PRICE]) if isinstance(metadata.get(attr.PRICE),
                                                                    dict) else None
        usage = price_message(message, model=model, provider=metadata.get("ls_provider"),
                              price=price)
        with self._lock:
            usd = usage.cost_usd or Decimal(0)
            self.spent_usd += usd
            self.spent_tokens += usage.total_tokens
            if node:
                self.by_node[node] = self.by_node.get(node, Decimal(0)) + usd
