"""`ReplayChatModel`: a chat model that answers from recorded real answers.

A recording is a JSON Lines file (optionally gzipped) with one question per line:
`{"id", "messages": [{"role", "content"}], "answers": {model: {"text", "correct",
"input_tokens", "output_tokens", "cost_usd", "latency_ms", "confidence"}}}`.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, PrivateAttr

import tiered_agents.attributes as attr

__all__ = ["ReplayChatModel", "load_recording", "recording_messages"]

_ROLES = {"system": "system", "human": "user", "user": "user", "ai": "assistant",
          "assistant": "assistant"}


def load_recording(path: str | Path) -> list[dict[str, Any]]:
    """Read a recording (`.jsonl` or `.jsonl.gz`)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def recording_messages(record: Mapping[str, Any]) -> list[BaseMessage]:
    """The record's messages as LangChain messages."""
    out: list[BaseMessage] = []
    for m in record["messages"]:
        cls = SystemMessage if m["role"] == "system" else HumanMessage
        out.append(cls(m["content"]))
    return out


def _key(messages: Iterable[Any]) -> tuple[tuple[str, str], ...]:
    key = []
    for m in messages:
        if isinstance(m, BaseMessage):
            role, content = _ROLES.get(m.type, m.type), m.content
        else:
            role, content = _ROLES.get(m["role"], m["role"]), m["content"]
        key.append((role, content if isinstance(content, str) else json.dumps(content)))
    return tuple(key)


class ReplayChatModel(BaseChatModel):
    """Answers with what `model` really answered to the same messages, as recorded.

    The reply carries the recorded text, `usage_metadata` (the recorded token counts), the
    model name, the recorded confidence as a one-token OpenAI-style `logprobs` entry (so
    `ConfidenceVerifier` reads it like a provider's log-probabilities) and the recorded cost
    (so the tracker charges it as recorded). Messages with no recording raise `KeyError`.

    Example:
        ```python
        rows = load_recording("mmlu_qwen_oai_train.jsonl.gz")
        mini = ReplayChatModel(recording=rows, model="gpt-4o-mini")
        ```
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    recording: Any
    """A path to a recording, or its loaded records."""
    model: str
    """Which recorded model answers."""

    _index: dict[tuple[tuple[str, str], ...], dict[str, Any]] = PrivateAttr(default_factory=dict)

    def __init__(self, recording: Any = None, /, **kwargs: Any) -> None:
        """`ReplayChatModel(recording, model=...)`, or with `recording=...` as a keyword."""
        if recording is not None:
            if "recording" in kwargs:
                raise TypeError("ReplayChatModel got the recording twice: pass it positionally "
                                "or as recording=..., not both.")
            kwargs["recording"] = recording
        super().__init__(**kwargs)

    def model_post_init(self, context: Any) -> None:
        records: Sequence[Mapping[str, Any]] = (
            load_recording(self.recording) if isinstance(self.recording, (str, Path))
            else self.recording)
        for record in records:
            answer = record.get("answers", {}).get(self.model)
            if answer is not None:
                self._index[_key(record["messages"])] = {**answer, "id": record.get("id")}
        if not self._index:
            raise ValueError(f"The recording has no answers by model {self.model!r}.")
        self.recording = None  # the index keeps what is needed

    @property
    def _llm_type(self) -> str:
        return "tiered-agents-replay"

    @property
    def model_name(self) -> str:
        return self.model

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> Any:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "replay"
        params["ls_model_name"] = self.model
        return params

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        answer = self._index.get(_key(messages))
        if answer is None:
            preview = str(messages[-1].content)[:80] if messages else ""
            raise KeyError(f"No recorded answer of {self.model!r} to these messages "
                           f"(last one starts {preview!r}). Replay only the recorded questions.")
        text = answer["text"]
        usage = {"input_tokens": int(answer["input_tokens"]),
                 "output_tokens": int(answer["output_tokens"]),
                 "total_tokens": int(answer["input_tokens"]) + int(answer["output_tokens"])}
        metadata: dict[str, Any] = {"model_name": self.model, "record_id": answer["id"],
                                    attr.RECORDED_COST: answer["cost_usd"],
                                    "latency_ms": answer.get("latency_ms")}
        if answer.get("confidence") is not None:
            metadata["logprobs"] = {"content": [{"token": text[:16],
                                                 "logprob": float(answer["confidence"])}]}
        message = AIMessage(text, usage_metadata=usage, response_metadata=metadata)
        return ChatResult(generations=[ChatGeneration(message=message)])
