"""Every Python block in the README runs as written, in order, in one namespace, so the docs
cannot rot. The one substitution (this fixture): provider chat models (`ChatOpenAI`,
`ChatAnthropic`) are the test suite's fakes, and `configure_tracing` exports nowhere. The block
that starts the local models runs only where the `[local]` extra is installed (the `local` test
below); the Temporal block runs against a Temporal server in `tests/test_temporal.py`."""

from __future__ import annotations

import importlib.util
import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest

import tiered_agents
from tiered_agents.testing import FakeToolChatModel, echo_worker, planner_responder

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```$", README.read_text(), re.DOTALL | re.MULTILINE)
LOCAL = "from tiered_agents.local import"
TEMPORAL = "from tiered_agents.temporal import"
PLAN = {"subtasks": [{"id": "s1", "instruction": "Summarise contract A"},
                     {"id": "s2", "instruction": "Summarise contract B"}]}


def _fake_provider_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    def chat_openai(model: str = "gpt-5-mini", **kwargs: Any) -> FakeToolChatModel:
        return FakeToolChatModel(respond=echo_worker, model_name=model, provider="openai")

    def chat_anthropic(model: str = "claude-opus-4-7", **kwargs: Any) -> FakeToolChatModel:
        return FakeToolChatModel(respond=planner_responder([PLAN]), model_name=model,
                                 provider="anthropic")

    for name, attribute, factory in (("langchain_openai", "ChatOpenAI", chat_openai),
                                     ("langchain_anthropic", "ChatAnthropic", chat_anthropic)):
        module = types.ModuleType(name)
        setattr(module, attribute, factory)
        monkeypatch.setitem(sys.modules, name, module)
    real = tiered_agents.configure_tracing
    monkeypatch.setattr(tiered_agents, "configure_tracing",
                        lambda *a, **k: real(**{**k, "otlp_endpoint": None}))


def test_the_readme_has_python_blocks() -> None:
    assert len(BLOCKS) >= 6
    assert sum(LOCAL in b for b in BLOCKS) == 1
    assert sum(TEMPORAL in b for b in BLOCKS) == 1


def test_every_python_block_runs(monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    _fake_provider_modules(monkeypatch)
    namespace: dict[str, Any] = {"__name__": "readme"}
    for number, block in enumerate(BLOCKS, 1):
        if LOCAL in block or TEMPORAL in block:  # need their servers: tested with them
            continue
        try:
            exec(compile(block, f"README.md python block {number}", "exec"), namespace)
        except Exception as exc:
            pytest.fail(f"README python block {number} fails: {type(exc).__name__}: {exc}\n"
                        f"{block}")
    assert namespace["out"]  # the blocks' own results exist
    assert "Cost by node and tier" in capsys.readouterr().out


@pytest.mark.local
@pytest.mark.integration
@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_the_local_models_block_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("needs pip install -e '.[local]'")
    [block] = [b for b in BLOCKS if LOCAL in b]
    namespace: dict[str, Any] = {"create_tiered_graph": tiered_agents.create_tiered_graph}
    exec(compile(block, "README.md local models block", "exec"), namespace)
    assert namespace["graph"] is not None
