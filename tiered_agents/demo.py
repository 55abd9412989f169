"""`tiered-agents demo`: a contract review by a tiered team, with its cost report.

Until real local models are wired in, the demo runs on scripted fake models (the same
`tiered_agents.testing` fakes the tests use). They read the contract with regular
expressions and stand in for gpt-5-mini (workers) and claude-opus-4-7 (planner, synthesizer);
their token counts are estimates (four characters a token) priced at those models' list
prices. The screen says so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import BaseMessage
from rich.console import Console
from rich.panel import Panel

from tiered_agents.contracts import FIELDS, Contract, make_contracts
from tiered_agents.graph import create_tiered_graph
from tiered_agents.testing import FakeChatModel
from tiered_agents.tiers import Tier
from tiered_agents.tracing import CostReport, CostTracker

__all__ = ["DemoOutcome", "contract_task", "run_demo", "scripted_tiers"]

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


def contract_task(contract: Contract) -> str:
    fields = "\n".join(f"- {name}: {meaning}" for name, meaning in FIELDS.items())
    return (f"Review this contract. Extract these fields, then summarise the key terms for a "
            f"busy manager in three sentences.\n{fields}\n\nCONTRACT:\n{contract.text}")


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
    answer: str
    fields: dict[str, Any]
    accuracy: float
    report: CostReport


def _progress(graph: Any, task: str, config: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    yield from graph.stream({"task": task}, config, stream_mode=["updates", "values"])


def run_demo(console: Console, *, contract_index: int = 0, tracer_provider: Any = None
             ) -> DemoOutcome:
    """Run the contract review on scripted fakes, printing progress, answer and costs."""
    console.print(Panel(
        "[bold]Running on scripted FAKE models[/bold] (the test suite's fakes): they read the "
        "contract with regular expressions and stand in for gpt-5-mini (workers) and "
        "claude-opus-4-7 (planner, synthesizer). Token counts are estimated and priced at "
        "those models' list prices. Real local models arrive with the \\[local] extra.",
        title="tiered-agents demo", border_style="yellow"))
    contract = make_contracts()[contract_index]
    small, frontier = scripted_tiers()
    graph = create_tiered_graph(planner=frontier, tiers=[small, frontier], name="contract_review")
    tracker = CostTracker(tracer_provider=tracer_provider)
    final: dict[str, Any] = {}
    for mode, data in _progress(graph, contract_task(contract), {"callbacks": [tracker]}):
        if mode == "values":
            final = data
            continue
        for node, update in data.items():
            if node == "planner":
                console.print(f"[cyan]planner[/cyan] wrote {len(update['plan'].subtasks)} "
                              "subtasks")
            elif node == "worker":
                for sid, result in update["results"].items():
                    last = result.attempts[-1]
                    mark = ("[green]ok[/green]" if last.ok
                            else f"[red]rejected[/red] ({last.reason})")
                    console.print(f"  worker [bold]{sid}[/bold] on {last.tier}: {mark}")
            elif node == "synthesizer":
                console.print("[cyan]synthesizer[/cyan] wrote the answer")
    fields = {sid: r.output.get("value") if isinstance(r.output, dict) else r.output
              for sid, r in final["results"].items()}
    correct = sum(fields.get(k) == v for k, v in contract.answers.items())
    accuracy = correct / len(contract.answers)
    report = tracker.report()
    console.print(Panel(final["answer"], title=f"Answer ({contract.id})", border_style="green"))
    console.print(f"Field accuracy against the known answers: {correct}/{len(contract.answers)}")
    console.print(report.rich_table())
    return DemoOutcome(answer=final["answer"], fields=fields, accuracy=accuracy, report=report)
