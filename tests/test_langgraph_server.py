"""Integration: `langgraph dev` (LangGraph Server, in memory) on 127.0.0.1 serves tiered graphs
on fake models, with `LANGGRAPH_STRICT_MSGPACK=true`; `langgraph-sdk` creates threads, runs them
(`runs.wait`, `runs.stream`) and resumes a budget interrupt with a `Command`. The shipped
`graphs/plan_execute.py` is served too, without any API key.

`langgraph-cli[inmem]` and `langgraph-sdk` are test dependencies (the `[dev]` extra); the test
is skipped when they are missing, except in CI.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._servers import free_port, running

pytestmark = [pytest.mark.integration, pytest.mark.enable_socket,
              pytest.mark.allow_hosts(["127.0.0.1"])]

ROOT = Path(__file__).resolve().parent.parent
GRAPHS = '''
from tiered_agents import Budget, Tier, create_tiered_graph
from tiered_agents.testing import THREE_STEP_PLAN, FakeChatModel, echo_worker, planner_responder

frontier = Tier("frontier", FakeChatModel(respond=planner_responder([THREE_STEP_PLAN]),
                                          model_name="claude-opus-4-7", provider="anthropic"))
small = Tier("small", FakeChatModel(respond=echo_worker, model_name="gpt-5-mini",
                                    provider="openai"))
graph = create_tiered_graph(planner=frontier, tiers=[small, frontier], name="tiered")
# The server brings its own checkpointer: checkpointer=True says "use the one I run under".
budgeted = create_tiered_graph(planner=frontier, tiers=[small, frontier], name="budgeted",
                               budget=Budget(max_usd=0.000001, on_exceed="interrupt"),
                               checkpointer=True)
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cli = shutil.which("langgraph", path=str(Path(sys.executable).parent)) or \
        shutil.which("langgraph")
    if cli is None or importlib_missing("langgraph_sdk", "langgraph_runtime_inmem"):
        if os.environ.get("CI"):
            pytest.fail("CI installs langgraph-cli[inmem] and langgraph-sdk (the [dev] extra)")
        pytest.skip("needs pip install 'langgraph-cli[inmem]' langgraph-sdk")
    workdir: Path = tmp_path_factory.mktemp("langgraph")
    (workdir / "fake_graphs.py").write_text(GRAPHS)
    (workdir / "langgraph.json").write_text(json.dumps({"dependencies": ["."], "graphs": {
        "tiered": "./fake_graphs.py:graph", "budgeted": "./fake_graphs.py:budgeted",
        "plan_execute": f"{ROOT / 'graphs' / 'plan_execute.py'}:graph"}}))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env |= {"LANGGRAPH_CLI_NO_ANALYTICS": "1", "LANGGRAPH_NO_VERSION_CHECK": "true",
            "LANGSMITH_TRACING": "false", "LANGGRAPH_STRICT_MSGPACK": "true",
            "TIERED_PLANNER_MODEL": "openai:gpt-5", "TIERED_WORKER_MODEL": "openai:gpt-5-mini"}
    url = f"http://127.0.0.1:{port}"
    with running([cli, "dev", "--host", "127.0.0.1", "--port", str(port), "--no-browser",
                  "--no-reload"], health=f"{url}/ok", log=workdir / "server.log",
                 name="langgraph dev", env=env, cwd=workdir, timeout=90):
        yield url


def importlib_missing(*modules: str) -> bool:
    import importlib.util

    return any(importlib.util.find_spec(m) is None for m in modules)


def _run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_runs_wait_and_stream(server: str) -> None:
    from langgraph_sdk import get_client

    async def scenario() -> tuple[dict[str, Any], list[str], dict[str, Any]]:
        client = get_client(url=server)
        thread = await client.threads.create()
        out = await client.runs.wait(thread["thread_id"], "tiered",
                                     input={"task": "Compare contracts A and B"})
        other = await client.threads.create()
        events = [chunk.event async for chunk in client.runs.stream(
            other["thread_id"], "tiered", input={"messages": [("user", "Compare A and B")]},
            stream_mode="updates")]
        state = await client.threads.get_state(other["thread_id"])
        return out, events, state["values"]

    out, events, streamed = _run(scenario())
    assert out["answer"] == "FINAL ANSWER"
    assert [s["id"] for s in out["plan"]["subtasks"]] == ["s1", "s2", "s3"]
    assert {r["tier"] for r in out["results"].values()} == {"small"}
    assert events.count("updates") >= 5  # planner, three workers, synthesizer
    assert streamed["messages"][-1]["content"] == "FINAL ANSWER"  # the chat answer was added


def test_budget_interrupt_resumes_with_a_command(server: str) -> None:
    from langgraph_sdk import get_client

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        client = get_client(url=server)
        thread = await client.threads.create()
        paused = await client.runs.wait(thread["thread_id"], "budgeted",
                                        input={"task": "Compare contracts A and B"})
        done = await client.runs.wait(thread["thread_id"], "budgeted",
                                      command={"resume": {"max_usd": 10}})
        return paused, done

    paused, done = _run(scenario())
    [interrupt] = paused["__interrupt__"]
    assert interrupt["value"]["reason"] == "budget" and interrupt["value"]["exceeded"] is True
    assert paused.get("answer") is None
    assert done["answer"] == "FINAL ANSWER"
    assert done["budget"]["limit_usd"] == 10 and done["budget"]["exceeded"] is False
    assert set(done["results"]) == {"s1", "s2", "s3"}


def test_the_shipped_graph_loads_without_keys_and_names_what_to_set(server: str) -> None:
    from langgraph_sdk import get_client

    async def scenario() -> dict[str, Any]:
        client = get_client(url=server)
        thread = await client.threads.create()
        run = await client.runs.create(thread["thread_id"], "plan_execute",
                                       input={"task": "t"})
        joined = await client.runs.join(thread["thread_id"], run["run_id"])
        status = await client.runs.get(thread["thread_id"], run["run_id"])
        return {"joined": joined, "status": status["status"]}

    run = _run(scenario())
    assert run["status"] == "error"
    error = run["joined"]["__error__"]
    assert error["error"] == "RuntimeError"
    assert "Set TIERED_PLANNER_MODEL to a 'provider:model' string" in error["message"]
