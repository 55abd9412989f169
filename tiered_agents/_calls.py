"""Sans-I/O node logic: a node's body is a generator that yields the calls it needs.

`run_sync` and `run_async` drive the same generator with `invoke` or `ainvoke`, so sync and
async share one implementation and differ only in I/O (as httpx does).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Generator
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
    before: Callable[[], None] | None = None
    """Runs once the call holds its concurrency slot, right before it starts (budget checks)."""
    after: Callable[[Any, float], None] | None = None
    """Runs with the result and the call's seconds (budget accounting)."""


Steps = Generator[Call, Any, T]


def _run(call: Call) -> Any:
    if call.before is not None:
        call.before()
    start = time.perf_counter()
    result = call.runnable.invoke(call.input, call.config)
    if call.after is not None:
        call.after(result, time.perf_counter() - start)
    return result


async def _arun(call: Call) -> Any:
    if call.before is not None:
        call.before()
    start = time.perf_counter()
    result = await call.runnable.ainvoke(call.input, call.config)
    if call.after is not None:
        call.after(result, time.perf_counter() - start)
    return result


def _invoke(call: Call) -> Any:
    if call.limiter is None:
        return _run(call)
    call.limiter.acquire()
    try:
        return _run(call)
    finally:
        call.limiter.release()


async def _ainvoke(call: Call) -> Any:
    if call.limiter is None:
        return await _arun(call)
    await call.limiter.aacquire()
    try:
        return await _arun(call)
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
