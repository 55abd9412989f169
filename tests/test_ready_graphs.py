"""The ready graph for LangGraph Server, the example scripts, and the CLI demo."""

from __future__ import annotations

import importlib.util
import json
import runpy
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage

from tiered_agents import cli
from tiered_agents.testing import (
    THREE_STEP_PLAN,
    FakeChatModel,
    FakeToolChatModel,
    echo_worker,
    last_text,
    planner_responder,
)

ROOT = Path(__file__).resolve().parent.parent


def fake_init_chat_model(models: dict[str, Any]) -> Any:
    def init_chat_model(spec: str, **kwargs: Any) -> Any:
        return models[spec]

    return init_chat_model


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_langgraph_json_points_at_the_ready_graph() -> None:
    config = json.loads((ROOT / "langgraph.json").read_text())
    assert config["graphs"]["plan_execute"] == "./graphs/plan_execute.py:graph"


def test_plan_execute_graph_builds_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import langchain.chat_models

    models = {"fake:big": FakeChatModel(respond=planner_responder([THREE_STEP_PLAN])),
              "fake:small": FakeChatModel(respond=echo_worker)}
    monkeypatch.setattr(langchain.chat_models, "init_chat_model", fake_init_chat_model(models))
    monkeypatch.setenv("TIERED_PLANNER_MODEL", "fake:big")
    monkeypatch.setenv("TIERED_WORKER_MODEL", "fake:small")
    module = load(ROOT / "graphs" / "plan_execute.py")
    out = module.graph.invoke({"task": "t"})
    assert out["answer"] == "FINAL ANSWER"
    assert {r["tier"] for r in out["results"].values()} == {"small"}
    assert len(models["fake:small"].calls) == 3


def test_plan_execute_graph_loads_without_api_keys_and_says_what_to_set(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TIERED_PLANNER_MODEL", "openai:gpt-5")  # langchain-openai needs a key
    monkeypatch.setenv("TIERED_WORKER_MODEL", "openai:gpt-5-mini")
    module = load(ROOT / "graphs" / "plan_execute.py")  # loads: the server can start
    with pytest.raises(RuntimeError, match=r"Set TIERED_PLANNER_MODEL to a 'provider:model'"):
        module.graph.invoke({"task": "t"})


def test_research_brief_example_runs_with_tools(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    import langchain.chat_models

    plan = {"subtasks": [{"id": "s1", "instruction": "Gather notes on battery limits"}]}

    def worker(messages: list[BaseMessage], tools: Any) -> Any:
        if messages[-1].type == "tool":
            return f"Brief: {messages[-1].content}"
        return AIMessage("", tool_calls=[{"name": "lookup_notes", "args": {"topic": "battery"},
                                          "id": "c1"}])

    def planner(messages: list[BaseMessage], tools: Any) -> Any:
        if "Subtask results:" in last_text(messages):
            return "BRIEF DONE"
        return json.dumps(plan)

    models = {"anthropic:claude-opus-4-7": FakeToolChatModel(respond=planner,
                                                             model_name="claude-opus-4-7"),
              "openai:gpt-5-mini": FakeToolChatModel(respond=worker, model_name="gpt-5-mini")}
    monkeypatch.setattr(langchain.chat_models, "init_chat_model", fake_init_chat_model(models))
    monkeypatch.delenv("TIERED_PLANNER_MODEL", raising=False)
    monkeypatch.delenv("TIERED_WORKER_MODEL", raising=False)
    monkeypatch.setattr(sys, "argv", ["research_brief.py"])
    runpy.run_path(str(ROOT / "examples" / "research_brief.py"), run_name="__main__")
    printed = capsys.readouterr().out
    assert "BRIEF DONE" in printed and "worker" in printed
    assert "Pack energy density" in last_text(models["openai:gpt-5-mini"].calls[-1])


def test_contract_review_example_runs(monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    import langchain.chat_models

    models = {"anthropic:claude-opus-4-7": FakeChatModel(
                  respond=planner_responder([THREE_STEP_PLAN], answer="B is best"),
                  model_name="claude-opus-4-7", provider="anthropic"),
              "openai:gpt-5-mini": FakeChatModel(respond=echo_worker, model_name="gpt-5-mini",
                                                 provider="openai")}
    monkeypatch.setattr(langchain.chat_models, "init_chat_model", fake_init_chat_model(models))
    monkeypatch.delenv("OTLP_ENDPOINT", raising=False)
    runpy.run_path(str(ROOT / "examples" / "contract_review.py"), run_name="__main__")
    printed = capsys.readouterr().out
    assert "B is best" in printed and "s3: tier=small attempts=1" in printed
    assert "saving" in printed


def test_cli_demo_says_it_runs_on_fakes_and_writes_the_trace(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace_file = tmp_path / "trace.jsonl"
    assert cli.main(["demo", "--fake", "--trace-file", str(trace_file)]) == 0
    printed = capsys.readouterr().out
    assert "FAKE models" in printed
    assert "Field accuracy against the known answers: 42/42" in printed
    assert "worker extract/MSA-1001 on small: rejected" in printed  # the escalation is visible
    assert "worker extract/MSA-1001 on frontier: accepted" in printed
    assert "saving" in printed
    spans = [json.loads(line) for line in trace_file.read_text().splitlines()]
    assert any(s["name"] == "invoke_workflow contract_review" for s in spans)
    assert sum(s["name"] == "chat gpt-5-mini" for s in spans) == 6  # one per contract


@pytest.mark.parametrize("script", ["contract_review.py", "research_brief.py"])
def test_examples_without_api_keys_say_what_to_set_in_one_line(script: str) -> None:
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env |= {"TIERED_PLANNER_MODEL": "openai:gpt-5", "TIERED_WORKER_MODEL": "openai:gpt-5-mini"}
    done = subprocess.run([sys.executable, str(ROOT / "examples" / script)], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Set TIERED_PLANNER_MODEL to a 'provider:model' string" in done.stderr
