"""The examples' models come from environment variables; without them, one line says what to set."""

from __future__ import annotations

import os
from typing import Any

from tiered_agents import Tier


def env_tier(name: str, variable: str, default: str, **options: Any) -> Tier:
    """`Tier(name, $variable or default)`, or exit with one line naming what to set."""
    spec = os.environ.get(variable, default)
    try:
        return Tier(name, spec, **options)
    except Exception as exc:  # a missing package or API key: say what to set, not a traceback
        reason = (str(exc).strip().splitlines() or [""])[0][:200]
        raise SystemExit(
            f"The {name} tier {spec!r} cannot be built ({type(exc).__name__}: {reason}). Set "
            f"{variable} to a 'provider:model' string and that provider's API key (e.g. "
            "ANTHROPIC_API_KEY, OPENAI_API_KEY), after pip install "
            "'tiered-agents[providers,otel]'.") from None
