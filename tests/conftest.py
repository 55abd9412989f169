"""Shared fixtures: fake models scripted by what they are asked, and in-memory telemetry."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tiered_agents import Tier
from tiered_agents.testing import FakeChatModel, Reply

THREE_STEP_PLAN = {
    "subtasks": [
        {"id": "s1", "instruction": "Summarise contract A"},
        {"id": "s2", "instruction": "Summarise contract B"},
        {"id": "s3", "instruction": "Compare the summaries", "depends_on": ["s1", "s2"]},
    ]
}


def last_text(messages: list[BaseMessage]) -> str:
    content = messages[-1].content
    return content if isinstance(content, str) else str(content)


def instruction_of(messages: list[BaseMessage]) -> str:
    match = re.search(r"Your subtask:\n(.*)", last_text(messages))
    return match.group(1) if match else ""


def planner_responder(plans: list[Any], answer: str = "FINAL ANSWER") -> Callable[..., Reply]:
    """Answer planning prompts with `plans` in turn (wrapped in prose), and synthesis prompts."""
    remaining = list(plans)

    def respond(messages: list[BaseMessage], tools: Any) -> Reply:
        text = last_text(messages)
        if "Subtask results:" in text:
            return answer
        plan = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        body = plan if isinstance(plan, str) else json.dumps(plan)
        return f"Here is the plan:\n```json\n{body}\n```\nGood luck."

    return respond


def echo_worker(messages: list[BaseMessage], tools: Any) -> Reply:
    return f"done: {instruction_of(messages)}"


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
