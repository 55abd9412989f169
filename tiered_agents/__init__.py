"""tiered-agents: the frontier model plans, small models work, and traces price every node."""

from tiered_agents.advisor import create_advisor_agent
from tiered_agents.budget import Budget, BudgetCallback, BudgetExceeded
from tiered_agents.calibration import calibrate
from tiered_agents.cascade import create_cascade
from tiered_agents.errors import (
    CascadeFailedError,
    PlanError,
    SubtaskFailedError,
    TieredAgentsError,
)
from tiered_agents.escalation import EscalationPolicy
from tiered_agents.graph import create_tiered_graph
from tiered_agents.plan import Plan, Subtask
from tiered_agents.pricing import Price
from tiered_agents.replay import ReplayChatModel
from tiered_agents.state import Attempt, SubtaskResult
from tiered_agents.tiers import Tier
from tiered_agents.tracing import CostReport, CostTracker, configure_tracing
from tiered_agents.usage import Usage
from tiered_agents.verifiers import (
    ConfidenceVerifier,
    FunctionVerifier,
    JudgeVerifier,
    SchemaVerifier,
    SelfCheckVerifier,
    Verdict,
    Verifier,
    VerifyContext,
)

__all__ = [
    "Attempt",
    "Budget",
    "BudgetCallback",
    "BudgetExceeded",
    "CascadeFailedError",
    "ConfidenceVerifier",
    "CostReport",
    "CostTracker",
    "EscalationPolicy",
    "FunctionVerifier",
    "JudgeVerifier",
    "Plan",
    "PlanError",
    "Price",
    "ReplayChatModel",
    "SchemaVerifier",
    "SelfCheckVerifier",
    "Subtask",
    "SubtaskFailedError",
    "SubtaskResult",
    "Tier",
    "TieredAgentsError",
    "Usage",
    "Verdict",
    "Verifier",
    "VerifyContext",
    "calibrate",
    "configure_tracing",
    "create_advisor_agent",
    "create_cascade",
    "create_tiered_graph",
]
