"""How the graphs enforce a `Budget`: the state channel, a node's view of the spending, and the
one handler every graph and `BudgetCallback` call when a limit refuses a model call.

Before a call starts, a node's `RunBudget` checks what is already spent: by the run's finished
supersteps (the `budget` state channel) and by sibling tasks of the current superstep (a live
ledger keyed by LangGraph's checkpoint id). So the overshoot is bounded by the calls already in
flight when the limit is crossed (see `tiered_agents.budget`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from langgraph.runtime import get_runtime
from langgraph.types import interrupt
from typing_extensions import TypedDict

from tiered_agents.budget import Budget, OnExceed, Spend
from tiered_agents.errors import BudgetExceeded, BudgetStopped
from tiered_agents.pricing import Price, charged, price_message
from tiered_agents.usage import Usage

__all__ = ["BudgetState", "RunBudget", "check_interrupt", "merge_budget", "on_budget_stop"]


class BudgetState(TypedDict, total=False):
    """The `budget` state channel (and each node's update to it)."""

    limit_usd: float | None
    """The dollar limit in force (raised when an interrupt is resumed with a new one)."""
    limit_tokens: int | None
    """The token limit in force."""
    spent_usd: Decimal
    """Dollars spent by finished supersteps."""
    spent_tokens: int
    """Tokens used by finished supersteps."""
    by_node: dict[str, Decimal]
    """Dollars per node."""
    exceeded: bool
    """Whether a limit refused a call."""
    stopped_at: str | None
    """Where it did."""
    reset: bool
    """In an update only: a resumed interrupt clears `exceeded` and `stopped_at`."""


def _usd(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value or 0))


def merge_budget(left: BudgetState | None, right: BudgetState | None) -> BudgetState:
    """Reducer: adds spending, keeps the first stop, and applies limit changes."""
    out: BudgetState = {**(left or {})}
    if not right:
        return out
    if right.get("reset"):
        out["exceeded"], out["stopped_at"] = False, None
    if "limit_usd" in right:
        out["limit_usd"] = right["limit_usd"]
    if "limit_tokens" in right:
        out["limit_tokens"] = right["limit_tokens"]
    out["spent_usd"] = _usd(out.get("spent_usd")) + _usd(right.get("spent_usd"))
    out["spent_tokens"] = int(out.get("spent_tokens") or 0) + int(right.get("spent_tokens") or 0)
    by_node = {node: _usd(usd) for node, usd in (out.get("by_node") or {}).items()}
    for node, usd in (right.get("by_node") or {}).items():
        by_node[node] = by_node.get(node, Decimal(0)) + _usd(usd)
    out["by_node"] = by_node
    if right.get("exceeded"):
        out["exceeded"] = True
        out["stopped_at"] = out.get("stopped_at") or right.get("stopped_at")
    out.setdefault("exceeded", False)
    out.setdefault("stopped_at", None)
    out.pop("reset", None)
    return out


def _initial_state(budget: Budget) -> BudgetState:
    return {"limit_usd": budget.max_usd, "limit_tokens": budget.max_tokens,
            "spent_usd": Decimal(0), "spent_tokens": 0, "by_node": {}, "exceeded": False,
            "stopped_at": None}


def _public_view(state_budget: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a user sees of the spending in an interrupt or a `BudgetExceeded`."""
    b = dict(state_budget or {})
    return {"limit_usd": b.get("limit_usd"), "spent_usd": _usd(b.get("spent_usd")),
            "exceeded": bool(b.get("exceeded")), "stopped_at": b.get("stopped_at")}


def _resume_update(answer: Any) -> BudgetState:
    """The `budget` update for an interrupt resumed with `answer`: a new dollar limit (a
    number, or {"max_usd": ..., "max_tokens": ...})."""
    update: BudgetState = {"reset": True}
    limit = answer.get("max_usd") if isinstance(answer, dict) else answer
    tokens = answer.get("max_tokens") if isinstance(answer, dict) else None
    if limit is not None:
        update["limit_usd"] = float(limit)
    if tokens is not None:
        update["limit_tokens"] = int(tokens)
    return update


def check_interrupt(budget: Any, checkpointer: Any) -> None:
    """A factory's `budget=`, checked: a `Budget` or `None`, and `on_exceed="interrupt"` only
    with a checkpointer (a pause must be saved somewhere to be resumed)."""
    if budget is None:
        return
    if not isinstance(budget, Budget):
        raise TypeError(f"budget= takes a tiered_agents.Budget, got {type(budget).__name__}.")
    if budget.on_exceed == "interrupt" and (checkpointer is None or checkpointer is False):
        raise ValueError(
            "Budget(on_exceed='interrupt') pauses the run, which needs a checkpointer to resume: "
            "pass checkpointer=InMemorySaver() (or a SQLite/Postgres saver), or checkpointer=True "
            "for a subgraph that uses its parent's or a graph served by LangGraph Server (which "
            "brings its own); or choose on_exceed='stop' or 'raise'.")


def on_budget_stop(budget: Budget | None, reason: str, *, state: Mapping[str, Any],
                   spent: Mapping[str, Any] | None) -> BudgetState | None:
    """Apply `budget.on_exceed` after a limit refused a call (the one place that does).

    `raise`: raises `BudgetExceeded` with `state` and the spending. `interrupt`: pauses the run
    (a LangGraph interrupt) and, once resumed, returns the update that raises the limit.
    `stop` and `downgrade`: returns `None`; the caller ends its work cleanly.
    """
    mode: OnExceed = budget.on_exceed if budget is not None else "stop"
    view = _public_view(spent)
    if mode == "raise":
        raise BudgetExceeded(reason, state={**state, "budget": view}) from None
    if mode == "interrupt":
        return _resume_update(interrupt({"reason": "budget", "detail": reason, **view}))
    return None


class _LiveLedger:
    """Spending of the tasks of one superstep, shared while they run (bounded in size)."""

    def __init__(self, size: int = 4096) -> None:
        self._lock = threading.Lock()
        self._steps: OrderedDict[str, Spend] = OrderedDict()
        self._size = size

    def add(self, key: str, node: str, usd: Decimal, tokens: int) -> None:
        with self._lock:
            step = self._steps.get(key, Spend())
            by_node = dict(step.by_node)
            by_node[node] = by_node.get(node, Decimal(0)) + usd
            self._steps[key] = Spend(step.usd + usd, step.tokens + tokens, by_node)
            while len(self._steps) > self._size:
                self._steps.popitem(last=False)

    def get(self, key: str) -> Spend:
        with self._lock:
            return self._steps.get(key, Spend())


_LIVE = _LiveLedger()


def _step_key() -> str | None:
    try:
        info = getattr(get_runtime(), "execution_info", None)
    except RuntimeError:  # not inside a LangGraph run
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
        self.committed: BudgetState = {**(committed or (  # type: ignore[typeddict-item]
            _initial_state(budget) if budget else {}))}
        self.key = _step_key() if budget is not None else None
        self._lock = threading.Lock()
        self.spent_usd = Decimal(0)
        self.spent_tokens = 0
        self.stopped: str | None = None

    @property
    def stops_calls(self) -> bool:
        return self.budget is not None and self.budget.stops_calls

    def _live(self) -> Spend:
        if self.key is not None:
            return _LIVE.get(self.key)
        with self._lock:
            return Spend(self.spent_usd, self.spent_tokens, {self.node: self.spent_usd})

    def exceeded(self) -> str | None:
        """Why the budget is spent, or `None` while there is room."""
        if self.budget is None:
            return None
        if self.committed.get("exceeded") and self.budget.stops_calls:
            return f"the budget was already exceeded at {self.committed.get('stopped_at')}"
        live = self._live()
        committed_node = _usd((self.committed.get("by_node") or {}).get(self.node))
        spent = Spend(usd=_usd(self.committed.get("spent_usd")) + live.usd,
                      tokens=int(self.committed.get("spent_tokens") or 0) + live.tokens,
                      by_node={self.node: committed_node +
                               live.by_node.get(self.node, Decimal(0))})
        in_force = replace(self.budget,
                           max_usd=self.committed.get("limit_usd", self.budget.max_usd),
                           max_tokens=self.committed.get("limit_tokens", self.budget.max_tokens))
        return in_force.check(spent, self.node)

    @property
    def downgraded(self) -> bool:
        return self.budget is not None and not self.budget.stops_calls and \
            self.exceeded() is not None

    def guard(self) -> None:
        """Called before each model call: refuses it (`BudgetStopped`) when the budget is
        spent."""
        if not self.stops_calls:
            return
        reason = self.exceeded()
        if reason is not None:
            self.stopped = reason
            raise BudgetStopped(reason)

    def record(self, result: Any, seconds: float, *, model: str, provider: str | None,
               price: Price | None, prompt: Any = None) -> None:
        """Called after each model call with its result (and its `prompt`, to estimate the
        cost of a reply that reports no usage: a limit must never see such calls as $0)."""
        if self.budget is None:
            return
        message = result.get("raw") if isinstance(result, dict) else result
        response = getattr(message, "response_metadata", None) or {}
        name = response.get("model_name") or model
        usage: Usage = price_message(message, model=name, provider=provider, price=price,
                                     seconds=seconds)
        usd, tokens = charged(usage, prompt, message, model=name, provider=provider,
                              price=price)
        with self._lock:
            self.spent_usd += usd
            self.spent_tokens += tokens
        if self.key is not None:
            _LIVE.add(self.key, self.node, usd, tokens)

    def update(self, stopped_at: str | None = None) -> BudgetState:
        """This node's contribution to the `budget` state channel."""
        if self.budget is None:
            return {}
        with self._lock:
            update: BudgetState = {"spent_usd": self.spent_usd, "spent_tokens": self.spent_tokens,
                                   "by_node": {self.node: self.spent_usd}}
        if self.fresh:
            update["limit_usd"] = self.budget.max_usd
            update["limit_tokens"] = self.budget.max_tokens
        reason = self.stopped or (None if self.budget.stops_calls else self.exceeded())
        if reason is not None:
            update["exceeded"], update["stopped_at"] = True, stopped_at or self.node
        return update

    def spending(self) -> BudgetState:
        """The run's spending as this node sees it: finished supersteps plus this node."""
        return merge_budget(self.committed, self.update())

    def resumed(self, reset: BudgetState) -> RunBudget:
        """A fresh view after an interrupt was resumed with `reset` (a raised limit)."""
        return RunBudget(self.budget, merge_budget(self.committed, reset), self.node)
