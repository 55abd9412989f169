"""Pricing: genai-prices by model and provider, hand-set prices, per-hour, unknown models."""

from __future__ import annotations

import random
import warnings
from decimal import Decimal

import genai_prices
import pytest
from genai_prices import data_snapshot

from tiered_agents.errors import UnpricedModelWarning
from tiered_agents.pricing import Price, PriceLookup, _calc, _rates
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


def _calc_price(usage: Usage, model: str, provider: str | None) -> Decimal:
    priced = genai_prices.Usage(input_tokens=usage.input_tokens,
                                output_tokens=usage.output_tokens,
                                cache_read_tokens=usage.cache_read_tokens,
                                cache_write_tokens=usage.cache_write_tokens)
    total: Decimal = genai_prices.calc_price(priced, model, provider_id=provider).total_price
    return total


def test_repeated_lookups_price_as_genai_prices_does() -> None:
    usages = [Usage(input_tokens=MTOK, cache_read_tokens=MTOK // 2, cache_write_tokens=1000,
                    output_tokens=300), Usage(input_tokens=7, output_tokens=3)]
    for usage in usages * 2:  # the second round is served from the cached match
        assert PriceLookup().cost(usage, model="claude-opus-4-7", provider="anthropic") == \
            _calc_price(usage, "claude-opus-4-7", "anthropic")


def test_tiered_prices_are_left_to_genai_prices() -> None:
    """A price that changes with the prompt's size (Gemini 2.5 Pro above 200k tokens) is not
    turned into per-token rates: both sides of the threshold price as genai-prices does."""
    for tokens in (1_000, 250_000):
        usage = Usage(input_tokens=tokens, output_tokens=1_000)
        assert PriceLookup().cost(usage, model="gemini-2.5-pro", provider="google") == \
            _calc_price(usage, "gemini-2.5-pro", "google")
    model_price = genai_prices.calc_price(genai_prices.Usage(input_tokens=1), "gemini-2.5-pro",
                                          provider_id="google").model_price
    assert _rates(model_price) is None


def test_per_token_rates_equal_genai_prices_on_every_model() -> None:
    """Every linear price in genai-prices' tables, turned into per-token rates, prices random
    usages (cache reads and writes included) to the same Decimal as `calc_price`."""
    rng = random.Random(7)
    checked = 0
    for provider in data_snapshot.get_snapshot().providers:
        for model in provider.models:
            for entry in model.prices if isinstance(model.prices, list) else [model.prices]:
                model_price = getattr(entry, "prices", entry)
                rates = _rates(model_price)
                if rates is None:
                    continue
                checked += 1
                for _ in range(5):
                    prompt = rng.randrange(0, 300_000)
                    read = rng.randrange(0, prompt + 1)
                    usage = Usage(input_tokens=prompt, output_tokens=rng.randrange(0, 50_000),
                                  cache_read_tokens=read,
                                  cache_write_tokens=rng.randrange(0, prompt - read + 1))
                    assert rates.cost(usage) == _calc(model_price, usage), (provider.id,
                                                                            model.id, usage)
    assert checked > 1000
