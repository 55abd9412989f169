"""`warn`: a warning that points at the user's line, not at library internals."""

from __future__ import annotations

import sys
import warnings
from types import FrameType

__all__ = ["warn"]

_LIBRARIES = frozenset({"tiered_agents", "langchain_core", "langchain", "langgraph", "pydantic",
                        "concurrent", "asyncio", "threading", "contextvars", "functools",
                        "contextlib", "typing_extensions"})
"""Top-level packages whose frames a warning skips: ours, and those that call us."""


def warn(message: str, category: type[Warning]) -> None:
    """`warnings.warn` at the first frame outside tiered-agents, LangChain, LangGraph and the
    thread pool that runs them, so the warning names the user's line; at the caller's line
    when the whole stack is library code (a callback on a worker thread)."""
    frame: FrameType | None = sys._getframe(1)  # noqa: SLF001 - the code that wants to warn
    level = 2  # stacklevel 2 is that frame (1 is this function)
    while frame is not None and \
            str(frame.f_globals.get("__name__", "")).partition(".")[0] in _LIBRARIES:
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level if frame is not None else 2)
