"""Integration: a real MLflow tracking server on 127.0.0.1 receives a tiered run's spans over
OTLP/HTTP (`configure_tracing(headers={"x-mlflow-experiment-id": ...})`), and the tokens read
back per span with `mlflow.search_traces` match the tracker's report.

MLflow is a test-only tool, never a dependency of the library. `.ci/run` installs it in its
own virtual environment and points `TIERED_AGENTS_MLFLOW` at its `mlflow` executable (its
Python reads the traces back); locally the test is skipped when MLflow is not installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._servers import free_port, running
from tiered_agents import CostTracker, Tier, configure_tracing, create_tiered_graph
from tiered_agents.testing import THREE_STEP_PLAN, FakeChatModel, echo_worker, planner_responder

pytestmark = [pytest.mark.integration, pytest.mark.enable_socket,
              pytest.mark.allow_hosts(["127.0.0.1"])]

READ_BACK = """
import json, sys, warnings
warnings.simplefilter("ignore")
import mlflow
mlflow.set_tracking_uri(sys.argv[1])
spans = []
for trace in mlflow.search_traces(locations=[sys.argv[2]], return_type="list"):
    for span in trace.data.spans:
        a = span.attributes
        spans.append({"trace": trace.info.trace_id, "name": span.name,
                      "input": a.get("gen_ai.usage.input_tokens"),
                      "output": a.get("gen_ai.usage.output_tokens"),
                      "tier": a.get("tiered_agents.tier"),
                      "aggregated_input": a.get("tiered_agents.aggregated.input_tokens")})
print(json.dumps(spans))
"""


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    executable = os.environ.get("TIERED_AGENTS_MLFLOW") or shutil.which("mlflow")
    if not executable:
        if os.environ.get("CI"):
            pytest.fail("CI must install MLflow and set TIERED_AGENTS_MLFLOW (see .ci/run)")
        pytest.skip("MLflow is not installed (set TIERED_AGENTS_MLFLOW)")
    python = Path(executable).with_name("python")
    workdir: Path = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running([executable, "server", "--host", "127.0.0.1", "--port", str(port),
                  "--backend-store-uri", f"sqlite:///{workdir / 'mlflow.db'}"],
                 health=f"{url}/health", log=workdir / "mlflow.log", name="MLflow",
                 env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"},
                 cwd=workdir):
        yield url, python


def test_mlflow_reads_back_every_span_with_its_tokens(mlflow_server: tuple[str, Path]) -> None:
    url, python = mlflow_server
    frontier = Tier("frontier", FakeChatModel(respond=planner_responder([THREE_STEP_PLAN]),
                                              model_name="claude-opus-4-7", provider="anthropic"))
    small = Tier("small", FakeChatModel(respond=echo_worker, model_name="gpt-5-mini",
                                        provider="openai"))
    # MLflow's first ingest can take several seconds: give the export room.
    provider = configure_tracing(otlp_endpoint=url, headers={"x-mlflow-experiment-id": "0"},
                                 export_timeout=60)
    tracker = CostTracker(tracer_provider=provider)
    create_tiered_graph(planner=frontier, tiers=[small, frontier], name="mlflow_run").invoke(
        {"task": "Compare A and B"}, config={"callbacks": [tracker]})
    provider.shutdown()
    report = tracker.report()

    spans: list[dict[str, object]] = []
    deadline = time.monotonic() + 60
    while not spans and time.monotonic() < deadline:
        done = subprocess.run([str(python), "-c", READ_BACK, url, "0"], capture_output=True,
                              text=True, timeout=120, check=True)
        spans = json.loads(done.stdout.strip().splitlines()[-1])
        if not spans:
            time.sleep(1)
    names = Counter(str(s["name"]) for s in spans)
    assert names["invoke_workflow mlflow_run"] == 1
    assert sum(n.startswith("invoke_agent worker s") for n in names) == 3
    assert names["chat gpt-5-mini"] == 3
    chats = sorted((s["input"], s["output"], s["tier"]) for s in spans
                   if str(s["name"]).startswith("chat "))
    expected = sorted((c.usage.input_tokens, c.usage.output_tokens, c.tier)
                      for c in report.calls)
    assert chats == expected  # every call, with its own tokens and tier
    [root] = [s for s in spans if s["name"] == "invoke_workflow mlflow_run"]
    assert root["aggregated_input"] == report.total.input_tokens
