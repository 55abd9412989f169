"""Which provider errors are worth retrying, and how long to wait: one classifier for every
client (the built-in exceptions, httpx, openai, anthropic, any OpenAI-compatible SDK).

Transient (retried with jittered exponential backoff, honouring `Retry-After`): HTTP 408, 409,
425, 429, 500, 502, 503, 504 and 529, and connection and timeout errors. Everything else fails
fast: 400, 401, 403, 404 and 422, validation errors, and exceptions that say nothing about the
network. The graphs retry each model call on its own (a retry never repeats the calls that
already succeeded in the same node), then escalate.

Example:
    ```python
    from tiered_agents.retry import default_retry_policy, is_transient

    graph = create_tiered_graph(planner, tiers, retry_policy=default_retry_policy(max_attempts=4))
    ```
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Sequence
from typing import Any

from langgraph.errors import GraphBubbleUp
from langgraph.types import RetryPolicy

from tiered_agents.errors import BudgetStopped, TieredAgentsError

__all__ = ["TRANSIENT_STATUS", "check_retry", "default_retry_policy", "is_transient",
           "retry_after", "retry_delay", "retryable", "status_code"]

TRANSIENT_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})
"""HTTP statuses a retry may cure: timeouts, conflicts, rate limits, overload, server errors."""

_TRANSIENT_NAMES = frozenset({
    "APIConnectionError", "APITimeoutError",  # openai, anthropic and their compatibles
    "ConnectError", "ConnectTimeout", "NetworkError", "PoolTimeout", "ProxyError",  # httpx
    "ReadError", "ReadTimeout", "RemoteProtocolError", "TimeoutException", "WriteError",
    "WriteTimeout", "ServiceUnavailable", "TooManyRequests", "InternalServerError",
    "RateLimitError", "OverloadedError", "DeadlineExceeded",
})
"""Exception class names (anywhere in the class's MRO) that mean a network or capacity
problem, for SDKs that are not imported here."""


def status_code(exc: BaseException) -> int | None:
    """The HTTP status an exception carries (`exc.status_code`, `exc.response.status_code`,
    or an integer `exc.code`), or `None`."""
    for value in (getattr(exc, "status_code", None),
                  getattr(getattr(exc, "response", None), "status_code", None),
                  getattr(exc, "code", None)):
        if isinstance(value, int) and 100 <= value <= 599:
            return value
    return None


def is_transient(exc: BaseException) -> bool:
    """Whether `exc` is a provider or network error that a later try may not meet."""
    if isinstance(exc, TieredAgentsError):
        return False
    status = status_code(exc)
    if status is not None:
        return status in TRANSIENT_STATUS
    if isinstance(exc, (TimeoutError, ConnectionError)):
        return True
    return any(cls.__name__ in _TRANSIENT_NAMES for cls in type(exc).__mro__)


def retry_after(exc: BaseException) -> float | None:
    """The seconds a `Retry-After` (or `retry-after-ms`) response header asks to wait."""
    headers = getattr(getattr(exc, "response", None), "headers", None)
    if headers is None:
        return None
    try:
        millis = headers.get("retry-after-ms")
        if millis is not None:
            return max(float(millis) / 1000, 0.0)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(float(value), 0.0)
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(when.timestamp() - time.time(), 0.0)
    except (TypeError, ValueError, AttributeError, OverflowError):
        return None


def retryable(policy: RetryPolicy, exc: BaseException) -> bool:
    """Whether `policy` retries `exc`. Our own errors, budget stops and LangGraph's control flow
    (interrupts) never are, whatever the policy's `retry_on` says."""
    if isinstance(exc, (TieredAgentsError, BudgetStopped, GraphBubbleUp)) or \
            not isinstance(exc, Exception):
        return False
    retry_on = policy.retry_on
    if isinstance(retry_on, type):
        return isinstance(exc, retry_on)
    if isinstance(retry_on, Sequence):
        return isinstance(exc, tuple(retry_on))
    return bool(retry_on(exc))


def retry_delay(policy: RetryPolicy, exc: BaseException, tries: int) -> float | None:
    """Seconds to wait before try `tries + 1` of a call that raised `exc`, or `None` when the
    policy gives up (not retryable, or `max_attempts` reached).

    The wait is the policy's exponential backoff (with jitter: between half and all of it),
    or what the provider's `Retry-After` asks for when it says; never above `max_interval`.
    """
    if tries >= policy.max_attempts or not retryable(policy, exc):
        return None
    backoff = min(policy.max_interval,
                  policy.initial_interval * policy.backoff_factor ** (tries - 1))
    if policy.jitter:
        backoff *= random.uniform(0.5, 1.0)  # jitter, not cryptography
    asked = retry_after(exc)
    return min(policy.max_interval, asked if asked is not None else backoff)


def default_retry_policy(**overrides: Any) -> RetryPolicy:
    """The graphs' default: up to 6 tries per model call on transient errors (`is_transient`),
    backoff from 0.5 s doubling to at most 30 s, with jitter. `overrides` set any
    `RetryPolicy` field."""
    settings: dict[str, Any] = {"initial_interval": 0.5, "backoff_factor": 2.0,
                                "max_interval": 30.0, "max_attempts": 6, "jitter": True,
                                "retry_on": is_transient}
    return RetryPolicy(**{**settings, **overrides})


def check_retry(policy: Any) -> RetryPolicy:
    """A factory's `retry_policy=` argument, checked: `None` gives `default_retry_policy()`."""
    if policy is None:
        return default_retry_policy()
    if not isinstance(policy, RetryPolicy):
        raise TypeError("retry_policy must be a langgraph.types.RetryPolicy (see "
                        f"tiered_agents.retry.default_retry_policy), got {type(policy).__name__}.")
    if policy.max_attempts < 1:
        raise ValueError(f"retry_policy.max_attempts must be >= 1, got {policy.max_attempts}.")
    return policy
