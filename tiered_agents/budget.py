"""`Budget`: the dollar and token limits a run may spend, and the one check against them.

The graphs (`create_tiered_graph`, `create_cascade`, `create_advisor_agent`) and
`BudgetCallback` enforce it: before each model call they ask `Budget.check` whether the
spending so far leaves room, and when it does not they apply `on_exceed` the same way. Spending
is counted from each call's real usage, priced by the same code as the tracer. The overshoot
is bounded by the calls already in flight when the limit is crossed: at most (calls in flight)
x (the cost of the dearest such call). Bound the calls in flight with `max_concurrency` (per
run or per tier) to tighten it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, get_args

__all__ = ["Budget", "OnExceed", "Spend"]

OnExceed = Literal["stop", "downgrade", "interrupt", "raise"]
"""What happens when a limit is reached.

- `stop`: no new model call starts; the run ends cleanly with every finished result.
- `downgrade`: remaining work runs on the cheapest tier, and escalation stops.
- `interrupt`: the run pauses (a LangGraph interrupt); resume with
  `Command(resume={"max_usd": ...})` (or a number) to raise the limit.
- `raise`: `BudgetExceeded`, carrying the state the run had.
"""


@dataclass(frozen=True)
class Spend:
    """What a run has spent so far."""

    usd: Decimal = Decimal(0)
    """Dollars, priced calls only."""
    tokens: int = 0
    """Input plus output tokens."""
    by_node: Mapping[str, Decimal] = field(default_factory=dict)
    """Dollars per node (`planner`, `worker`, ...)."""


def _limit(name: str, value: object, kind: type) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise TypeError(f"Budget.{name} must be a number or None, got {value!r}; "
                        f"e.g. Budget({name}={kind(1)!r}).")
    if math.isnan(float(value)) or value < 0:
        raise ValueError(f"Budget.{name} must be a number >= 0, got {value!r}.")


@dataclass(frozen=True, kw_only=True)
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

    def __new__(cls, *args: Any, **kwargs: Any) -> Budget:
        if args:  # name the parameters instead of Python's "takes 1 positional argument"
            raise TypeError(f"Budget takes keyword arguments, e.g. Budget(max_usd=0.5, "
                            f"on_exceed='stop'); got the positional {args[0]!r}.")
        return super().__new__(cls)

    def __post_init__(self) -> None:
        if self.on_exceed not in get_args(OnExceed):
            raise ValueError(f"Invalid on_exceed: {self.on_exceed!r}. Needs to be one of "
                             f"{get_args(OnExceed)}.")
        _limit("max_usd", self.max_usd, float)
        _limit("max_tokens", self.max_tokens, int)
        if self.per_node is not None:
            for node, value in self.per_node.items():
                _limit(f"per_node[{node!r}]", value, float)
            object.__setattr__(self, "per_node", dict(self.per_node))

    @property
    def stops_calls(self) -> bool:
        """Whether a reached limit refuses new model calls (every mode but `downgrade`, which
        lets the remaining work run on the cheapest tier)."""
        return self.on_exceed != "downgrade"

    def check(self, spent: Spend, node: str | None = None) -> str | None:
        """Why the budget leaves no room for another call by `node`, or `None` while it does.

        Pure: it raises nothing and changes nothing (what to do is `on_exceed`'s business).
        """
        if self.max_usd is not None and spent.usd >= Decimal(str(self.max_usd)):
            return f"spent ${float(spent.usd):.6f} of ${self.max_usd}"
        if self.max_tokens is not None and spent.tokens >= self.max_tokens:
            return f"used {spent.tokens} of {self.max_tokens} tokens"
        limit = (self.per_node or {}).get(node) if node is not None else None
        if limit is not None:
            node_usd = spent.by_node.get(node, Decimal(0)) if node is not None else Decimal(0)
            if node_usd >= Decimal(str(limit)):
                return f"node {node!r} spent ${float(node_usd):.6f} of ${limit}"
        return None
