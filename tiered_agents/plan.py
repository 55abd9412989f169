"""The plan the planner writes: subtasks with dependencies, parsed and validated.

A plan lives in the graph's state as plain JSON data (`Plan` and `Subtask` are `TypedDict`s), so
checkpoints hold no custom types: they load under `LANGGRAPH_STRICT_MSGPACK`, on LangGraph
Server, and through any JSON converter. What the planner writes is validated by the pydantic
models `PlanModel` and `SubtaskModel` (also the schema given to models' structured output).

Any planner reply gives a `Plan` or a `PlanValidationError`, in time linear in its size: deep
nesting, huge lists, megabyte strings, lone surrogates and invalid `expected_output` schemas
are all named problems the planner is shown, never a crash.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012
from typing_extensions import TypedDict

from tiered_agents._json import clip, extract_json
from tiered_agents.errors import PlanValidationError

__all__ = ["MAX_DEPTH", "DocumentPlanModel", "DocumentSubtaskModel", "Plan", "PlanModel",
           "Subtask", "SubtaskModel", "check_schema", "check_schemas", "expand_plan",
           "find_subtask", "parse_plan", "validate_plan"]

MAX_DEPTH = 48
"""The deepest nesting a plan (schemas included) may have; deeper plans are rejected."""


class Subtask(TypedDict):
    """One unit of work a worker tier executes (plain data, as stored in the state)."""

    id: str
    """Unique id, e.g. 's1'."""
    instruction: str
    """What the worker must do, self-contained."""
    depends_on: list[str]
    """Ids of subtasks whose outputs this one needs."""
    tier: str | None
    """Name of the tier to run on; `None` for the cheapest tier."""
    expected_output: dict[str, Any] | None
    """A JSON schema the output must satisfy, or `None`. (The planner may name one of the
    graph's `schemas` instead; `validate_plan` puts the schema itself here.)"""
    acceptance: str | None
    """A sentence saying what a good answer contains, or `None`."""
    documents: list[str]
    """Names of the run's documents the worker reads (it sees only these)."""
    per_document: bool
    """As the planner wrote it: run once per named document, each run reading one. Validated
    plans are expanded (`expand_plan`), so a subtask in the state never has it set."""


class Plan(TypedDict):
    """Subtasks that together answer the task. Ids are unique and dependencies form a DAG."""

    subtasks: list[Subtask]


class SubtaskModel(BaseModel):
    """What the planner writes for one subtask (validated, then stored as a `Subtask`)."""

    model_config = ConfigDict(extra="ignore", frozen=True, title="Subtask")

    id: str = Field(min_length=1, description="Unique id, e.g. 's1'.")
    instruction: str = Field(min_length=1, description="What the worker must do, self-contained.")
    depends_on: list[str] = Field(
        default_factory=list, description="Ids of subtasks whose outputs this one needs."
    )
    tier: str | None = Field(
        default=None, description="Name of the tier to run on; omit for the cheapest tier."
    )
    per_document: bool = Field(
        default=False,
        description="Run the subtask once per document it names, each run reading one.",
    )
    documents: list[str] = Field(
        default_factory=list,
        description="Names of the documents the worker must read; it sees only these.",
    )
    expected_output: dict[str, Any] | str | None = Field(
        default=None, description="Optional JSON schema the output must satisfy, or the name "
        "of one of the graph's named schemas."
    )
    acceptance: str | None = Field(
        default=None, description="Optional sentence saying what a good answer contains."
    )


class PlanModel(BaseModel):
    """The plan as the planner writes it; the schema for structured output."""

    model_config = ConfigDict(extra="ignore", frozen=True, title="Plan")

    subtasks: list[SubtaskModel] = Field(description="The subtasks, in any order.")


class DocumentSubtaskModel(SubtaskModel):
    """`SubtaskModel` for runs with documents: the structured output makes the planner decide
    `per_document` and `documents` for every subtask instead of leaving them out."""

    model_config = ConfigDict(extra="ignore", frozen=True, title="Subtask")

    per_document: bool = Field(
        description="Run the subtask once per document it names, each run reading one.")
    documents: list[str] = Field(
        description="Names of the documents the worker must read; it sees only these.")


class DocumentPlanModel(PlanModel):
    """`PlanModel` for runs with documents (see `DocumentSubtaskModel`)."""

    model_config = ConfigDict(extra="ignore", frozen=True, title="Plan")

    subtasks: list[DocumentSubtaskModel] = Field(  # type: ignore[assignment]
        description="The subtasks, in any order.")


def find_subtask(plan: Plan, subtask_id: str) -> Subtask:
    """The subtask with id `subtask_id` (`KeyError` when there is none)."""
    for subtask in plan["subtasks"]:
        if subtask["id"] == subtask_id:
            return subtask
    raise KeyError(subtask_id)


def _find_cycle(subtasks: list[Subtask]) -> list[str] | None:
    """A dependency cycle, found by an iterative depth-first search (no recursion limit)."""
    deps = {s["id"]: s["depends_on"] for s in subtasks}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for root, root_deps in deps.items():
        if root in state:
            continue
        path: list[str] = [root]
        stack = [iter(root_deps)]
        state[root] = 1
        while stack:
            dep = next(stack[-1], None)
            if dep is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(dep) == 1:
                return [*path[path.index(dep):], dep]
            elif dep not in state:
                state[dep] = 1
                path.append(dep)
                stack.append(iter(deps.get(dep, [])))
    return None


def _refs(schema: Any) -> list[str]:
    """Every `$ref` in `schema`, outside subschemas that set their own `$id`."""
    found: list[str] = []
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                found.append(node["$ref"])
            stack.extend(v for k, v in node.items()
                         if not (isinstance(v, dict) and "$id" in v and k != "$ref"))
        elif isinstance(node, list):
            stack.extend(node)
    return found


def check_schema(schema: Any) -> str | None:
    """Why `schema` is not a usable JSON schema for an output, or `None` when it is.

    Checked against its metaschema, and every `$ref` must resolve inside the schema itself
    (remote references are never fetched).
    """
    if not isinstance(schema, dict):
        return f"must be a JSON schema object, got {type(schema).__name__}"
    try:
        validator = jsonschema.validators.validator_for(
            schema, default=jsonschema.Draft202012Validator)
        validator.check_schema(schema)
        resolver = Registry().resolver_with_root(
            Resource.from_contents(schema, default_specification=DRAFT202012))
        for ref in _refs(schema):
            if not ref.startswith("#"):
                return (f"$ref {clip(ref, 80)!r} points outside the schema; put the definition "
                        "in the schema under $defs and use '#/$defs/...'")
            resolver.lookup(ref)
    except jsonschema.SchemaError as exc:
        return f"is not a valid JSON schema ({clip(exc.message, 200)})"
    except Unresolvable as exc:
        return (f"has a $ref that resolves to nothing ({clip(str(exc.ref), 80)!r}); define it "
                "under $defs")
    except (RecursionError, ValueError, TypeError, LookupError) as exc:
        return f"cannot be used as a JSON schema ({type(exc).__name__})"
    return None


def check_schemas(schemas: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Named schemas as given to a graph factory, checked: `TypeError`/`ValueError` naming the
    bad one."""
    if schemas is None:
        return {}
    if not isinstance(schemas, Mapping):
        raise TypeError(f"schemas must map names to JSON schemas, got {type(schemas).__name__}.")
    for name, schema in schemas.items():
        if not isinstance(name, str) or not name.strip():
            raise TypeError(f"schema names must be non-blank strings, got {name!r}.")
        problem = check_schema(schema)
        if problem is not None:
            raise ValueError(f"schemas[{name!r}] {problem}; give a valid JSON schema (a dict).")
    return dict(schemas)


def _too_many(count: int, max_subtasks: int) -> PlanValidationError:
    return PlanValidationError(f"the plan has {count} subtasks but at most {max_subtasks} are "
                               "allowed; merge related steps")


def validate_plan(plan: Plan, *, tiers: Iterable[str], max_subtasks: int,
                  documents: Iterable[str] = (),
                  schemas: Mapping[str, dict[str, Any]] | None = None) -> Plan:
    """Check the rules a runnable plan must follow; raise `PlanValidationError` otherwise.

    `documents` are the names of the run's documents, which subtasks may name; `schemas` are
    named JSON schemas an `expected_output` may name instead of writing one out (the returned
    plan holds the schemas themselves).
    """
    plan = _resolve_schemas(plan, schemas or {})
    tier_names = list(tiers)
    document_names = list(documents)
    known_documents = set(document_names)
    subtasks = plan["subtasks"]
    if not subtasks:
        raise PlanValidationError("the plan has no subtasks; give at least one")
    if len(subtasks) > max_subtasks:
        raise _too_many(len(subtasks), max_subtasks)
    seen: set[str] = set()
    for subtask in subtasks:
        if subtask["id"] in seen:
            raise PlanValidationError(
                f"subtask id {clip(subtask['id'], 60)!r} is used more than once")
        seen.add(subtask["id"])
    for subtask in subtasks:
        name = clip(subtask["id"], 60)
        missing = [clip(d, 60) for d in subtask["depends_on"] if d not in seen]
        if missing:
            raise PlanValidationError(
                f"subtask {name!r} depends on unknown subtask(s) {missing[:5]}"
            )
        if subtask["id"] in subtask["depends_on"]:
            raise PlanValidationError(f"subtask {name!r} depends on itself")
        if subtask["tier"] is not None and subtask["tier"] not in tier_names:
            raise PlanValidationError(
                f"subtask {name!r} names tier {clip(subtask['tier'], 60)!r}, which does not "
                f"exist; use one of {tier_names}"
            )
        if subtask["per_document"] and not subtask["documents"]:
            raise PlanValidationError(
                f"subtask {name!r} runs per_document but names no documents; list them")
        unknown = [clip(d, 60) for d in subtask["documents"] if d not in known_documents]
        if unknown:
            known = f"use one of {[clip(d, 60) for d in document_names[:20]]}" \
                if document_names else "this run has no documents; leave it empty"
            raise PlanValidationError(
                f"subtask {name!r} names unknown document(s) {unknown[:5]}; {known}")
        if subtask["expected_output"] is not None:
            problem = check_schema(subtask["expected_output"])
            if problem is not None:
                raise PlanValidationError(
                    f"subtask {name!r}: expected_output {problem}")
    cycle = _find_cycle(subtasks)
    if cycle:
        raise PlanValidationError(
            f"the dependencies form a cycle: {' -> '.join(clip(c, 60) for c in cycle[:12])}")
    expanded = expand_plan(plan)
    if expanded is not plan:
        if len(expanded["subtasks"]) > max_subtasks:
            raise PlanValidationError(
                f"once per document, the plan runs {len(expanded['subtasks'])} subtasks but at "
                f"most {max_subtasks} are allowed; give fewer documents per subtask")
        return validate_plan(expanded, tiers=tier_names, max_subtasks=max_subtasks,
                             documents=document_names, schemas=schemas)
    return plan


def _resolve_schemas(plan: Plan, schemas: Mapping[str, dict[str, Any]]) -> Plan:
    named = [s for s in plan["subtasks"] if isinstance(s["expected_output"], str)]
    if not named:
        return plan
    for subtask in named:
        name: Any = subtask["expected_output"]  # a name, before it is resolved
        if name not in schemas:
            known = f"use one of {sorted(schemas)[:20]}" if schemas else \
                "there are no named schemas; write the JSON schema itself"
            raise PlanValidationError(
                f"subtask {clip(subtask['id'], 60)!r} names the schema "
                f"{clip(name, 60)!r}, which does not exist; {known}")
    return Plan(subtasks=[
        Subtask(**{**s, "expected_output": schemas[s["expected_output"]]})
        if isinstance(s["expected_output"], str) else s for s in plan["subtasks"]])


def expand_plan(plan: Plan) -> Plan:
    """`plan` with each `per_document` subtask replaced by one subtask per document it names
    (id `"{id}/{document}"`, reading that document alone); subtasks that depended on it
    depend on all of them. A plan without such subtasks is returned as is."""
    expanded: dict[str, list[str]] = {
        s["id"]: [f"{s['id']}/{d}" for d in s["documents"]]
        for s in plan["subtasks"] if s["per_document"]}
    if not expanded:
        return plan
    subtasks: list[Subtask] = []
    for subtask in plan["subtasks"]:
        depends_on = [e for d in subtask["depends_on"] for e in expanded.get(d, [d])]
        if subtask["per_document"]:
            subtasks.extend(Subtask(**{
                **subtask, "id": f"{subtask['id']}/{document}", "documents": [document],
                "instruction": f"{subtask['instruction']}\n(This run: document {document} only.)",
                "per_document": False, "depends_on": depends_on})
                for document in subtask["documents"])
        else:
            subtasks.append(Subtask(**{**subtask, "depends_on": depends_on}))
    return Plan(subtasks=subtasks)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean(value: Any, depth: int = 0) -> Any:
    """`value` with lone surrogates replaced (they cannot be encoded to send or store), after
    checking its nesting (`MAX_DEPTH`); recursion stays shallow because of that check."""
    if depth > MAX_DEPTH:
        raise PlanValidationError(
            f"the plan is nested more than {MAX_DEPTH} levels deep; keep it flat")
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value
    if isinstance(value, Mapping):
        return {_clean(k, depth + 1): _clean(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v, depth + 1) for v in value]
    return value


def parse_plan(raw: Any, *, max_subtasks: int | None = None) -> Plan:
    """Turn a planner's output (a `PlanModel`, a dict, or text with JSON in it) into a `Plan`.

    Raises `PlanValidationError` naming the problem; with `max_subtasks`, a plan with more
    subtasks is rejected before its subtasks are validated.
    """
    if isinstance(raw, BaseModel):
        raw = raw.model_dump()
    if isinstance(raw, str):
        try:
            raw = extract_json(raw)
        except ValueError as exc:
            raise PlanValidationError(str(exc)) from None
    if isinstance(raw, list):
        raw = {"subtasks": raw}
    if not isinstance(raw, Mapping):
        raise PlanValidationError(
            f'the plan must be a JSON object {{"subtasks": [...]}}, got {type(raw).__name__}'
        )
    subtasks = raw.get("subtasks")
    if max_subtasks is not None and isinstance(subtasks, list) and len(subtasks) > max_subtasks:
        raise _too_many(len(subtasks), max_subtasks)  # before anything walks every subtask
    try:
        model = PlanModel.model_validate(_clean(raw))  # raises when nested too deeply
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(clip(str(p), 40) for p in err['loc'])}: {err['msg']}"
            for err in exc.errors()[:5]
        )
        raise PlanValidationError(
            f"the plan does not match the schema ({clip(problems, 600)})") from None
    dumped: Plan = model.model_dump()  # type: ignore[assignment]
    return dumped
