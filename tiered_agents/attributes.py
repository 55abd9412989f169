"""Names of tiered-agents' own metadata keys and span attributes, defined once.

The graph puts these keys in each node's and each model call's LangChain metadata; the
tracer reads them back to attribute usage, and writes them as span attributes.
"""

from __future__ import annotations

__all__ = [
    "AGG_CALLS",
    "AGG_COST_USD",
    "AGG_INPUT_TOKENS",
    "AGG_OUTPUT_TOKENS",
    "ATTEMPT",
    "COST_UNPRICED",
    "NODE",
    "OUTCOME_EVENT",
    "PRICE",
    "RECORDED_COST",
    "REFERENCE",
    "ROLE",
    "SUBTASK_ID",
    "TIER",
]

ROLE = "tiered_agents.role"
"""What a node does: `planner`, `worker`, `synthesizer`, `verify`, `advisor`."""
NODE = "tiered_agents.node"
"""The node a call is attributed to (the role, or LangGraph's node name)."""
TIER = "tiered_agents.tier"
"""Name of the tier a call ran on."""
SUBTASK_ID = "tiered_agents.subtask_id"
"""Id of the plan's subtask a worker call served."""
ATTEMPT = "tiered_agents.attempt"
"""1-based attempt number of a subtask (escalations count up)."""
PRICE = "tiered_agents.price"
"""A tier's own `Price`, as a dict, when it overrides the genai-prices table."""
REFERENCE = "tiered_agents.reference"
"""The frontier tier the savings are measured against: {"tier", "model", "provider", "price"}."""
RECORDED_COST = "tiered_agents.cost_usd"
"""A reply's `response_metadata` key for a cost already known (a replayed recording): the
tracker charges it as is instead of pricing the tokens."""
COST_UNPRICED = "tiered_agents.cost.unpriced"
"""True on a chat span whose cost could not be determined."""

AGG_INPUT_TOKENS = "tiered_agents.aggregated.input_tokens"
"""Sum of input tokens of every model call below this span (node and workflow spans only)."""
AGG_OUTPUT_TOKENS = "tiered_agents.aggregated.output_tokens"
"""Sum of output tokens of every model call below this span."""
AGG_CALLS = "tiered_agents.aggregated.calls"
"""Number of model calls below this span."""
AGG_COST_USD = "tiered_agents.aggregated.cost_usd"
"""Sum of the priced calls' cost below this span, in US dollars."""

OUTCOME_EVENT = "tiered_agents.attempt_outcome"
"""A LangChain custom event a worker node dispatches once it has decided an attempt:
`{"accepted": bool, "attempt": int, "tier": str, "subtask_id": str | None}`. The tracker counts
an attempt's calls in the frontier-only baseline only when it was accepted."""
