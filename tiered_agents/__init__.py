"""tiered-agents: the frontier model plans, small models work, and traces price every node.

The root exports the factories, the settings and value objects, the tracer and its report,
`calibrate`, and the errors. Verifiers live in `tiered_agents.verifiers`, fake chat models in
`tiered_agents.testing`, recorded-answer replay in `tiered_agents.replay`, the drift check in
`tiered_agents.drift`, local models in `tiered_agents.local`.
"""

from tiered_agents.advisor import create_advisor_agent
from tiered_agents.budget import Budget
from tiered_agents.budget_callback import BudgetCallback
from tiered_agents.calibration import Outcome, calibrate
from tiered_agents.cascade import create_cascade
from tiered_agents.errors import (
    BudgetExceeded,
    CascadeFailedError,
    InvalidInputError,
    PlanError,
    PlanValidationError,
    SubtaskFailedError,
    TieredAgentsError,
)
from tiered_agents.escalation import EscalationPolicy
from tiered_agents.graph import create_tiered_graph
from tiered_agents.pricing import Price
from tiered_agents.tiers import Tier
from tiered_agents.tracing import CostReport, CostTracker, configure_tracing
from tiered_agents.usage import Usage

__all__ = [
    "Budget",
    "BudgetCallback",
    "BudgetExceeded",
    "CascadeFailedError",
    "CostReport",
    "CostTracker",
    "EscalationPolicy",
    "InvalidInputError",
    "Outcome",
    "PlanError",
    "PlanValidationError",
    "Price",
    "SubtaskFailedError",
    "Tier",
    "TieredAgentsError",
    "Usage",
    "calibrate",
    "configure_tracing",
    "create_advisor_agent",
    "create_cascade",
    "create_tiered_graph",
]
