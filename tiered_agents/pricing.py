"""What a model call costs: `genai-prices` tables, or a `Price` the user sets.

One module serves the tracer, the report and budgets, so every figure is priced the same way.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from genai_prices import Usage as _PriceUsage
from genai_prices import calc_price
from genai_prices.types import ModelPrice, TieredPrices
from langchain_core.outputs import ChatGeneration, LLMResult

import tiered_agents.attributes as attr
from tiered_agents._warn import warn
from tiered_agents.errors import UnpricedModelWarning, UsageMissingWarning
from tiered_agents.usage import Usage, usage_from_message

__all__ = ["Price", "PriceLookup", "PricedReply", "charged", "estimate_tokens", "price_message",
           "price_result", "price_usage"]

_MTOK = Decimal(1_000_000)

# LangChain's `ls_provider` values that genai-prices knows under another id.
_TYPICAL = Usage(input_tokens=1_000_000, output_tokens=250_000)
"""A typical mix of tokens (4 in for 1 out), for comparing list prices."""

_PROVIDER_IDS = {
    "google_genai": "google",
    "google_vertexai": "google",
    "google_anthropic_vertex": "anthropic",
    "bedrock": "aws",
    "bedrock_converse": "aws",
    "azure": "azure",
    "azure_openai": "azure",
    "xai": "x-ai",
    "fireworks": "fireworks",
}


def _dec(value: float | int | str | Decimal | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))


@dataclass(frozen=True, kw_only=True)
class Price:
    """Prices of a model, set by hand: per million tokens, or per hour for self-hosted models."""

    input_per_mtok: Decimal | float = 0
    """US dollars per million input tokens (cache misses)."""
    output_per_mtok: Decimal | float = 0
    """US dollars per million output tokens, reasoning tokens included."""
    cache_read_per_mtok: Decimal | float | None = None
    """US dollars per million cached input tokens read; defaults to `input_per_mtok`."""
    cache_write_per_mtok: Decimal | float | None = None
    """US dollars per million input tokens written to the cache; defaults to `input_per_mtok`."""
    usd_per_hour: Decimal | float | None = None
    """Set by `Price.per_hour`: the call's wall-clock seconds are charged at this hourly rate."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Price:
        if args:  # name the parameters instead of Python's "takes 1 positional argument"
            raise TypeError(
                f"Price takes keyword arguments, e.g. Price(input_per_mtok=3, "
                f"output_per_mtok=15) or Price.per_hour(0.5); got the positional {args[0]!r}.")
        return super().__new__(cls)

    def __post_init__(self) -> None:
        for name in ("input_per_mtok", "output_per_mtok", "cache_read_per_mtok",
                     "cache_write_per_mtok", "usd_per_hour"):
            raw = getattr(self, name)
            if raw is not None and (isinstance(raw, bool) or not isinstance(
                    raw, (int, float, Decimal))):
                raise TypeError(f"Price.{name} must be a number of US dollars (int, float or "
                                f"Decimal), got {type(raw).__name__} ({raw!r}).")
            value = _dec(raw)
            if value is not None and not value.is_finite():
                raise ValueError(f"Price.{name} must be a finite number, got {raw!r}.")
            if value is not None and value < 0:
                raise ValueError(f"Price.{name} must be >= 0, got {value}.")
            object.__setattr__(self, name, value)

    @classmethod
    def per_hour(cls, usd: float | Decimal) -> Price:
        """Price a self-hosted model by the wall-clock time of each call (`usd` per hour)."""
        return cls(usd_per_hour=usd)

    def cost(self, usage: Usage, seconds: float | None = None) -> Decimal | None:
        """Cost of `usage`; per-hour prices need the call's `seconds` (else `None`)."""
        if self.usd_per_hour is not None:
            if seconds is None:
                return None
            return Decimal(str(seconds)) * Decimal(self.usd_per_hour) / Decimal(3600)
        cached = usage.cache_read_tokens + usage.cache_write_tokens
        fresh = max(usage.input_tokens - cached, 0)
        read = self.cache_read_per_mtok if self.cache_read_per_mtok is not None else (
            self.input_per_mtok)
        write = self.cache_write_per_mtok if self.cache_write_per_mtok is not None else (
            self.input_per_mtok)
        return (
            fresh * Decimal(self.input_per_mtok)
            + usage.cache_read_tokens * Decimal(read)
            + usage.cache_write_tokens * Decimal(write)
            + usage.output_tokens * Decimal(self.output_per_mtok)
        ) / _MTOK

    def to_dict(self) -> dict[str, Any]:
        return {k: None if v is None else str(v) for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Price:
        if cls is Price:  # prices travel as dicts in every call's metadata: build each once
            try:
                return _price_of(tuple(sorted(data.items())))
            except TypeError:  # an unhashable value: build it below, and let it complain
                pass
        return cls(**{k: _dec(v) for k, v in data.items()})  # type: ignore[arg-type]


@functools.lru_cache(maxsize=512)
def _price_of(items: tuple[tuple[str, Any], ...]) -> Price:
    return Price(**{k: _dec(v) for k, v in items})  # type: ignore[arg-type]


class _Rates(NamedTuple):
    """A genai-prices model price as US dollars per call and per token, for prices that are
    linear in the token counts (no tiers by prompt size): the same figures as its
    `calc_price`, at a fraction of the time (it validates and decomposes on every call)."""

    per_call: Decimal
    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal

    def cost(self, usage: Usage) -> Decimal:
        return (self.per_call + usage.input_tokens * self.input
                + usage.output_tokens * self.output + usage.cache_read_tokens * self.cache_read
                + usage.cache_write_tokens * self.cache_write)


def _calc(model_price: ModelPrice, usage: Usage) -> Decimal:
    total: Decimal = model_price.calc_price(_PriceUsage(
        input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens))["total_price"]
    return total


def _rates(model_price: ModelPrice) -> _Rates | None:
    """`model_price` as per-token rates, read from genai-prices' own `calc_price` (so cached
    and cache-write tokens are counted its way), or `None` when the price is not linear:
    tiered by prompt size, or failing the check against `calc_price` on an uneven usage."""
    if any(isinstance(v, TieredPrices) for v in vars(model_price).values()):
        return None
    m = 1_000_000
    try:
        per_call = _calc(model_price, Usage())
        prompt = _calc(model_price, Usage(input_tokens=4 * m))
        fresh = (prompt - per_call) / (4 * m)
        rates = _Rates(
            per_call, fresh,
            (_calc(model_price, Usage(input_tokens=4 * m, output_tokens=m)) - prompt) / m,
            (_calc(model_price, Usage(input_tokens=4 * m, cache_read_tokens=m)) - prompt) / m,
            (_calc(model_price, Usage(input_tokens=4 * m, cache_write_tokens=m)) - prompt) / m,
        )
        probe = Usage(input_tokens=123_457, output_tokens=54_321, cache_read_tokens=2_345,
                      cache_write_tokens=678)
    except Exception:  # an entry genai-prices cannot price this way: keep asking it
        return None
    return rates if rates.cost(probe) == _calc(model_price, probe) else None


@functools.lru_cache(maxsize=256)
def _candidates(provider: str | None) -> tuple[str | None, ...]:
    """The genai-prices provider ids to try for a LangChain provider id: its own, then any."""
    provider_id = _PROVIDER_IDS.get(provider, provider) if provider else None
    return (provider_id, None) if provider_id else (None,)


_MATCHED: dict[tuple[str, str | None], tuple[ModelPrice, _Rates | None, float]] = {}
"""genai-prices entries matched so far, by model and provider, shared by every lookup (a
tracker per run must not search the tables again). Read and written one item at a time,
which is atomic: two threads matching the same model at once both store the same entry."""


class PriceLookup:
    """Finds genai-prices entries by model name and provider; warns once per unknown model."""

    cache_seconds: float = 3600.0
    """How long a matched model price is reused before genai-prices is asked again (prices
    can change on a date, so the match is not kept forever)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._warned: set[str] = set()
        self._warned_usage: set[str] = set()

    def cost(
        self,
        usage: Usage,
        *,
        model: str | None,
        provider: str | None = None,
        price: Price | None = None,
        seconds: float | None = None,
    ) -> Decimal | None:
        """Cost of one call's `usage`, or `None` (with one warning per model) when unknown."""
        if price is not None:
            return price.cost(usage, seconds)
        if not model:
            self._warn("<unnamed model>", "the call reported no model name")
            return None
        candidates = _candidates(provider)
        key = (model, candidates[0])
        cached = _MATCHED.get(key)  # one dict read: atomic, no lock needed
        if cached is not None and cached[2] > time.monotonic():
            model_price, rates, _ = cached
            if rates is not None and \
                    usage.cache_read_tokens + usage.cache_write_tokens <= usage.input_tokens:
                return rates.cost(usage)
            return _calc(model_price, usage)
        priced = _PriceUsage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
        )
        for candidate in candidates:
            try:
                result = calc_price(priced, model, provider_id=candidate)
            except LookupError:
                continue
            except Exception as exc:  # pricing is best effort and never fails a run
                self._warn(model, f"genai-prices failed: {exc!r}")
                return None
            rates = _rates(result.model_price)
            _MATCHED[key] = (result.model_price, rates, time.monotonic() + self.cache_seconds)
            return result.total_price
        self._warn(model, f"genai-prices has no price for it (provider {provider!r})")
        return None

    def list_price(self, model: str, provider: str | None = None,
                   price: Price | None = None) -> Decimal | None:
        """What 1M input and 250k output tokens cost on `model`, or `None` when unknown or
        priced by the hour; never warns (for comparing tiers before any call)."""
        if price is not None:
            return None if price.usd_per_hour is not None else price.cost(_TYPICAL)
        typical = _PriceUsage(input_tokens=_TYPICAL.input_tokens,
                              output_tokens=_TYPICAL.output_tokens)
        for candidate in _candidates(provider):
            try:
                return Decimal(calc_price(typical, model, provider_id=candidate).total_price)
            except Exception:  # unknown here: try without the provider, else no price
                continue
        return None

    def warn_usage_missing(self, model: str) -> None:
        """Warn, once per model, that its replies carry no token usage."""
        with self._lock:
            if model in self._warned_usage:
                return
            self._warned_usage.add(model)
        warn(
            f"Model {model!r} reported no token usage, so its calls cannot be priced: the report "
            "counts them as unpriced, and budgets charge an estimate (about 4 characters a "
            "token). Streamed OpenAI-compatible calls need `stream_usage=True` "
            "(ChatOpenAI(..., stream_usage=True)); otherwise give the tier a per-hour Price.",
            UsageMissingWarning,
        )

    def _warn(self, model: str, why: str) -> None:
        with self._lock:
            if model in self._warned:
                return
            self._warned.add(model)
        warn(
            f"Cannot price model {model!r}: {why}. Its cost is reported as unknown (None). "
            "Set `Tier(..., price=Price(...))` to price it.",
            UnpricedModelWarning,
        )


_DEFAULT_LOOKUP = PriceLookup()


def price_usage(
    usage: Usage,
    *,
    model: str | None,
    provider: str | None = None,
    price: Price | None = None,
    seconds: float | None = None,
) -> Decimal | None:
    """Cost of one call with the process-wide lookup (one warning per unknown model)."""
    return _DEFAULT_LOOKUP.cost(usage, model=model, provider=provider, price=price,
                                seconds=seconds)


def price_message(
    message: Any,
    *,
    model: str | None,
    provider: str | None = None,
    price: Price | None = None,
    seconds: float | None = None,
    lookup: PriceLookup | None = None,
) -> Usage:
    """Usage and cost of one model reply, the way the tracer and budgets both count it.

    A LangChain cache hit costs nothing; a reply that carries a recorded cost
    (`tiered_agents.attributes.RECORDED_COST`, set by `ReplayChatModel`) costs that; a reply
    with no usage costs `None` (unknown), never zero.
    """
    usage = usage_from_message(message) if message is not None else None
    usage = usage or Usage(calls=1)
    meta = getattr(message, "usage_metadata", None) or {}
    response = getattr(message, "response_metadata", None) or {}
    recorded = response.get(attr.RECORDED_COST)
    cost: Decimal | None
    if meta.get("total_cost") == 0:  # LangChain's LLM cache zeroes the cost of a hit
        cost = Decimal(0)
    elif isinstance(recorded, (int, float, str)):
        cost = Decimal(str(recorded))
    elif usage.total_tokens == 0 and (price is None or price.usd_per_hour is None):
        if message is not None and not meta:
            (lookup or _DEFAULT_LOOKUP).warn_usage_missing(model or "<unnamed model>")
        cost = None
    else:
        cost = (lookup or _DEFAULT_LOOKUP).cost(usage, model=model, provider=provider,
                                                price=price, seconds=seconds)
    usage.cost_usd = cost
    usage.unpriced_calls = 1 if cost is None else 0
    return usage


def estimate_tokens(value: Any) -> int:
    """A rough token count of text, messages or a reply: about 4 characters a token (used only
    where a provider reported no usage)."""
    if value is None:
        return 0
    if isinstance(value, str):
        return (len(value) + 3) // 4
    if isinstance(value, (list, tuple)):
        return sum(estimate_tokens(v) for v in value)
    if isinstance(value, dict):  # a structured-output result
        return estimate_tokens(value.get("raw"))
    content = getattr(value, "content", None)
    tokens = estimate_tokens(content if isinstance(content, str) else str(content or ""))
    calls = getattr(value, "tool_calls", None) or []
    return tokens + sum(estimate_tokens(str(c.get("args", ""))) + 8 for c in calls)


def charged(usage: Usage, prompt: Any, reply: Any, *, model: str | None,
            provider: str | None = None, price: Price | None = None) -> tuple[Decimal, int]:
    """What a budget charges for one call: its priced `usage`, or, when the reply reported no
    usage at all, an estimate from its text (`estimate_tokens`) so limits still bite.
    Returns `(usd, tokens)`; an unknown price charges $0 (with its own warning)."""
    usd, tokens = usage.cost_usd, usage.total_tokens
    if usd is None and tokens == 0 and reply is not None:
        estimate = Usage(input_tokens=estimate_tokens(prompt),
                         output_tokens=estimate_tokens(reply), calls=1)
        tokens = estimate.total_tokens
        if price is None or price.usd_per_hour is None:
            usd = _DEFAULT_LOOKUP.cost(estimate, model=model, provider=provider, price=price)
    return usd or Decimal(0), tokens


class PricedReply(NamedTuple):
    """What `price_result` read from a chat model run."""

    message: Any
    """The reply (an `AIMessage`), or `None` when the result held none."""
    model: str
    """The model the call is priced as."""
    response_model: str | None
    """The model the reply says answered, when it says."""
    usage: Usage
    """Tokens and cost."""


def price_result(
    response: LLMResult,
    metadata: Mapping[str, Any],
    *,
    model: str | None = None,
    provider: str | None = None,
    seconds: float | None = None,
    lookup: PriceLookup | None = None,
) -> PricedReply:
    """A chat model run's reply and its priced usage, read from the run's `LLMResult` and
    LangChain metadata: how the tracer and `BudgetCallback` both count.

    The model is the reply's own `model_name` when it has one, else `model`, else the
    metadata's `ls_model_name`; a tier's own `Price` travels in the metadata.
    """
    first = response.generations[0][0] if response.generations and \
        response.generations[0] else None
    message = first.message if isinstance(first, ChatGeneration) else None
    answered = None
    if message is not None:
        answered = message.response_metadata.get("model_name") or \
            message.response_metadata.get("model")
    name = str(answered or model or metadata.get("ls_model_name") or "unknown")
    own = metadata.get(attr.PRICE)
    usage = price_message(message, model=name,
                          provider=provider or metadata.get("ls_provider"),
                          price=Price.from_dict(own) if isinstance(own, dict) else None,
                          seconds=seconds, lookup=lookup)
    return PricedReply(message, name, str(answered) if answered else None, usage)
