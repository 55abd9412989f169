"""The demo's checks and scoring: grounded values (numbers, amounts and dates normalised),
JSON that arrives as text, and the plan rule."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tiered_agents import Tier
from tiered_agents.cli.contracts import make_contracts
from tiered_agents.cli.demo import field_accuracy, grounded_fields, plan_covers
from tiered_agents.testing import FakeChatModel
from tiered_agents.verifiers import VerifyContext

CONTRACT = make_contracts(1)[0]
TRUTH = dict(CONTRACT.answers)


def _check(answer: Any, documents: dict[str, str] | None = None) -> Any:
    tier = Tier("small", FakeChatModel(responses=["x"]))
    ctx = VerifyContext(request="extract", answer=answer, tier=tier,
                        documents={CONTRACT.id: CONTRACT.text} if documents is None else documents)
    return grounded_fields().check(ctx)


def test_exact_values_are_grounded() -> None:
    assert _check(TRUTH).passed
    assert _check(json.dumps(TRUTH)).passed  # JSON that arrives as text


@pytest.mark.parametrize(("field", "value"), [
    ("notice_days", f"{TRUTH['notice_days']} days' written notice"),  # contains the right text
    ("notice_days", "17"),
    ("monthly_fee", TRUTH["monthly_fee"].replace(TRUTH["monthly_fee"][:3], "XYZ")),
    ("effective_date", "1 January 1999"),
    ("governing_law", "the laws of Mars"),
])
def test_wrong_values_are_not_grounded(field: str, value: str) -> None:
    verdict = _check({**TRUTH, field: value})
    assert not verdict.passed and field in verdict.reason


def test_equivalent_formats_are_grounded_and_scored_right() -> None:
    currency, amount = TRUTH["monthly_fee"].split(" ")
    reformatted = {**TRUTH, "monthly_fee": f"{amount.replace(',', '')} {currency}",
                   "term_months": int(TRUTH["term_months"]),
                   "notice_days": float(TRUTH["notice_days"])}
    assert _check(reformatted).passed
    state = {"plan": {"subtasks": [{"id": "e/x", "documents": [CONTRACT.id]}]},
             "results": {"e/x": {"output": json.dumps(reformatted)}}}
    fields, correct = field_accuracy(state, [CONTRACT])
    assert correct == 7 and fields[CONTRACT.id]["term_months"] == int(TRUTH["term_months"])


def test_scoring_counts_numbers_with_words_as_wrong() -> None:
    sloppy = {**TRUTH, "notice_days": f"{TRUTH['notice_days']} days"}
    state = {"plan": {"subtasks": [{"id": CONTRACT.id, "documents": []}]},
             "results": {CONTRACT.id: {"output": "```json\n" + json.dumps(sloppy) + "\n```"}}}
    assert field_accuracy(state, [CONTRACT])[1] == 6
    assert field_accuracy({"results": {}}, [CONTRACT])[1] == 0  # no subtask read it


def test_missing_fields_and_prose_are_rejected() -> None:
    verdict = _check({k: v for k, v in TRUTH.items() if k != "client"})
    assert not verdict.passed and "client missing" in verdict.reason
    assert _check("The provider is Acme.").reason == "not a JSON object"
    assert not _check(TRUTH, documents={}).passed


def test_plan_rule_names_the_fix() -> None:
    contracts = make_contracts(2)
    rule = plan_covers(contracts)
    together = {"subtasks": [{"id": "s1", "documents": [c.id for c in contracts],
                              "expected_output": None}]}
    assert '"per_document": true' in (rule(together) or "")  # type: ignore[arg-type]
    untyped = {"subtasks": [{"id": f"s1/{c.id}", "documents": [c.id], "expected_output": None}
                            for c in contracts]}
    assert '"key_terms"' in (rule(untyped) or "")  # type: ignore[arg-type]
