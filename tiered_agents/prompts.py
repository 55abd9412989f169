"""The messages the planner, workers, synthesizer and model-calling verifiers receive."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from tiered_agents.plan import Plan, Subtask
from tiered_agents.state import SubtaskResult
from tiered_agents.tiers import Tier

__all__ = ["judge_messages", "planner_messages", "render", "replan_message", "self_check_messages",
           "synthesizer_messages", "worker_messages"]

PLAN_FORMAT = """Reply with a JSON object of this form:
{"subtasks": [{"id": "s1", "instruction": "...", "depends_on": [], "tier": "<tier name>"},
              {"id": "s2", "instruction": "...", "depends_on": ["s1"],
               "expected_output": {"type": "object", "properties": {"...": {}}},
               "acceptance": "..."}]}
Rules: ids are unique; depends_on lists ids of subtasks whose outputs the subtask needs (no
cycles); "tier" is optional (default: the cheapest tier); "expected_output" is an optional JSON
schema the subtask's output must satisfy; "acceptance" is an optional sentence saying what a good
answer contains."""


def render(value: Any) -> str:
    """A value as prompt text: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=1)


PREVIEW_CHARS = 120
"""How much of each document's first line the planner sees."""


def _document_list(documents: Mapping[str, str]) -> str:
    lines = []
    for name, text in documents.items():
        first = text.strip().split("\n", 1)[0][:PREVIEW_CHARS]
        lines.append(f"- {name} ({len(text):,} characters): {first}")
    return "\n".join(lines)


def planner_messages(
    task: str, tiers: Sequence[Tier], *, max_subtasks: int, json_only: bool,
    documents: Mapping[str, str] | None = None,
    schemas: Mapping[str, dict[str, Any]] | None = None,
) -> list[BaseMessage]:
    ladder = "\n".join(
        f"- {t.name}" + (f": {t.description}" if t.description else "") for t in tiers
    )
    system = (
        "You are the planner of a team of language models. Split the user's task into at most "
        f"{max_subtasks} self-contained subtasks that cheaper worker models can execute. Give "
        "each subtask every detail it needs: a worker sees only the task, its instruction and "
        "the outputs of the subtasks it depends on. Independent subtasks run in parallel.\n"
        f"Tiers, cheapest first:\n{ladder}\nAssign the cheapest tier that can do each subtask "
        "well.\n\n" + PLAN_FORMAT
    )
    if documents:
        system += (
            '\nEach subtask may also have "documents": the names of the documents below that '
            "its worker must read. Workers see only the documents their subtask names; you see "
            'only the names, sizes and first lines. With "per_document": true, the subtask runs '
            "once per document it names, each run reading one document (write it once for work "
            "that is the same for every document).\nDocuments:\n" + _document_list(documents))
    if schemas:
        system += ('\nNamed output schemas: set "expected_output" to one of these names to use '
                   "it instead of writing a schema:\n" + "\n".join(
                       f"- {name}: " + str(schema.get("description") or schema.get("title")
                                           or ", ".join(schema.get("properties") or {}))
                       for name, schema in schemas.items()))
    if json_only:
        system += "\nReply with the JSON object only, no prose."
    return [SystemMessage(system), HumanMessage(f"Task:\n{task}")]


REPLAN_CHARS = 20_000
"""How much of an invalid plan is shown back to the planner."""


def replan_message(previous: Any, problem: str) -> HumanMessage:
    shown = previous if isinstance(previous, str) else json.dumps(previous, ensure_ascii=False,
                                                                   default=str)
    if len(shown) > REPLAN_CHARS:
        shown = shown[:REPLAN_CHARS] + f"\n[... {len(shown) - REPLAN_CHARS} more characters]"
    return HumanMessage(
        f"Your previous plan was:\n{shown}\n\nIt is invalid: {problem}.\n"
        "Reply with a corrected plan as a JSON object only."
    )


def worker_messages(
    task: str, subtask: Subtask, dependencies: Mapping[str, Any], *, json_only: bool,
    documents: Mapping[str, str] | None = None,
) -> list[BaseMessage]:
    # Long documents first, the task and the question after them (what long-context models
    # are tuned for, and what small models follow best).
    parts = [f"Document {name}:\n{text}" for name, text in (documents or {}).items()]
    parts += [f"Overall task (for context):\n{task}", f"Your subtask:\n{subtask['instruction']}"]
    if dependencies:
        done = "\n\n".join(f"[{k}]\n{render(v)}" for k, v in dependencies.items())
        parts.append(f"Results of earlier subtasks you may use:\n{done}")
    if subtask["acceptance"]:
        parts.append(f"A good answer: {subtask['acceptance']}")
    if subtask["expected_output"] is not None:
        parts.append(
            "Your answer must be JSON that satisfies this JSON schema:\n"
            + json.dumps(subtask["expected_output"], ensure_ascii=False)
        )
        if json_only:
            parts.append("Reply with the JSON only.")
    system = (
        "You are a worker in a team of language models. Do exactly the subtask you are given, "
        "completely and accurately, and reply with its result only."
    )
    return [SystemMessage(system), HumanMessage("\n\n".join(parts))]


def synthesizer_messages(
    task: str, plan: Plan, results: Mapping[str, SubtaskResult]
) -> list[BaseMessage]:
    sections = []
    for subtask in plan["subtasks"]:
        result = results.get(subtask["id"])
        if result is not None and result["status"] == "done":
            sections.append(f"[{subtask['id']}] {subtask['instruction']}\n"
                            f"{render(result['output'])}")
    system = (
        "You write the final answer to the user's task from the results your team produced. "
        "Use the results; do not invent facts they do not support. Answer the task directly."
    )
    body = f"Task:\n{task}\n\nSubtask results:\n\n" + "\n\n".join(sections)
    return [SystemMessage(system), HumanMessage(body)]


_SELF_CHECK = ("Here is a request and an answer to it.\n\nRequest:\n{request}\n\nAnswer:\n"
               "{answer}\n\nIs the answer correct and complete? Reply with Y or N only.")


def self_check_messages(request: str, answer: Any) -> list[BaseMessage]:
    """Ask the answering tier whether its own answer is correct (Y/N)."""
    return [HumanMessage(_SELF_CHECK.format(request=request, answer=render(answer)))]


_JUDGE = ("You grade answers. Request:\n{request}\n\n{acceptance}Answer to grade:\n{answer}\n\n"
          'Reply with JSON only: {{"score": <0-10>, "reason": "<one sentence>"}}, where 10 '
          "means fully correct and complete and 0 means wrong.")


def judge_messages(request: str, acceptance: str | None, answer: Any) -> list[BaseMessage]:
    """Ask a stronger tier to grade an answer from 0 to 10."""
    return [SystemMessage("You are a strict grader."), HumanMessage(_JUDGE.format(
        request=request, acceptance=f"A good answer: {acceptance}\n\n" if acceptance else "",
        answer=render(answer)))]
