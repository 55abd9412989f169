"""Fake chat models for tests and offline demos: real `BaseChatModel`s that report usage.

They never open a socket. Answers come from a list (in order) or from a function of the
messages, so parallel calls can be scripted by what they ask.

Example:
    ```python
    model = FakeChatModel(respond=lambda messages, tools: "42", model_name="gpt-5-mini",
                          provider="openai", delay=0.05)
    ```
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, PrivateAttr

__all__ = ["THREE_STEP_PLAN", "FakeChatModel", "FakeToolChatModel", "Reply", "TransientFaults",
           "count_tokens", "echo_worker", "instruction_of", "last_text", "planner_responder"]

Reply = str | AIMessage | BaseException
"""What a fake answers: text, a full message (tool calls, usage), or an exception to raise."""


def count_tokens(text: str) -> int:
    """A stable stand-in for a tokenizer: about four characters a token."""
    return max(1, len(text) // 4)


def _text(message: BaseMessage) -> str:
    return message.content if isinstance(message.content, str) else str(message.content)


class FakeChatModel(BaseChatModel):
    """A scripted chat model that emits `usage_metadata` like a real provider.

    It does not implement `bind_tools`, so `with_structured_output` raises
    `NotImplementedError` as it does for many real models; see `FakeToolChatModel`.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    responses: list[Reply] = Field(default_factory=list)
    """Answers given in order; the model raises when they run out."""
    respond: Callable[[list[BaseMessage], list[dict[str, Any]] | None], Reply] | None = None
    """Answers computed from the messages and the bound tools (used instead of `responses`)."""
    model_name: str = "fake-chat"
    """Reported as `response_metadata["model_name"]` (prices are looked up by it)."""
    provider: str = "fake"
    """Reported as `ls_provider`."""
    delay: float = 0.0
    """Seconds each call takes (`time.sleep` or `asyncio.sleep`)."""
    delay_per_output_token: float = 0.0
    """Seconds each output token adds to the call, as a provider's decoding speed does
    (`delay=2.0, delay_per_output_token=0.02`: 2 s to first token, 50 tokens a second)."""
    cache_read_tokens: int = 0
    """Input tokens to report as read from a prompt cache on every call."""
    reasoning_tokens: int = 0
    """Output tokens to report as reasoning on every call."""
    report_usage: bool = True
    """Whether replies carry `usage_metadata` (streamed OpenAI-compatible calls often do not)."""
    keep_calls: bool = True
    """Whether `calls` keeps every call's messages (turn it off for long benchmarks)."""

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _index: int = PrivateAttr(default=0)
    _calls: list[list[BaseMessage]] = PrivateAttr(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "tiered-agents-fake"

    @property
    def calls(self) -> list[list[BaseMessage]]:
        """The messages of every call so far."""
        with self._lock:
            return list(self._calls)

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> Any:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = self.provider
        params["ls_model_name"] = self.model_name
        return params

    def _reply(self, messages: list[BaseMessage], tools: list[dict[str, Any]] | None) -> AIMessage:
        with self._lock:
            if self.keep_calls:
                self._calls.append(list(messages))
            if self.respond is None:
                if self._index >= len(self.responses):
                    raise IndexError(
                        f"FakeChatModel {self.model_name!r} ran out of scripted responses "
                        f"after {self._index} calls; add more `responses`."
                    )
                reply = self.responses[self._index]
                self._index += 1
        if self.respond is not None:
            reply = self.respond(list(messages), tools)
        if isinstance(reply, BaseException):
            raise reply
        message = AIMessage(content=reply) if isinstance(reply, str) else reply.model_copy()
        if message.usage_metadata is None and self.report_usage:
            prompt = sum(count_tokens(_text(m)) for m in messages)
            completion = count_tokens(_text(message)) + 8 * len(message.tool_calls)
            usage: dict[str, Any] = {
                "input_tokens": prompt,
                "output_tokens": completion + self.reasoning_tokens,
                "total_tokens": prompt + completion + self.reasoning_tokens,
            }
            if self.cache_read_tokens:
                usage["input_token_details"] = {"cache_read": min(self.cache_read_tokens, prompt)}
            if self.reasoning_tokens:
                usage["output_token_details"] = {"reasoning": self.reasoning_tokens}
            message.usage_metadata = usage  # type: ignore[assignment]
        message.response_metadata = {"model_name": self.model_name, **message.response_metadata}
        return message

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        try:
            message = self._reply(messages, kwargs.get("tools"))
        except Exception:
            time.sleep(self.delay)  # a failed call takes its time too
            raise
        seconds = self._seconds(message)
        if seconds:
            time.sleep(seconds)
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        try:
            message = self._reply(messages, kwargs.get("tools"))
        except Exception:
            await asyncio.sleep(self.delay)
            raise
        seconds = self._seconds(message)
        if seconds:
            await asyncio.sleep(seconds)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _seconds(self, message: AIMessage) -> float:
        if not self.delay_per_output_token:
            return self.delay
        usage = message.usage_metadata
        tokens = usage["output_tokens"] if usage else count_tokens(_text(message))
        return self.delay + self.delay_per_output_token * tokens


class FakeToolChatModel(FakeChatModel):
    """A `FakeChatModel` that supports `bind_tools` (and so `with_structured_output`)."""

    def bind_tools(
        self,
        tools: Sequence[Any],
        *,
        tool_choice: Any = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)


# --- injected faults ---------------------------------------------------------------------------


class TransientFaults:
    """Wraps a `respond` function so that a share `rate` of calls (seeded) raise a transient
    provider error: HTTP 429, 503 or 529 (as `httpx.HTTPStatusError`, with `Retry-After:
    retry_after` when given) or, with `timeouts`, a bare `TimeoutError` (retried with backoff).

    Example:
        ```python
        faults = TransientFaults(echo_worker, rate=0.2, seed=1)
        model = FakeChatModel(respond=faults)
        ...
        faults.injected  # how many calls failed
        ```
    """

    def __init__(self, respond: Callable[[list[BaseMessage], Any], Reply], *, rate: float = 0.2,
                 seed: int = 0, retry_after: str | None = "0", timeouts: bool = True) -> None:
        self.respond, self.rate, self.retry_after, self.timeouts = respond, rate, retry_after, \
            timeouts
        self.injected = 0
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def __call__(self, messages: list[BaseMessage], tools: Any) -> Reply:
        with self._lock:
            fault = self._random.random() < self.rate
            kind = self._random.randrange(4 if self.timeouts else 3)
            self.injected += fault
        if not fault:
            return self.respond(messages, tools)
        if kind == 3:
            return TimeoutError("the provider did not answer in time")
        status = (429, 503, 529)[kind]
        request = httpx.Request("POST", "https://api.example.com/v1/chat/completions")
        headers = {"retry-after": self.retry_after} if self.retry_after is not None else {}
        return httpx.HTTPStatusError(f"HTTP {status}", request=request,
                                     response=httpx.Response(status, headers=headers,
                                                             request=request))


# --- scripted team members ----------------------------------------------------------------------

THREE_STEP_PLAN: dict[str, Any] = {
    "subtasks": [
        {"id": "s1", "instruction": "Summarise contract A"},
        {"id": "s2", "instruction": "Summarise contract B"},
        {"id": "s3", "instruction": "Compare the summaries", "depends_on": ["s1", "s2"]},
    ]
}
"""A plan with two independent subtasks and one that depends on both."""


def last_text(messages: Sequence[BaseMessage]) -> str:
    """The text of the last message."""
    return _text(messages[-1])


def instruction_of(messages: Sequence[BaseMessage]) -> str:
    """The subtask instruction in a worker prompt ("" for other prompts)."""
    match = re.search(r"Your subtask:\n(.*)", last_text(messages))
    return match.group(1) if match else ""


def planner_responder(plans: Sequence[Any], answer: str = "FINAL ANSWER"
                      ) -> Callable[[list[BaseMessage], Any], Reply]:
    """A `respond` function for a planner tier: answers planning prompts with `plans` in turn
    (the last one repeats), wrapped in prose and a code fence, and synthesis prompts with
    `answer`."""
    remaining = list(plans)

    def respond(messages: list[BaseMessage], tools: Any) -> Reply:
        if "Subtask results:" in last_text(messages):
            return answer
        plan = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        body = plan if isinstance(plan, str) else json.dumps(plan)
        return f"Here is the plan:\n```json\n{body}\n```\nGood luck."

    return respond


def echo_worker(messages: list[BaseMessage], tools: Any) -> Reply:
    """A `respond` function for a worker tier: "done: <its subtask instruction>"."""
    return f"done: {instruction_of(messages)}"
