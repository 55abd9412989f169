"""Token usage of model calls: one normalised shape for every provider, and addition."""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from langchain_core.messages import BaseMessage

__all__ = ["Usage", "usage_from_message"]


@dataclass(kw_only=True)
class Usage:
    """Tokens, calls and cost of one or more model calls. Instances can be added."""

    input_tokens: int = 0
    """Prompt tokens, cache reads and writes included."""
    output_tokens: int = 0
    """Completion tokens, reasoning tokens included."""
    cache_read_tokens: int = 0
    """Input tokens served from the provider's prompt cache."""
    cache_write_tokens: int = 0
    """Input tokens written to the provider's prompt cache."""
    reasoning_tokens: int = 0
    """Output tokens spent on hidden reasoning."""
    calls: int = 0
    """Number of model calls."""
    cost_usd: Decimal | None = None
    """Cost in US dollars; `None` when no call could be priced (never a silent zero)."""
    unpriced_calls: int = 0
    """Calls whose cost is unknown, so `cost_usd` is a lower bound when this is not zero."""

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def incr(self, other: Usage) -> None:
        """Add `other` into this usage in place."""
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cache_read_tokens += other.cache_read_tokens
        self.cache_write_tokens += other.cache_write_tokens
        self.reasoning_tokens += other.reasoning_tokens
        self.calls += other.calls
        self.unpriced_calls += other.unpriced_calls
        if other.cost_usd is not None:
            self.cost_usd = (self.cost_usd or Decimal(0)) + other.cost_usd

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        total = Usage()
        total.incr(self)
        total.incr(other)
        return total

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["cost_usd"] = None if self.cost_usd is None else float(self.cost_usd)
        return out


def _int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) else 0


def usage_from_message(message: BaseMessage) -> Usage | None:
    """Read the token usage of one AI message, or `None` when the provider reported none.

    LangChain's `usage_metadata` is the standard shape; raw provider shapes in
    `response_metadata` (OpenAI's `token_usage`, Anthropic's `usage`) are read as a fallback.
    """
    meta = getattr(message, "usage_metadata", None)
    if meta:
        inp = meta.get("input_token_details") or {}
        out = meta.get("output_token_details") or {}
        return Usage(
            input_tokens=_int(meta.get("input_tokens")),
            output_tokens=_int(meta.get("output_tokens")),
            cache_read_tokens=_int(inp.get("cache_read")),
            cache_write_tokens=_int(inp.get("cache_creation")),
            reasoning_tokens=_int(out.get("reasoning")),
            calls=1,
        )
    raw = message.response_metadata or {}
    openai = raw.get("token_usage")
    if isinstance(openai, dict) and "prompt_tokens" in openai:
        prompt = openai.get("prompt_tokens_details") or {}
        completion = openai.get("completion_tokens_details") or {}
        return Usage(
            input_tokens=_int(openai.get("prompt_tokens")),
            output_tokens=_int(openai.get("completion_tokens")),
            cache_read_tokens=_int(prompt.get("cached_tokens")),
            reasoning_tokens=_int(completion.get("reasoning_tokens")),
            calls=1,
        )
    anthropic = raw.get("usage")
    if isinstance(anthropic, dict) and "input_tokens" in anthropic:
        read = _int(anthropic.get("cache_read_input_tokens"))
        write = _int(anthropic.get("cache_creation_input_tokens"))
        return Usage(
            input_tokens=_int(anthropic.get("input_tokens")) + read + write,
            output_tokens=_int(anthropic.get("output_tokens")),
            cache_read_tokens=read,
            cache_write_tokens=write,
            calls=1,
        )
    return None
