"""Sans-I/O node logic: a node's body is a generator that yields the calls it needs.

`run_sync` and `run_async` drive the same generator with `invoke` or `ainvoke`, so sync and
async share one implementation and differ only in I/O (as httpx does). `node_pair` makes the
two LangGraph node functions of one body; `model_call` is the one factory for a model call
(tier metadata for the tracer, the tier's price, its concurrency limit, the budget's checks);
each call is retried on its own by its `RetryPolicy` (`tiered_agents.retry`), so a retry never
repeats the calls that already succeeded in the same node.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable, RunnableConfig, ensure_config
from langchain_core.tools import BaseTool, tool
from langgraph.types import RetryPolicy

import tiered_agents.attributes as attr
from tiered_agents._budget import RunBudget
from tiered_agents.errors import InvalidInputError
from tiered_agents.retry import retry_delay
from tiered_agents.tiers import Tier, model_provider

__all__ = ["Body", "Call", "Inline", "Limiter", "Nodes", "Steps", "Update", "as_tool", "body_node",
           "graph_node", "model_call", "node_pair", "router",
           "require_chat", "resuming", "run_async", "run_sync", "text_of"]

T = TypeVar("T")


_Waiter = threading.Event | tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]
"""A thread waiting for a slot (its event), or a task (its loop and future)."""


class Limiter:
    """A concurrency limit shared by threads (sync runs) and event loops (async runs).

    A freed slot is handed to the longest waiter at once, thread or task: nobody polls, and
    nobody who came later gets in first. A task cancelled while it waits gives its place (or
    the slot it was just handed) back.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._free = limit
        self._waiters: deque[_Waiter] = deque()

    def acquire(self) -> None:
        with self._lock:
            if self._free and not self._waiters:
                self._free -= 1
                return
            handed = threading.Event()
            self._waiters.append(handed)
        handed.wait()

    async def aacquire(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._free and not self._waiters:
                self._free -= 1
                return
            waiter = (loop, loop.create_future())
            self._waiters.append(waiter)
        try:
            await waiter[1]
        except asyncio.CancelledError:
            with self._lock:
                queued = waiter in self._waiters
                if queued:
                    self._waiters.remove(waiter)
            if not queued and waiter[1].done() and not waiter[1].cancelled():
                self.release()  # handed a slot, then cancelled before it could use it
            raise  # (a slot handed to a cancelled future comes back in `_hand_over`)

    def release(self) -> None:
        with self._lock:
            while self._waiters:
                if self._hand_to(self._waiters.popleft()):
                    return
            if self._free >= self.limit:
                raise ValueError("Limiter released more times than it was acquired.")
            self._free += 1

    def _hand_to(self, waiter: _Waiter) -> bool:
        """Give the freed slot to `waiter`; `False` when it can no longer take it."""
        if isinstance(waiter, threading.Event):
            waiter.set()
            return True
        loop, future = waiter
        if future.done():  # cancelled while queued, and about to leave the queue
            return False
        try:
            loop.call_soon_threadsafe(self._hand_over, future)
        except RuntimeError:  # its event loop is closed
            return False
        return True

    def _hand_over(self, future: asyncio.Future[None]) -> None:
        """On the waiter's loop: wake it with its slot, or pass the slot on if it was
        cancelled in the meantime."""
        if future.cancelled():
            self.release()
        elif not future.done():
            future.set_result(None)


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
    retry: RetryPolicy | None = None
    """How a failed try is retried (`retry.retry_delay`); `None`: never."""


Steps = Generator[Call, Any, T]
"""A node body: yields the calls it needs, gets their results back, returns `T`."""
Update = dict[str, Any]
"""A node's state update."""


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


def _invoke_once(call: Call) -> Any:
    if call.limiter is None:
        return _run(call)
    call.limiter.acquire()
    try:
        return _run(call)
    finally:
        call.limiter.release()


async def _ainvoke_once(call: Call) -> Any:
    if call.limiter is None:
        return await _arun(call)
    await call.limiter.aacquire()
    try:
        return await _arun(call)
    finally:
        call.limiter.release()


def _invoke(call: Call) -> Any:
    tries = 1
    while True:
        try:
            return _invoke_once(call)
        except Exception as exc:
            delay = retry_delay(call.retry, exc, tries) if call.retry is not None else None
            if delay is None:
                raise
        time.sleep(delay)  # the concurrency slot is free while waiting
        tries += 1


async def _ainvoke(call: Call) -> Any:
    tries = 1
    while True:
        try:
            return await _ainvoke_once(call)
        except Exception as exc:
            delay = retry_delay(call.retry, exc, tries) if call.retry is not None else None
            if delay is None:
                raise
        await asyncio.sleep(delay)
        tries += 1


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
        return cast(T, stop.value)


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
        return cast(T, stop.value)


def node_pair(body: Callable[[Any, RunnableConfig, Any], Steps[Any]], settings: Any
              ) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """The sync and async node functions that drive one shared body."""

    def sync(state: Any, config: RunnableConfig) -> Any:
        return run_sync(body(state, config, settings))

    async def asynchronous(state: Any, config: RunnableConfig) -> Any:
        return await run_async(body(state, config, settings))

    return sync, asynchronous


class _Node(Runnable[Any, Any]):
    """A LangGraph node made of a sync and an async function, each called with the node's
    input and config. Unlike `RunnableLambda` it starts no run of its own below the node's
    and reads no signature on every call: per call it costs what a plain-function node
    costs."""

    def __init__(self, sync: Callable[[Any, RunnableConfig], Any],
                 asynchronous: Callable[[Any, RunnableConfig], Awaitable[Any]],
                 name: str) -> None:
        self.sync, self.asynchronous, self.name = sync, asynchronous, name

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return self.sync(input, ensure_config(config))

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None,
                      **kwargs: Any) -> Any:
        return await self.asynchronous(input, ensure_config(config))


def graph_node(sync: Callable[[Any, RunnableConfig], Any],
               asynchronous: Callable[[Any, RunnableConfig], Awaitable[Any]],
               name: str) -> Runnable[Any, Any]:
    """A LangGraph node from a sync and an async function of `(input, config)`."""
    return _Node(sync, asynchronous, name)


def body_node(body: Callable[[Any, RunnableConfig, Any], Steps[Any]], settings: Any,
              name: str | None = None) -> Runnable[Any, Any]:
    """The LangGraph node that drives `body` with `settings`, sync or async."""
    return graph_node(*node_pair(body, settings), name or body.__name__)


def router(func: Callable[[Any], Any], name: str) -> Runnable[Any, Any]:
    """A conditional edge's path from a function of the state, run inline in sync and async
    runs alike (a plain function would run on a thread in async runs, which an event loop
    without threads, as in a Temporal workflow, cannot do)."""

    def sync(state: Any, config: RunnableConfig) -> Any:
        return func(state)

    async def asynchronous(state: Any, config: RunnableConfig) -> Any:
        return func(state)

    return graph_node(sync, asynchronous, name)


Body = Callable[[Any, RunnableConfig, Any], Steps[Any]]
"""A node body: the node's input, its config and the graph's settings, yielding its calls."""
Inline = Callable[[Any, RunnableConfig], Update]
"""A node that makes no call (scheduling, bookkeeping): input and config to an update."""


class Nodes:
    """How a graph's nodes run: each returns the action for `add_node` and extra node
    metadata. This class runs them in the graph's own process, sync or async;
    `tiered_agents.temporal` runs the model-calling ones as Temporal activities."""

    def model_node(self, name: str, body: Body, settings: Any
                   ) -> tuple[Any, dict[str, Any]]:
        """A node that calls models (`body` yields the calls)."""
        return body_node(body, settings, name), {}

    def inline_node(self, name: str, func: Inline) -> tuple[Any, dict[str, Any]]:
        """A node that makes no call and does no I/O: its async form runs it inline."""

        async def asynchronous(state: Any, config: RunnableConfig) -> Update:
            return func(state, config)

        return graph_node(func, asynchronous, name), {}


def model_call(tier: Tier, runnable: Runnable[Any, Any], messages: Any, config: RunnableConfig,
               *, budget: RunBudget | None = None, limiter: Limiter | None = None,
               metadata: Mapping[str, Any] | None = None,
               retry: RetryPolicy | None = None) -> Call:
    """A call of `runnable` (the tier's model, bound or structured) on `messages`: tagged with
    the tier (and `metadata`) for callbacks, priced at the tier's own price, held to its
    concurrency `limiter`, checked and counted by the run's `budget`, retried by `retry`."""
    meta: dict[str, Any] = {**(config.get("metadata") or {}), attr.TIER: tier.name,
                            **(metadata or {})}
    if tier.price is not None:
        meta[attr.PRICE] = tier.price.to_dict()
    if budget is None or budget.budget is None:
        return Call(runnable, messages, {**config, "metadata": meta}, limiter, retry=retry)
    provider, spent = model_provider(tier.model), budget

    def after(result: Any, seconds: float) -> None:
        spent.record(result, seconds, model=tier.model_name, provider=provider,
                     price=tier.price, prompt=messages)

    return Call(runnable, messages, {**config, "metadata": meta}, limiter, spent.guard, after,
                retry)


def resuming(config: RunnableConfig) -> bool:
    """Whether a node runs in the first step of a resumed thread (`invoke(None, config)`).

    LangGraph marks that step with `__pregel_resuming` in `configurable`; no public API says
    it, so `tests/test_resume.py` pins the behaviour this relies on.
    """
    return bool((config.get("configurable") or {}).get("__pregel_resuming"))


def require_chat(state: Mapping[str, Any], graph: str) -> None:
    """Check a chat graph's input before any call: `InvalidInputError` unless `state` holds
    messages with a human one among them."""
    messages = state.get("messages")
    if not messages:
        raise InvalidInputError(
            f'The {graph} takes chat messages: invoke it with {{"messages": [("user", "...")]}}. '
            '(A {"task": ...} input is for create_tiered_graph.)')
    if not any(getattr(m, "type", None) == "human" for m in messages):
        raise InvalidInputError(
            "The messages hold no human message to answer; add the user's request, e.g. "
            '{"messages": [("user", "...")]}.')


def text_of(message: Any) -> str:
    if isinstance(message, BaseMessage):
        return message.text if isinstance(message.text, str) else str(message.content)
    return str(message)


def as_tool(item: BaseTool | Callable[..., Any]) -> BaseTool:
    """A LangChain tool from a tool or a plain function."""
    if isinstance(item, BaseTool):
        return item
    if callable(item):
        return tool(item)
    raise TypeError(f"tools= takes LangChain tools or functions, got {type(item).__name__}.")
