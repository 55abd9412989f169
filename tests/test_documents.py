"""Documents, per-document subtasks, named schemas and the caller's own plan rules."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tiered_agents import InvalidInputError, PlanError, Tier, create_tiered_graph
from tiered_agents.plan import (
    DocumentPlanModel,
    PlanModel,
    parse_plan,
    validate_plan,
)
from tiered_agents.testing import FakeChatModel, echo_worker, last_text, planner_responder
from tiered_agents.verifiers import FunctionVerifier, Verdict, VerifyContext

DOCS = {"alpha": "ALPHA TEXT\nThe notice period is 30 days.",
        "beta": "BETA TEXT\nThe notice period is 60 days."}


def _planner(*plans: Any) -> Tier:
    return Tier("frontier", FakeChatModel(respond=planner_responder(list(plans)),
                                          model_name="claude-opus-4-7"))


def _small(respond: Any = echo_worker) -> Tier:
    return Tier("small", FakeChatModel(respond=respond, model_name="gpt-5-mini"))


def _prompts(tier: Tier) -> list[str]:
    return [last_text(call) for call in tier.model.calls]  # type: ignore[union-attr]


def test_planner_sees_names_and_workers_read_only_their_documents() -> None:
    plan = {"subtasks": [
        {"id": "a", "instruction": "Read alpha", "documents": ["alpha"]},
        {"id": "b", "instruction": "Read beta", "documents": ["beta"]},
        {"id": "c", "instruction": "Combine", "depends_on": ["a", "b"]}]}
    planner, small = _planner(plan), _small()
    out = create_tiered_graph(planner=planner, tiers=[small, planner]).invoke(
        {"task": "Compare the notice periods", "documents": DOCS})
    system = planner.model.calls[0][0].content  # type: ignore[union-attr]
    assert f"- alpha ({len(DOCS['alpha'])} characters): ALPHA TEXT\n" in system
    assert "per_document" in system
    assert "30 days" not in system and "60 days" not in system  # names and first lines only
    by_instruction = {p.split("Your subtask:\n")[1].split("\n")[0]: p for p in _prompts(small)}
    assert "ALPHA TEXT" in by_instruction["Read alpha"]
    assert "BETA" not in by_instruction["Read alpha"]
    assert "ALPHA" not in by_instruction["Read beta"]
    assert "TEXT" not in by_instruction["Combine"]
    assert out["results"]["c"]["status"] == "done"


def test_per_document_subtask_runs_once_per_document() -> None:
    plan = {"subtasks": [
        {"id": "x", "instruction": "Find the notice period", "documents": ["alpha", "beta"],
         "per_document": True},
        {"id": "y", "instruction": "Compare them", "depends_on": ["x"]}]}
    planner, small = _planner(plan), _small()
    out = create_tiered_graph(planner=planner, tiers=[small, planner]).invoke(
        {"task": "Compare", "documents": DOCS})
    assert [s["id"] for s in out["plan"]["subtasks"]] == ["x/alpha", "x/beta", "y"]
    assert out["plan"]["subtasks"][2]["depends_on"] == ["x/alpha", "x/beta"]
    assert not any(s["per_document"] for s in out["plan"]["subtasks"])
    prompts = _prompts(small)
    alpha = next(p for p in prompts if "document alpha only" in p)
    assert "ALPHA TEXT" in alpha and "BETA" not in alpha
    combine = next(p for p in prompts if "Compare them" in p)
    assert "[x/alpha]" in combine and "[x/beta]" in combine  # it waited for every run
    assert set(out["results"]) == {"x/alpha", "x/beta", "y"}


def test_unknown_document_goes_back_to_the_planner() -> None:
    bad = {"subtasks": [{"id": "a", "instruction": "Read", "documents": ["gamma"]}]}
    good = {"subtasks": [{"id": "a", "instruction": "Read", "documents": ["alpha"]}]}
    planner = _planner(bad, good)
    out = create_tiered_graph(planner=planner, tiers=[_small(), planner]).invoke(
        {"task": "t", "documents": DOCS})
    assert out["plan"]["subtasks"][0]["documents"] == ["alpha"]
    replan = last_text(planner.model.calls[1])  # type: ignore[union-attr]
    assert "names unknown document(s) ['gamma']; use one of ['alpha', 'beta']" in replan


@pytest.mark.parametrize(("documents", "message"), [
    (["alpha"], "documents must be a mapping of names to texts"),
    ({"alpha": 3}, "Document 'alpha' must be a string, got int"),
    ({" ": "text"}, "Document names must be non-blank strings"),
])
def test_bad_documents_fail_before_any_call(documents: Any, message: str) -> None:
    planner = _planner({"subtasks": [{"id": "a", "instruction": "x"}]})
    graph = create_tiered_graph(planner=planner, tiers=[_small(), planner])
    with pytest.raises(InvalidInputError, match=message):
        graph.invoke({"task": "t", "documents": documents})
    assert planner.model.calls == []  # type: ignore[union-attr]


def test_validate_plan_rules_for_documents() -> None:
    per_doc = parse_plan({"subtasks": [{"id": "x", "instruction": "i", "per_document": True,
                                        "documents": ["a", "b", "c"]}]})
    with pytest.raises(Exception, match="runs 3 subtasks but at most 2 are allowed"):
        validate_plan(per_doc, tiers=["s"], max_subtasks=2, documents=["a", "b", "c"])
    empty = parse_plan({"subtasks": [{"id": "x", "instruction": "i", "per_document": True}]})
    with pytest.raises(Exception, match="runs per_document but names no documents"):
        validate_plan(empty, tiers=["s"], max_subtasks=5)
    clash = parse_plan({"subtasks": [
        {"id": "x", "instruction": "i", "per_document": True, "documents": ["a"]},
        {"id": "x/a", "instruction": "j"}]})
    with pytest.raises(Exception, match="'x/a' is used more than once"):
        validate_plan(clash, tiers=["s"], max_subtasks=5, documents=["a"])
    none = parse_plan({"subtasks": [{"id": "x", "instruction": "i", "documents": ["a"]}]})
    with pytest.raises(Exception, match="this run has no documents"):
        validate_plan(none, tiers=["s"], max_subtasks=5)


def test_structured_plans_must_decide_documents_when_there_are_documents() -> None:
    def required(model: type[PlanModel]) -> list[str]:
        schema = model.model_json_schema()
        return next(iter(schema["$defs"].values()))["required"]  # type: ignore[no-any-return]

    assert "per_document" in required(DocumentPlanModel)
    assert "documents" in required(DocumentPlanModel)
    assert "per_document" not in required(PlanModel)  # plans without documents stay short


TERMS = {"type": "object", "description": "the notice period",
         "properties": {"notice_days": {"type": "integer", "description": "days, as a number"}},
         "required": ["notice_days"]}


def test_named_schema_is_used_as_written() -> None:
    plan = {"subtasks": [{"id": "a", "instruction": "Find it", "documents": ["alpha"],
                          "expected_output": "terms"}]}
    planner = _planner(plan)
    small = _small(lambda m, t: json.dumps({"notice_days": 30}))
    out = create_tiered_graph(planner=planner, tiers=[small, planner],
                              schemas={"terms": TERMS}).invoke({"task": "t", "documents": DOCS})
    assert out["plan"]["subtasks"][0]["expected_output"] == TERMS
    assert out["results"]["a"]["output"] == {"notice_days": 30}
    system = planner.model.calls[0][0].content  # type: ignore[union-attr]
    assert "- terms: the notice period" in system
    assert '"description": "days, as a number"' in _prompts(small)[0]  # the worker sees it all


def test_unknown_schema_name_goes_back_to_the_planner() -> None:
    bad = {"subtasks": [{"id": "a", "instruction": "x", "expected_output": "nope"}]}
    good = {"subtasks": [{"id": "a", "instruction": "x", "expected_output": "terms"}]}
    planner = _planner(bad, good)
    small = _small(lambda m, t: '{"notice_days": 5}')
    out = create_tiered_graph(planner=planner, tiers=[small, planner],
                              schemas={"terms": TERMS}).invoke({"task": "t"})
    assert out["results"]["a"]["output"] == {"notice_days": 5}
    replan = last_text(planner.model.calls[1])  # type: ignore[union-attr]
    assert "names the schema 'nope', which does not exist; use one of ['terms']" in replan


def test_factory_checks_schemas_and_check_plan() -> None:
    planner = _planner({"subtasks": [{"id": "a", "instruction": "x"}]})
    with pytest.raises(ValueError, match=r"schemas\['bad'\]"):
        create_tiered_graph(planner=planner, tiers=[planner], schemas={"bad": {"type": 5}})
    with pytest.raises(TypeError, match="schemas must map names"):
        create_tiered_graph(planner=planner, tiers=[planner], schemas=[TERMS])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="check_plan must be a function"):
        create_tiered_graph(planner=planner, tiers=[planner], check_plan=5)  # type: ignore[arg-type]


def test_check_plan_sends_plans_back_with_its_problem() -> None:
    one = {"subtasks": [{"id": "a", "instruction": "x"}]}
    two = {"subtasks": [{"id": "a", "instruction": "x"}, {"id": "b", "instruction": "y"}]}

    def two_steps(plan: Any) -> str | None:
        return None if len(plan["subtasks"]) == 2 else "split the task into two subtasks"

    planner = _planner(one, two)
    out = create_tiered_graph(planner=planner, tiers=[_small(), planner],
                              check_plan=two_steps).invoke({"task": "t"})
    assert set(out["results"]) == {"a", "b"}
    assert "It is invalid: split the task into two subtasks" in last_text(
        planner.model.calls[1])  # type: ignore[union-attr]
    stubborn = _planner(one)
    with pytest.raises(PlanError, match="split the task into two subtasks"):
        create_tiered_graph(planner=stubborn, tiers=[_small(), stubborn],
                            check_plan=two_steps).invoke({"task": "t"})


def test_verifiers_see_the_subtask_documents() -> None:
    seen: list[dict[str, str]] = []

    def check(ctx: VerifyContext) -> Verdict:
        seen.append(dict(ctx.documents))
        return Verdict(True)

    plan = {"subtasks": [{"id": "a", "instruction": "Read", "documents": ["beta"]}]}
    planner = _planner(plan)
    create_tiered_graph(planner=planner, tiers=[_small(), planner],
                        verifier=FunctionVerifier(check)).invoke({"task": "t", "documents": DOCS})
    assert seen == [{"beta": DOCS["beta"]}]

