"""Usage normalisation: one case per provider shape."""

from __future__ import annotations

from dataclasses import fields
from decimal import Decimal

import pytest
from langchain_core.messages import AIMessage

from tiered_agents.usage import Usage, usage_from_message


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        pytest.param(
            AIMessage("x", usage_metadata={
                "input_tokens": 1500, "output_tokens": 200, "total_tokens": 1700,
                "input_token_details": {"cache_read": 1000, "cache_creation": 300}}),
            Usage(input_tokens=1500, output_tokens=200, cache_read_tokens=1000,
                  cache_write_tokens=300, calls=1),
            id="anthropic-cache-read-and-write",
        ),
        pytest.param(
            AIMessage("x", usage_metadata={
                "input_tokens": 900, "output_tokens": 700, "total_tokens": 1600,
                "input_token_details": {"cache_read": 512},
                "output_token_details": {"reasoning": 600}}),
            Usage(input_tokens=900, output_tokens=700, cache_read_tokens=512,
                  reasoning_tokens=600, calls=1),
            id="openai-cached-and-reasoning",
        ),
        pytest.param(
            AIMessage("x", response_metadata={"token_usage": {
                "prompt_tokens": 40, "completion_tokens": 9,
                "prompt_tokens_details": {"cached_tokens": 16},
                "completion_tokens_details": {"reasoning_tokens": 4}}}),
            Usage(input_tokens=40, output_tokens=9, cache_read_tokens=16, reasoning_tokens=4,
                  calls=1),
            id="openai-raw-response-metadata",
        ),
        pytest.param(
            AIMessage("x", response_metadata={"usage": {
                "input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 100,
                "cache_creation_input_tokens": 20}}),
            Usage(input_tokens=130, output_tokens=5, cache_read_tokens=100,
                  cache_write_tokens=20, calls=1),
            id="anthropic-raw-response-metadata",
        ),
        pytest.param(AIMessage("x"), None, id="no-usage"),
    ],
)
def test_usage_from_message(message: AIMessage, expected: Usage | None) -> None:
    assert usage_from_message(message) == expected


def test_usage_adds_and_keeps_unknown_cost_distinct_from_zero() -> None:
    a = Usage(input_tokens=1, output_tokens=2, calls=1, cost_usd=Decimal("0.5"))
    b = Usage(input_tokens=3, output_tokens=4, calls=1, cost_usd=None, unpriced_calls=1)
    total = a + b
    assert (total.input_tokens, total.output_tokens, total.calls) == (4, 6, 2)
    assert total.cost_usd == Decimal("0.5") and total.unpriced_calls == 1
    assert (Usage() + Usage()).cost_usd is None
    assert sum([a, a], Usage()).cost_usd == Decimal("1.0")


def test_adding_usages_adds_every_field() -> None:
    """`incr` names each field (it is on every call's path): a field added to `Usage` and
    not to `incr` fails here."""
    counts = [f.name for f in fields(Usage) if f.name != "cost_usd"]
    one = Usage(**{name: i + 1 for i, name in enumerate(counts)}, cost_usd=Decimal(1))
    total = one + one
    assert {name: getattr(total, name) for name in counts} == \
        {name: 2 * (i + 1) for i, name in enumerate(counts)}
    assert total.cost_usd == Decimal(2)
