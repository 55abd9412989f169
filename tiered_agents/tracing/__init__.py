"""OpenTelemetry tracing and cost reports for LangGraph runs."""

from tiered_agents.tracing.report import CallRecord, CostReport
from tiered_agents.tracing.setup import configure_tracing
from tiered_agents.tracing.tracker import CostTracker

__all__ = ["CallRecord", "CostReport", "CostTracker", "configure_tracing"]
