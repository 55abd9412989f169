"""No prompt, output or secret text reaches a span unless the user opts in to content capture."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tiered_agents import CostTracker, Tier, create_cascade, create_tiered_graph
from tiered_agents.testing import FakeChatModel, last_text, planner_responder

TASK = "CANARY-TASK-7f3a"
OUTPUT = "CANARY-OUTPUT-91bc"
KEY = "sk-CANARY-KEY-55d0"
CANARIES = (TASK, OUTPUT, KEY)


def _span_text(exporter: InMemorySpanExporter) -> str:
    parts: list[str] = []
    for span in exporter.get_finished_spans():
        parts += [span.name, str(span.status.description or "")]
        parts += [f"{k}={v}" for k, v in (span.attributes or {}).items()]
        for event in span.events:
            parts += [event.name, *(f"{k}={v}" for k, v in (event.attributes or {}).items())]
    return "\n".join(parts)


def _planner_says_prose(m: Any, t: Any) -> str:
    return f"I refuse to plan, but here is {OUTPUT}"


def _schema_breaker(m: Any, t: Any) -> str:
    plan = {"subtasks": [{"id": "s1", "instruction": "count",
                          "expected_output": {"type": "object", "properties": {
                              "secret": {"type": "integer"}}}}]}
    if "You are the planner" in str(m[0].content):
        return planner_responder([plan])(m, t)  # type: ignore[return-value]
    return f'{{"secret": "{OUTPUT}"}}'


def _leaky_key(m: Any, t: Any) -> Any:
    request = httpx.Request("POST", "https://api.example.com/v1/chat/completions")
    return openai.AuthenticationError(f"Incorrect API key provided: {KEY}", body=None,
                                      response=httpx.Response(401, request=request))


def _runs() -> list[tuple[str, Any]]:
    """(name, a function running one failing or succeeding scenario with `callbacks`)."""

    def tiered(respond: Any) -> Any:
        big = Tier("frontier", FakeChatModel(respond=respond, model_name="claude-opus-4-7"))
        return create_tiered_graph(planner=big, tiers=[big])

    def ok(m: Any, t: Any) -> str:
        if "Subtask results" in last_text(m):
            return f"final {OUTPUT}"
        if "You are the planner" in str(m[0].content):
            return planner_responder([{"subtasks": [{"id": "s1", "instruction": "go"}]}])(
                m, t)  # type: ignore[return-value]
        return f"worker says {OUTPUT}"

    cascade = create_cascade([Tier("only", FakeChatModel(respond=_leaky_key))])
    return [("plan-error", lambda cb: tiered(_planner_says_prose).invoke(
                {"task": TASK}, config={"callbacks": cb})),
            ("subtask-failed", lambda cb: tiered(_schema_breaker).invoke(
                {"task": TASK}, config={"callbacks": cb})),
            ("api-key-in-provider-error", lambda cb: tiered(_leaky_key).invoke(
                {"task": TASK}, config={"callbacks": cb})),
            ("cascade-failed", lambda cb: cascade.invoke(
                {"messages": [("user", TASK)]}, config={"callbacks": cb})),
            ("success", lambda cb: tiered(ok).invoke({"task": TASK}, config={"callbacks": cb}))]


@pytest.mark.parametrize(("name", "run"), _runs(), ids=[n for n, _ in _runs()])
def test_no_content_in_spans_by_default(name: str, run: Any) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    error: BaseException | None = None
    try:
        run([CostTracker(tracer_provider=provider)])
    except Exception as exc:
        error = exc
    text = _span_text(exporter)
    assert exporter.get_finished_spans()
    assert not [c for c in CANARIES if c in text], text
    if name != "success":
        assert error is not None  # the exception keeps the detail for the caller
        assert any(c in str(error) for c in CANARIES)
        assert "error.type=" in text


@pytest.mark.parametrize(("name", "run"), _runs(), ids=[n for n, _ in _runs()])
def test_content_is_recorded_when_the_user_opts_in(name: str, run: Any) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        run([CostTracker(tracer_provider=provider, capture_content=True)])
    except Exception:
        pass
    text = _span_text(exporter)
    assert TASK in text  # the prompts are captured: the check above can see a leak
    if name in ("api-key-in-provider-error", "cascade-failed"):
        assert KEY in text
