"""Plan parsing and validation, table-driven."""

from __future__ import annotations

import json

import pytest

from tiered_agents.errors import PlanValidationError
from tiered_agents.plan import PlanModel, find_subtask, parse_plan, validate_plan

VALID = {"subtasks": [{"id": "s1", "instruction": "a"},
                      {"id": "s2", "instruction": "b", "depends_on": ["s1"], "tier": "small",
                       "expected_output": {"type": "object"}, "acceptance": "has keys"}]}
TEXT = json.dumps(VALID)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(VALID, id="dict"),
        pytest.param(TEXT, id="bare-json"),
        pytest.param(f"```json\n{TEXT}\n```", id="code-fence"),
        pytest.param(f"```\n{TEXT}\n```", id="unlabelled-fence"),
        pytest.param(f"Sure! Here is the plan:\n{TEXT}\nLet me know.", id="prose-around"),
        pytest.param(f"Plan below.\n```json\n{TEXT}\n```\nThat's all.", id="prose-and-fence"),
        pytest.param(json.dumps(VALID["subtasks"]), id="bare-list"),
        pytest.param(PlanModel.model_validate(VALID), id="plan-model"),
    ],
)
def test_parse_accepts(raw: object) -> None:
    plan = validate_plan(parse_plan(raw), tiers=["small", "frontier"], max_subtasks=20)
    assert [s["id"] for s in plan["subtasks"]] == ["s1", "s2"]
    assert find_subtask(plan, "s2")["depends_on"] == ["s1"]
    assert find_subtask(plan, "s2")["expected_output"] == {"type": "object"}
    assert find_subtask(plan, "s1")["tier"] is None


def sub(i: str, deps: list[str] | None = None, **kw: object) -> dict:
    return {"id": i, "instruction": f"do {i}", "depends_on": deps or [], **kw}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param("I cannot plan this.", "no JSON object found", id="no-json"),
        pytest.param('{"steps": []}', "subtasks", id="wrong-key"),
        pytest.param('{"subtasks": [{"id": "s1"}]}', "instruction", id="missing-field"),
        pytest.param("42", "must be a JSON object", id="not-an-object"),
        pytest.param({"subtasks": []}, "no subtasks", id="empty"),
        pytest.param({"subtasks": [sub("a"), sub("a")]}, "'a' is used more than once",
                     id="duplicate-id"),
        pytest.param({"subtasks": [sub("a", ["zz"])]}, "unknown subtask(s) ['zz']",
                     id="unknown-dependency"),
        pytest.param({"subtasks": [sub("a", ["a"])]}, "depends on itself", id="self-loop"),
        pytest.param({"subtasks": [sub("a", ["c"]), sub("b", ["a"]), sub("c", ["b"])]},
                     "cycle: a -> c -> b -> a", id="cycle"),
        pytest.param({"subtasks": [sub("a", tier="huge")]}, "tier 'huge', which does not exist",
                     id="unknown-tier"),
        pytest.param({"subtasks": [sub(str(i)) for i in range(4)]}, "at most 3",
                     id="too-many"),
    ],
)
def test_parse_rejects_with_exact_problem(raw: object, message: str) -> None:
    with pytest.raises(PlanValidationError) as caught:
        validate_plan(parse_plan(raw), tiers=["small", "frontier"], max_subtasks=3)
    assert message in str(caught.value)
