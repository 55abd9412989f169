"""tiered-agents: the frontier model plans, small models work, and traces price every node."""

from tiered_agents.errors import PlanError, SubtaskFailedError, TieredAgentsError
from tiered_agents.graph import create_tiered_graph
from tiered_agents.plan import Plan, Subtask
from tiered_agents.pricing import Price
from tiered_agents.state import Attempt, SubtaskResult
from tiered_agents.tiers import Tier
from tiered_agents.tracing import CostReport, CostTracker, configure_tracing
from tiered_agents.usage import Usage

__all__ = [
    "Attempt",
    "CostReport",
    "CostTracker",
    "Plan",
    "PlanError",
    "Price",
    "Subtask",
    "SubtaskFailedError",
    "SubtaskResult",
    "Tier",
    "TieredAgentsError",
    "Usage",
    "configure_tracing",
    "create_tiered_graph",
]
