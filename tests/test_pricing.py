"""Pricing: genai-prices by model and provider, hand-set prices, per-hour, unknown models."""

from __future__ import annotations

import warnings
from decimal import Decimal

import pytest

from tiered_agents.errors import UnpricedModelWarning
from tiered_agents.pricing import Price, PriceLookup
from tiered_agents.usage import Usage

MTOK = 1_000_000


@pytest.mark.parametrize(
    ("model", "provider", "usage", "expected"),
    [
        pytest.param("claude-opus-4-7", "anthropic", Usage(input_tokens=MTOK, output_tokens=MTOK),
                     Decimal("30"), id="opus-4.7"),
        pytest.param("claude-opus-4-7", "anthropic",
                     Usage(input_tokens=MTOK, cache_read_tokens=MTOK), Decimal("0.5"),
                     id="opus-cache-read"),
        pytest.param("claude-opus-4-7", "anthropic",
                     Usage(input_tokens=MTOK, cache_write_tokens=MTOK), Decimal("6.25"),
                     id="opus-cache-write"),
        pytest.param("gpt-5-mini", "openai", Usage(input_tokens=MTOK, output_tokens=MTOK),
                     Decimal("2.25"), id="gpt-5-mini"),
        pytest.param("gpt-5-mini", None, Usage(output_tokens=MTOK, reasoning_tokens=MTOK),
                     Decimal("2"), id="reasoning-billed-as-output"),
        pytest.param("deepseek-v4-flash", "deepseek", Usage(input_tokens=MTOK),
                     Decimal("0.15"), id="deepseek-flash"),
        pytest.param("gpt-5-mini", "not-a-provider", Usage(input_tokens=MTOK), Decimal("0.25"),
                     id="unknown-provider-falls-back-to-model-match"),
    ],
)
def test_genai_prices_lookup(model: str, provider: str | None, usage: Usage,
                             expected: Decimal) -> None:
    assert PriceLookup().cost(usage, model=model, provider=provider) == expected


def test_hand_set_price_overrides_the_table() -> None:
    price = Price(input_per_mtok=1, output_per_mtok=4, cache_read_per_mtok=0.1)
    usage = Usage(input_tokens=3 * MTOK, output_tokens=MTOK, cache_read_tokens=MTOK)
    assert PriceLookup().cost(usage, model="gpt-5-mini", price=price) == Decimal("6.1")
    assert Price.from_dict(price.to_dict()) == price


def test_per_hour_price_charges_wall_clock_seconds() -> None:
    price = Price.per_hour(0.36)
    assert price.cost(Usage(input_tokens=10), seconds=10) == Decimal("0.001")
    assert price.cost(Usage(input_tokens=10), seconds=None) is None


def test_unknown_model_is_none_with_one_warning_per_model() -> None:
    lookup = PriceLookup()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert lookup.cost(Usage(input_tokens=5), model="my-finetune-7b") is None
        assert lookup.cost(Usage(input_tokens=5), model="my-finetune-7b") is None
    assert [w.category for w in caught] == [UnpricedModelWarning]
    assert "Price(" in str(caught[0].message)


def test_negative_price_is_rejected() -> None:
    with pytest.raises(ValueError, match="input_per_mtok must be >= 0"):
        Price(input_per_mtok=-1)


def test_cached_match_prices_the_same_as_a_fresh_lookup() -> None:
    lookup = PriceLookup()
    usages = [Usage(input_tokens=MTOK, cache_read_tokens=MTOK // 2, cache_write_tokens=1000,
                    output_tokens=300), Usage(input_tokens=7, output_tokens=3)]
    for usage in usages * 2:  # the second round is served from the cached match
        assert lookup.cost(usage, model="claude-opus-4-7", provider="anthropic") == \
            PriceLookup().cost(usage, model="claude-opus-4-7", provider="anthropic")
