"""ReplayChatModel and the `bench replay` command, on a small synthetic recording."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from tiered_agents import CostTracker
from tiered_agents.cli import main
from tiered_agents.replay import ReplayChatModel, load_recording, recording_messages
from tiered_agents.verifiers import ConfidenceVerifier, logprob_confidence


def record(i: int) -> dict[str, Any]:
    """Question i: tiny is right on two thirds, exactly when it is confident; big always."""
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


def write(path: Path, ids: range) -> Path:
    with gzip.open(path, "wt") as handle:
        for i in ids:
            handle.write(json.dumps(record(i)) + "\n")
    return path


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    return write(tmp_path / "synthetic.jsonl.gz", range(60))


@pytest.fixture
def train_recording(tmp_path: Path) -> Path:
    return write(tmp_path / "synthetic_train.jsonl.gz", range(1000, 1300))


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
    verdict = ConfidenceVerifier(-0.5).check(
        _ctx(reply, model))
    assert verdict.passed is False and verdict.score == -1.2
    assert tracker.report().total_cost_usd == Decimal("0.0001")


def _ctx(reply: Any, model: ReplayChatModel) -> Any:
    from tiered_agents import Tier
    from tiered_agents.verifiers import VerifyContext

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


def test_bench_replay_end_to_end(recording: Path, train_recording: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["bench", "replay", "--train", str(train_recording), "--test", str(recording),
                 "--out", str(out), "--target-quality", "0.8"]) == 0
    printed = capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    assert (out / "pareto.png").stat().st_size > 10_000
    assert results["plot"] == str(out / "pareto.png")
    assert results["top_model"] == {"name": "big", "accuracy": 1.0, "cost_usd": pytest.approx(0.12)}
    assert results["best_single_model"]["name"] == "big"
    tiered = results["tiered"]
    # tiny is right exactly when confident: escalate the unsure third, pay both there.
    assert tiered["accuracy"] == 1.0
    assert tiered["cost_usd"] == pytest.approx(60 * 0.0001 + 20 * 0.002)
    assert tiered["escalation_rate"]["tiny"] == pytest.approx(1 / 3)
    assert tiered["policy"]["tiers"] == results["policy"]["tiers"] == ["tiny", "big"]
    assert results["check"]["simulated_cost_usd"] == pytest.approx(tiered["cost_usd"])
    oracle_cost = 40 * 0.0001 + 20 * 0.002
    assert results["oracle"] == {"accuracy": 1.0, "cost_usd": pytest.approx(oracle_cost)}
    assert tiered["model_calls"] == 80
    certificate = results["certificate"]
    assert certificate["certified"] and certificate["target_quality"] == 0.8
    assert certificate["examples"] == 300 and results["calibration"]["overlapping_questions"] == 0
    assert results["meets_target"] and not results["drift"]["drifted"]
    assert printed.index("saving vs the top model: 2.61x") < printed.index("wrote")
    assert "best single model big" in printed and "below target" not in printed


def test_bench_replay_flags_overlap_below_target_and_drift(
        recording: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Calibrated on tiny's confident answers only, then tested where it is often wrong.
    shifted = [record(i) for i in range(60)]
    for row in shifted:
        row["answers"]["tiny"].update(correct=False, confidence=-0.04)
    path = tmp_path / "shifted.jsonl.gz"
    with gzip.open(path, "wt") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in shifted)
    train = write(tmp_path / "confident.jsonl.gz", range(1000, 1300))
    assert main(["bench", "replay", "--train", str(train), "--test", str(path),
                 "--target-quality", "0.8"]) == 0
    printed = capsys.readouterr().out
    assert "below target" in printed and "drift:" in printed and "differ from calibration" in \
        printed
    assert main(["bench", "replay", "--train", str(recording), "--test", str(recording),
                 "--target-quality", "0.8"]) == 0
    assert "same file" in capsys.readouterr().out


def test_bench_replay_without_matplotlib(recording: Path, train_recording: Path,
                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    out = tmp_path / "out"
    assert main(["bench", "replay", "--train", str(train_recording), "--test", str(recording),
                 "--out", str(out)]) == 0
    assert "no plot: matplotlib is not installed" in capsys.readouterr().out
    assert not (out / "pareto.png").exists() and (out / "results.json").exists()


def test_recording_may_be_given_positionally(recording: Path) -> None:
    positional = ReplayChatModel(recording, model="tiny")
    keyword = ReplayChatModel(recording=recording, model="tiny")
    question = [SystemMessage("Answer with a letter."), HumanMessage("Question 3: pick A or B.")]
    assert positional.invoke(question).content == keyword.invoke(question).content == "B"
    with pytest.raises(TypeError, match="got the recording twice"):
        ReplayChatModel(recording, recording=recording, model="tiny")
