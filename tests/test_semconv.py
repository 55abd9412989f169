"""The spans against the OpenTelemetry GenAI semantic conventions: an independent checker
(`pytest-genai-semconv`) on every `gen_ai` span of a run with tools, and the attributes the
checker does not cover (message JSON, tool call ids, response ids, servers, metrics)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tiered_agents import CostTracker, Tier, create_tiered_graph
from tiered_agents.testing import FakeToolChatModel, planner_responder
from tiered_agents.tracing.tracker import PROVIDER_NAMES

semconv = pytest.importorskip("pytest_genai_semconv")

PLAN = {"subtasks": [{"id": "s1", "instruction": "Look up the notice period"}]}


def notice_period(contract: str) -> str:
    """The notice period of a contract."""
    return "30 days"


def _worker(messages: list[BaseMessage], tools: Any) -> Any:
    if messages[-1].type == "tool":
        return AIMessage(f"It is {messages[-1].content}.", id="chatcmpl-abc123",
                         response_metadata={"finish_reason": "stop"})
    return AIMessage("", tool_calls=[{"name": "notice_period", "args": {"contract": "A"},
                                      "id": "call_1"}])


def _run(spans: tuple[TracerProvider, InMemorySpanExporter], **tracker: Any
         ) -> tuple[list[Any], InMemoryMetricReader]:
    provider, exporter = spans
    reader = InMemoryMetricReader()
    frontier = Tier("frontier", FakeToolChatModel(respond=planner_responder([PLAN]),
                                                  model_name="claude-opus-4-7",
                                                  provider="anthropic"))
    small = Tier("small", FakeToolChatModel(respond=_worker, model_name="gpt-5-mini",
                                            provider="openai"))
    callback = CostTracker(tracer_provider=provider,
                           meter_provider=MeterProvider(metric_readers=[reader]), **tracker)
    create_tiered_graph(planner=frontier, tiers=[small, frontier], tools=[notice_period],
                        name="semconv").invoke({"task": "When may we leave?"},
                                               {"callbacks": [callback]})
    return list(exporter.get_finished_spans()), reader


def test_every_gen_ai_span_passes_the_independent_checker(spans: Any) -> None:
    finished, _ = _run(spans)
    checked = [s for s in finished if "gen_ai.operation.name" in (s.attributes or {})]
    assert {s.attributes["gen_ai.operation.name"] for s in checked} == {
        "invoke_workflow", "invoke_agent", "chat", "execute_tool"}
    for span in checked:
        semconv.assert_genai_span_compliant(span)
    [tool] = [s for s in checked if s.attributes["gen_ai.operation.name"] == "execute_tool"]
    semconv.assert_execute_tool_span(tool, tool_name="notice_period")
    assert tool.attributes["gen_ai.tool.call.id"] == "call_1"
    assert tool.attributes["gen_ai.tool.type"] == "function"
    [worker] = [s for s in checked if s.name.startswith("invoke_agent worker")]
    semconv.assert_invoke_agent_span(worker, agent_name="worker s1 (small)")
    answer = [s for s in checked if s.attributes.get("gen_ai.response.id")]
    assert [s.attributes["gen_ai.response.id"] for s in answer] == ["chatcmpl-abc123"]


def test_captured_messages_follow_the_genai_message_schema(spans: Any) -> None:
    finished, _ = _run(spans, capture_content=True)
    chats = [s for s in finished if s.name == "chat gpt-5-mini"]
    second = json.loads(chats[-1].attributes["gen_ai.input.messages"])
    assert [m["role"] for m in second] == ["system", "user", "assistant", "tool"]
    assert second[2]["parts"] == [{"type": "tool_call", "id": "call_1", "name": "notice_period",
                                   "arguments": {"contract": "A"}}]
    assert second[3]["parts"][0]["type"] == "tool_call_response"
    assert second[3]["parts"][0]["id"] == "call_1"
    [output] = json.loads(chats[-1].attributes["gen_ai.output.messages"])
    assert output["role"] == "assistant" and output["finish_reason"] == "stop"
    assert output["parts"] == [{"type": "text", "content": "It is 30 days."}]


def test_metrics_name_the_requested_model_and_cost_in_ucum(spans: Any) -> None:
    _, reader = _run(spans)
    data = reader.get_metrics_data()
    metrics = {m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics
               for m in sm.metrics}
    assert metrics["tiered_agents.client.cost"].unit == "{USD}"
    models = {p.attributes["gen_ai.request.model"]
              for p in metrics["gen_ai.client.token.usage"].data.data_points}
    assert models == {"gpt-5-mini", "claude-opus-4-7"}


@pytest.mark.parametrize(("langchain", "spec"), [
    ("azure", "azure.ai.openai"), ("azure_openai", "azure.ai.openai"),
    ("google_genai", "gcp.gemini"), ("google_vertexai", "gcp.vertex_ai"),
    ("bedrock_converse", "aws.bedrock"), ("mistralai", "mistral_ai"), ("xai", "x_ai"),
])
def test_langchain_provider_ids_map_to_the_spec(langchain: str, spec: str) -> None:
    assert PROVIDER_NAMES[langchain] == spec
    assert spec in semconv.spec.PROVIDER_NAMES


def test_server_address_and_port_come_from_the_clients_base_url(spans: Any) -> None:
    langchain_openai = pytest.importorskip("langchain_openai")
    provider, exporter = spans
    model = langchain_openai.ChatOpenAI(model="gpt-5-mini", api_key="sk-test",
                                        base_url="http://127.0.0.1:8080/v1")
    tracker = CostTracker(tracer_provider=provider)
    run_id = __import__("uuid").uuid4()
    tracker.on_chat_model_start(model.to_json(), [[]], run_id=run_id,  # type: ignore[arg-type]
                                metadata={"ls_model_name": "gpt-5-mini", "ls_provider": "openai"})
    tracker.on_llm_error(RuntimeError("stopped"), run_id=run_id)
    [span] = exporter.get_finished_spans()
    assert (span.attributes["server.address"], span.attributes["server.port"]) == (
        "127.0.0.1", 8080)


def test_each_model_keeps_its_own_server_across_calls(spans: Any) -> None:
    """The tracker reads a model's server once (LangChain passes every call of a model the
    same serialized dict), and never mixes two models' servers up."""
    langchain_openai = pytest.importorskip("langchain_openai")
    provider, exporter = spans
    local = langchain_openai.ChatOpenAI(model="m", api_key="sk-test",
                                        base_url="http://127.0.0.1:8080/v1")
    remote = langchain_openai.ChatOpenAI(model="m", api_key="sk-test",
                                         base_url="https://api.example.com/v1")
    tracker = CostTracker(tracer_provider=provider)
    for model in (local, remote, local, remote):
        run_id = __import__("uuid").uuid4()
        tracker.on_chat_model_start(model._serialized, [[]], run_id=run_id,
                                    metadata={"ls_model_name": "m", "ls_provider": "openai"})
        tracker.on_llm_error(RuntimeError("stopped"), run_id=run_id)
    servers = [(s.attributes["server.address"], s.attributes["server.port"])
               for s in sorted(exporter.get_finished_spans(), key=lambda s: s.start_time or 0)]
    assert servers == [("127.0.0.1", 8080), ("api.example.com", 443)] * 2


def test_failed_tool_and_agent_spans_carry_error_type(spans: Any) -> None:
    provider, exporter = spans

    def broken(contract: str) -> str:
        """Always fails."""
        raise LookupError("no such contract")

    def worker(messages: list[BaseMessage], tools: Any) -> Any:
        if messages[-1].type == "tool":
            return "Could not look it up."
        return AIMessage("", tool_calls=[{"name": "broken", "args": {"contract": "A"},
                                          "id": "call_9"}])

    frontier = Tier("frontier", FakeToolChatModel(respond=planner_responder([PLAN]),
                                                  model_name="claude-opus-4-7",
                                                  provider="anthropic"))
    small = Tier("small", FakeToolChatModel(respond=worker, model_name="gpt-5-mini",
                                            provider="openai"))
    create_tiered_graph(planner=frontier, tiers=[small, frontier], tools=[broken]).invoke(
        {"task": "t"}, {"callbacks": [CostTracker(tracer_provider=provider)]})
    [tool] = [s for s in exporter.get_finished_spans() if s.name == "execute_tool broken"]
    assert tool.attributes["error.type"] == "builtins.LookupError"
    assert tool.attributes["gen_ai.tool.call.id"] == "call_9"

    exporter.clear()
    failing = Tier("frontier", FakeToolChatModel(respond=lambda m, t: "no plan at all",
                                                 model_name="claude-opus-4-7",
                                                 provider="anthropic"))
    with pytest.raises(Exception, match="no valid plan"):
        create_tiered_graph(planner=failing, tiers=[small, failing]).invoke(
            {"task": "t"}, {"callbacks": [CostTracker(tracer_provider=provider)]})
    [planner] = [s for s in exporter.get_finished_spans() if s.name == "invoke_agent planner"]
    assert planner.attributes["error.type"] == "tiered_agents.errors.PlanError"
