"""Sans-I/O node logic: a node's body is a generator that yields the calls it needs.

`run_sync` and `run_async` drive the same generator with `invoke` or `ainvoke`, so sync and
async share one implementation and differ only in I/O (as httpx does).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, TypeVar

from langchain_core.runnables import Runnable, RunnableConfig

__all__ = ["Call", "Limiter", "Steps", "run_async", "run_sync"]

T = TypeVar("T")


class Limiter:
    """A concurrency limit shared by threads (sync runs) and event loops (async runs)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._sem = threading.BoundedSemaphore(limit)

    def acquire(self) -> None:
        self._sem.acquire()

    async def aacquire(self) -> None:
        delay = 0.001
        while not self._sem.acquire(blocking=False):
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.02)

    def release(self) -> None:
        self._sem.release()


@dataclass(frozen=True)
class Call:
    """One request a node body yields: run `runnable` on `input` with `config`."""

    runnable: Runnable[Any, Any]
    input: Any
    config: RunnableConfig
    limiter: Limiter | None = None


Steps = Generator[Call, Any, T]


def _invoke(call: Call) -> Any:
    if call.limiter is None:
        return call.runnable.invoke(call.input, call.config)
    call.limiter.acquire()
    try:
        return call.runnable.invoke(call.input, call.config)
    finally:
        call.limiter.release()


async def _ainvoke(call: Call) -> Any:
    if call.limiter is None:
        return await call.runnable.ainvoke(call.input, call.config)
    await call.limiter.aacquire()
    try:
        return await call.runnable.ainvoke(call.input, call.config)
    finally:
        call.limiter.release()


def run_sync(steps: Steps[T]) -> T:
    """Drive `steps`, answering each yielded `Call` with `invoke`."""
    try:
        call = next(steps)
        while True:
            try:
                result = _invoke(call)
            except Exception as exc:
                call = steps.throw(exc)
            else:
                call = steps.send(result)
    except StopIteration as stop:
        return stop.value


async def run_async(steps: Steps[T]) -> T:
    """Drive `steps`, answering each yielded `Call` with `ainvoke`."""
    try:
        call = next(steps)
        while True:
            try:
                result = await _ainvoke(call)
            except Exception as exc:
                call = steps.throw(exc)
            else:
                call = steps.send(result)
    except StopIteration as stop:
        return stop.value
