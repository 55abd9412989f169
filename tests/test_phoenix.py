"""Integration: a real Arize Phoenix server on 127.0.0.1 receives the spans over OTLP/HTTP, and
the per-node tokens and cost read back through its API match the report.

Phoenix is a test-only tool (Elastic-2.0), never a dependency of the library. `.ci/run`
installs it in its own virtual environment and points `TIERED_AGENTS_PHOENIX` at its `phoenix`
executable; locally the test is skipped when Phoenix is not installed.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests._servers import free_port, running
from tiered_agents import CostTracker, Tier, configure_tracing, create_tiered_graph
from tiered_agents import attributes as attr
from tiered_agents.testing import THREE_STEP_PLAN, FakeChatModel, echo_worker, planner_responder

pytestmark = [pytest.mark.integration, pytest.mark.enable_socket,
              pytest.mark.allow_hosts(["127.0.0.1"])]


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response) if "json" in response.headers.get("content-type", "") \
            else response.read().decode()


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    executable = os.environ.get("TIERED_AGENTS_PHOENIX") or shutil.which("phoenix")
    if not executable:
        if os.environ.get("CI"):
            pytest.fail("CI must install Phoenix and set TIERED_AGENTS_PHOENIX (see .ci/run)")
        pytest.skip("Arize Phoenix is not installed (set TIERED_AGENTS_PHOENIX)")
    workdir: Path = tmp_path_factory.mktemp("phoenix")
    port = free_port()
    env = {**os.environ, "PHOENIX_WORKING_DIR": str(workdir), "PHOENIX_HOST": "127.0.0.1",
           "PHOENIX_PORT": str(port), "PHOENIX_GRPC_PORT": str(free_port()),
           "PHOENIX_TELEMETRY_ENABLED": "false"}
    url = f"http://127.0.0.1:{port}"
    with running([executable, "serve"], health=f"{url}/healthz", log=workdir / "phoenix.log",
                 name="Phoenix", env=env):
        yield url


def test_spans_arrive_in_phoenix_with_per_node_cost(phoenix: str) -> None:
    project = "tiered-agents-test"
    provider = configure_tracing(otlp_endpoint=phoenix, project_name=project)
    small = Tier("small", FakeChatModel(respond=echo_worker, model_name="gpt-5-mini",
                                        provider="openai"))
    big = Tier("frontier", FakeChatModel(respond=planner_responder([THREE_STEP_PLAN]),
                                         model_name="claude-opus-4-7", provider="anthropic"))
    tracker = CostTracker(tracer_provider=provider)
    create_tiered_graph(planner=big, tiers=[small, big], name="phoenix_check").invoke(
        {"task": "Compare two contracts"}, config={"callbacks": [tracker]})
    provider.shutdown()  # flushes the batch exporter
    report = tracker.report()

    spans: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            spans = _get(f"{phoenix}/v1/projects/{project}/spans?limit=1000")["data"]
        except OSError:
            spans = []
        if len(spans) >= 13:  # workflow, planner, 3 workers, synthesizer, 3 dispatch, 5 chats
            break
        time.sleep(1)
    names = sorted(s["name"] for s in spans)
    assert names.count("invoke_workflow phoenix_check") == 1
    assert [n for n in names if n.startswith("invoke_agent worker")] == [
        "invoke_agent worker s1 (small)", "invoke_agent worker s2 (small)",
        "invoke_agent worker s3 (small)"]  # each worker row names its subtask and tier
    kinds = {s["name"]: s["span_kind"] for s in spans}  # Phoenix read our span kinds
    assert kinds["invoke_workflow phoenix_check"] == "CHAIN"
    assert kinds["invoke_agent planner"] == "AGENT" and kinds["chat gpt-5-mini"] == "LLM"
    assert names.count("chat gpt-5-mini") == 3 and names.count("chat claude-opus-4-7") == 2

    tokens: dict[str, int] = defaultdict(int)
    cost: dict[str, Decimal] = defaultdict(Decimal)
    for span in spans:
        attributes = span["attributes"]
        if attributes.get("gen_ai.operation.name") == "chat":
            node = attributes[attr.NODE]
            tokens[node] += attributes["gen_ai.usage.input_tokens"] + \
                attributes["gen_ai.usage.output_tokens"]
            cost[node] += Decimal(str(attributes["gen_ai.usage.cost.amount"]))
    assert set(tokens) == set(report.by_node) == {"planner", "worker", "synthesizer"}
    for node, usage in report.by_node.items():
        assert tokens[node] == usage.total_tokens
        assert abs(cost[node] - usage.cost_usd) < Decimal("1e-9")
    [root] = [s for s in spans if s["parent_id"] is None]
    assert root["attributes"][attr.AGG_COST_USD] == pytest.approx(float(report.total_cost_usd))
