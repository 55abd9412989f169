"""`Tier`: a named chat model in the ladder, with its price and concurrency limit."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel

from tiered_agents._warn import warn
from tiered_agents.errors import TierOrderWarning
from tiered_agents.pricing import Price, PriceLookup

__all__ = ["Tier", "check_count", "check_ladder", "model_name", "model_provider",
           "reference_of"]


@dataclass(frozen=True)
class Tier:
    """One rung of the ladder: a chat model under a name.

    Example:
        ```python
        small = Tier("small", ChatOpenAI(model="gpt-5-mini"), max_concurrency=8)
        frontier = Tier("frontier", "anthropic:claude-opus-4-7")
        ```
    """

    name: str
    """The name plans, results, traces and reports use for this tier."""
    model: BaseChatModel | str
    """A LangChain chat model, or a `"provider:model"` string (needs `tiered-agents[providers]`);
    a string is resolved to a chat model when the tier is made."""
    _: dataclasses.KW_ONLY
    price: Price | None = None
    """Overrides the genai-prices table for this tier's calls (for example `Price.per_hour`)."""
    max_concurrency: int | None = None
    """At most this many calls on this tier at once, across the whole graph."""
    description: str | None = None
    """What this tier is good at; shown to the planner when it picks tiers."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError("Tier name must be a non-empty string, e.g. Tier('small', model).")
        if self.max_concurrency is not None and self.max_concurrency < 1:
            raise ValueError(
                f"Tier {self.name!r}: max_concurrency must be >= 1 or None, "
                f"got {self.max_concurrency}."
            )
        if isinstance(self.model, str):
            object.__setattr__(self, "model", _init_chat_model(self.model))
        elif not isinstance(self.model, BaseChatModel):
            raise TypeError(
                f"Tier {self.name!r}: model must be a langchain_core BaseChatModel or a "
                f"'provider:model' string, got {type(self.model).__name__}."
            )
        if self.price is not None and not isinstance(self.price, Price):
            raise TypeError(f"Tier {self.name!r}: price must be a tiered_agents.Price.")

    @property
    def chat_model(self) -> BaseChatModel:
        """The resolved chat model."""
        assert isinstance(self.model, BaseChatModel), "resolved in __post_init__"
        return self.model

    @property
    def model_name(self) -> str:
        return model_name(self.model)


def check_ladder(tiers: Any, **roles: Tier | None) -> list[Tier]:
    """The tiers as a list, checked: at least one, all `Tier`s, unique names. `roles` (the
    planner, a synthesizer, an advisor) must be `Tier`s too; one may be a ladder tier, but a
    role that takes a ladder tier's name must be that same tier."""
    if tiers is None or isinstance(tiers, (str, Tier)) or not isinstance(tiers, Iterable):
        raise TypeError("tiers= takes a list of Tier objects, cheapest first, e.g. "
                        f"[Tier('small', ...), Tier('frontier', ...)]; got {type(tiers).__name__}.")
    ladder = list(tiers)
    if not ladder:
        raise ValueError("tiers= needs at least one Tier, cheapest first.")
    for item in ladder:
        if not isinstance(item, Tier):
            raise TypeError(f"tiers= takes tiered_agents.Tier objects, got {type(item).__name__}. "
                            "Wrap models as Tier('name', model).")
    names = [t.name for t in ladder]
    if len(set(names)) != len(names):
        raise ValueError(f"Tier names must be unique, got {names}.")
    by_name = {t.name: t for t in ladder}
    for role, tier in roles.items():
        if tier is None:
            if role in ("planner", "advisor"):
                raise TypeError(f"{role}= needs a tiered_agents.Tier, got None.")
            continue
        if not isinstance(tier, Tier):
            raise TypeError(f"{role}= needs a tiered_agents.Tier, got {type(tier).__name__}. "
                            "Wrap the model as Tier('name', model).")
        same = by_name.get(tier.name)
        if same is not None and same != tier:
            raise ValueError(
                f"The {role} tier is named {tier.name!r} like a ladder tier, but its model or "
                "settings differ; traces and reports would mix them up. Pass the ladder's own "
                "Tier object, or give the role's tier another name.")
    _check_order(ladder)
    return ladder


def _check_order(ladder: list[Tier]) -> None:
    """Warn (pointing at the factory's caller) when known prices say the ladder is not
    cheapest first. Tiers without a known per-token price are not compared."""
    lookup = PriceLookup()
    prices = [(t, lookup.list_price(t.model_name, model_provider(t.model), t.price))
              for t in ladder]
    known = [(t, p) for t, p in prices if p is not None]
    for (low, low_price), (high, high_price) in itertools.pairwise(known):
        if high_price < low_price:
            warn(
                f"Tier {high.name!r} ({high.model_name}) costs less than {low.name!r} "
                f"({low.model_name}) below it by list price (${high_price:.2f} against "
                f"${low_price:.2f} for 1M input and 250k output tokens), but escalation climbs "
                "tiers in the order given: pass tiers cheapest first.", TierOrderWarning)
            return


def check_count(name: str, value: Any, minimum: int = 1) -> int:
    """An integer setting, checked: `TypeError` for a non-integer, `ValueError` below
    `minimum`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} ({value!r}).")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    return value


_OPENAI_COMPATIBLE = frozenset({"openai", "azure_openai", "deepseek", "xai"})
"""`init_chat_model` providers built on langchain-openai's client, which reports no token usage
on streamed calls unless `stream_usage=True`."""


def _init_chat_model(spec: str) -> BaseChatModel:
    if ":" not in spec:
        raise ValueError(
            f"Model string {spec!r} needs a provider prefix, e.g. 'openai:gpt-5-mini' or "
            "'anthropic:claude-opus-4-7'."
        )
    try:
        from langchain.chat_models import init_chat_model
    except ImportError as exc:
        raise ImportError(
            f"Resolving the model string {spec!r} needs the `langchain` package: "
            "pip install 'tiered-agents[providers]' (or pass a chat model object instead)."
        ) from exc
    provider = spec.partition(":")[0]
    if provider in _OPENAI_COMPATIBLE:  # else streamed calls report no usage, and cost $?
        return init_chat_model(spec, stream_usage=True)
    return init_chat_model(spec)


def model_name(model: Any) -> str:
    """The best name a chat model gives for itself (for prices, traces and reports)."""
    bound = getattr(model, "bound", None)  # a RunnableBinding from bind_tools
    if bound is not None and not isinstance(model, BaseChatModel):
        return model_name(bound)
    for attr in ("model_name", "model", "model_id", "deployment_name"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return value
    return type(model).__name__


def reference_of(value: Tier | str) -> dict[str, Any]:
    """What a tracer needs to price the frontier-only baseline: a tier's name, model, provider
    and own price, or a `"provider:model"` string's model and provider."""
    if isinstance(value, Tier):
        return {"tier": value.name, "model": value.model_name,
                "provider": model_provider(value.model),
                "price": value.price.to_dict() if value.price is not None else None}
    provider, _, model = value.rpartition(":")
    return {"tier": None, "model": model, "provider": provider or None, "price": None}


def model_provider(model: Any) -> str | None:
    """The LangSmith provider id (`ls_provider`) of a chat model, when it declares one."""
    try:
        provider = model._get_ls_params().get("ls_provider")  # noqa: SLF001 - public in practice
        return provider if isinstance(provider, str) else None
    except Exception:
        return None
