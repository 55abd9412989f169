"""ReplayChatModel and the `bench replay` command, on a small synthetic recording."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from tiered_agents import ConfidenceVerifier, CostTracker, ReplayChatModel
from tiered_agents.cli import main
from tiered_agents.replay import load_recording, recording_messages
from tiered_agents.verifiers import logprob_confidence


def record(i: int) -> dict[str, Any]:
    cheap_right = i % 3 != 0
    return {"id": f"synthetic/{i}", "dataset": "synthetic", "messages": [
        {"role": "system", "content": "Answer with a letter."},
        {"role": "user", "content": f"Question {i}: pick A or B."}],
        "answers": {
            "tiny": {"text": "A" if cheap_right else "B", "correct": cheap_right,
                     "input_tokens": 20, "output_tokens": 1, "cost_usd": 0.0001,
                     "latency_ms": 100.0, "confidence": -0.05 if cheap_right else -1.2},
            "big": {"text": "A", "correct": True, "input_tokens": 20, "output_tokens": 1,
                    "cost_usd": 0.002, "latency_ms": 300.0, "confidence": -0.01}}}


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    path = tmp_path / "synthetic.jsonl.gz"
    with gzip.open(path, "wt") as handle:
        for i in range(60):
            handle.write(json.dumps(record(i)) + "\n")
    return path


def test_replay_returns_the_recorded_answer_usage_confidence_and_cost(recording: Path) -> None:
    model = ReplayChatModel(recording=recording, model="tiny")
    tracker = CostTracker()
    reply = model.invoke([SystemMessage("Answer with a letter."),
                          HumanMessage("Question 3: pick A or B.")],
                         config={"callbacks": [tracker]})
    assert reply.content == "B"
    assert reply.usage_metadata["input_tokens"] == 20
    assert reply.response_metadata["model_name"] == "tiny"
    assert logprob_confidence(reply) == -1.2
    verdict = ConfidenceVerifier(-0.5).verify(
        _ctx(reply, model))
    assert verdict.passed is False and verdict.score == -1.2
    assert tracker.report().total_cost_usd == Decimal("0.0001")


def _ctx(reply: Any, model: ReplayChatModel) -> Any:
    from tiered_agents import Tier, VerifyContext

    return VerifyContext(request="q", answer=reply.content, tier=Tier("tiny", model),
                         message=reply)


def test_replay_miss_raises_a_clear_error(recording: Path) -> None:
    model = ReplayChatModel(recording=load_recording(recording), model="big")
    with pytest.raises(KeyError, match="No recorded answer of 'big'"):
        model.invoke([HumanMessage("A question nobody recorded")])
    with pytest.raises(ValueError, match="no answers by model 'nobody'"):
        ReplayChatModel(recording=recording, model="nobody")


def test_recording_messages_round_trip(recording: Path) -> None:
    rows = load_recording(recording)
    model = ReplayChatModel(recording=rows, model="big")
    assert model.invoke(recording_messages(rows[7])).content == "A"


def test_bench_replay_end_to_end(recording: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["bench", "replay", "--train", str(recording), "--test", str(recording),
                 "--out", str(out), "--margin", "0"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert (out / "pareto.png").stat().st_size > 10_000
    assert results["top_model"] == {"name": "big", "accuracy": 1.0, "cost_usd": pytest.approx(0.12)}
    tiered = results["tiered"]
    # tiny is right exactly when confident: escalate the unsure third, pay both there.
    assert tiered["accuracy"] == 1.0
    assert tiered["cost_usd"] == pytest.approx(60 * 0.0001 + 20 * 0.002)
    assert tiered["escalation_rate"]["tiny"] == pytest.approx(1 / 3)
    assert tiered["policy"]["tiers"] == ["tiny", "big"]
    assert results["check"]["simulated_cost_usd"] == pytest.approx(tiered["cost_usd"])
    oracle_cost = 40 * 0.0001 + 20 * 0.002
    assert results["oracle"] == {"accuracy": 1.0, "cost_usd": pytest.approx(oracle_cost)}
    assert tiered["model_calls"] == 80
    assert "saving vs the top model: 2.61x" in capsys.readouterr().out
