"""Shared fixtures: fake models scripted by what they are asked (from `tiered_agents.testing`),
and in-memory telemetry."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tiered_agents import Tier
from tiered_agents.testing import THREE_STEP_PLAN, FakeChatModel, echo_worker, planner_responder


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The long fuzz run (`@pytest.mark.fuzz`) runs only when asked for: `pytest -m fuzz`."""
    if "fuzz" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="the long fuzz run: pytest -m fuzz")
    for item in items:
        if "fuzz" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def frontier_model() -> FakeChatModel:
    return FakeChatModel(respond=planner_responder([THREE_STEP_PLAN]),
                         model_name="claude-opus-4-7", provider="anthropic")


@pytest.fixture
def small_model() -> FakeChatModel:
    return FakeChatModel(respond=echo_worker, model_name="gpt-5-mini", provider="openai")


@pytest.fixture
def tiers(small_model: FakeChatModel, frontier_model: FakeChatModel) -> tuple[Tier, Tier]:
    return Tier("small", small_model), Tier("frontier", frontier_model)


@pytest.fixture
def spans() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


@pytest.fixture
def meter() -> tuple[MeterProvider, InMemoryMetricReader]:
    reader = InMemoryMetricReader()
    return MeterProvider(metric_readers=[reader]), reader
