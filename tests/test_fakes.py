"""The fake chat models benchmarks rely on: latency by output length, and no call log."""

from __future__ import annotations

from typing import Any

import pytest

from tiered_agents import testing
from tiered_agents.testing import FakeChatModel


def test_latency_grows_with_the_reply(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(testing.time, "sleep", slept.append)
    model = FakeChatModel(respond=lambda m, t: "x" * 400, delay=2.0,
                          delay_per_output_token=0.02)
    reply = model.invoke("hi")
    tokens = reply.usage_metadata["output_tokens"]  # type: ignore[index]
    assert tokens == 100 and slept == [pytest.approx(2.0 + 0.02 * tokens)]


async def test_a_failed_call_takes_its_delay_too(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(testing.asyncio, "sleep", sleep)
    model = FakeChatModel(respond=lambda m, t: TimeoutError("slow"), delay=0.5,
                          delay_per_output_token=0.1)
    with pytest.raises(TimeoutError):
        await model.ainvoke("hi")
    assert slept == [0.5]


def test_calls_can_go_unrecorded() -> None:
    replies: list[Any] = []
    model = FakeChatModel(respond=lambda m, t: "ok", keep_calls=False)
    replies += [model.invoke("a"), model.invoke("b")]
    assert [r.content for r in replies] == ["ok", "ok"] and model.calls == []
