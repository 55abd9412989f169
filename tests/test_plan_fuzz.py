"""Any planner reply gives a plan or `PlanError`, fast: targeted worst cases, then fuzzing.

The fuzz runs every reply through a real tiered graph. A fast profile runs with the suite; the
long one (10,000+ replies) runs with `pytest -m fuzz`.
"""

from __future__ import annotations

import json
import random
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tiered_agents import PlanError, SubtaskFailedError, Tier, create_tiered_graph
from tiered_agents._json import extract_json
from tiered_agents.errors import PlanValidationError
from tiered_agents.plan import MAX_DEPTH, parse_plan, validate_plan
from tiered_agents.testing import FakeChatModel, last_text

TIERS = ["small", "frontier"]
MB = 1_000_000
VALID = {"subtasks": [{"id": "s1", "instruction": "a"},
                      {"id": "s2", "instruction": "b", "depends_on": ["s1"]}]}


def read(reply: Any) -> Any:
    return validate_plan(parse_plan(reply, max_subtasks=20), tiers=TIERS, max_subtasks=20)


# --- targeted worst cases ---------------------------------------------------------------------


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 900, 5_000, 200_000])
@pytest.mark.parametrize("shape", ["list", "object", "in-schema"])
def test_deep_nesting_is_a_plan_error_not_a_recursion_error(depth: int, shape: str) -> None:
    inner = "[" * depth + "]" * depth if shape != "object" else '{"a":' * depth + "1" + \
        "}" * depth
    reply = inner if shape != "in-schema" else (
        '{"subtasks": [{"id": "s1", "instruction": "x", "expected_output": ' + inner + "}]}")
    started = time.perf_counter()
    with pytest.raises(PlanValidationError, match=r"nested|deep|schema"):
        read(reply)
    assert time.perf_counter() - started < 1.0


SHAPES = {
    "open-fence-newlines": "```json" + "\n" * MB,
    "fences": "```" * (MB // 3),
    "open-braces": "{" * MB,
    "open-brackets": "[" * MB,
    "unclosed-array": "[" + "0," * (MB // 2),
    "nested-unclosed": "[1," * (MB // 3),
    "prose-with-braces": ("see {the} [notes] " * (MB // 18)),
    "quote-soup": '{"' * (MB // 2),
    "megabyte-string": json.dumps({"subtasks": [{"id": "s1", "instruction": "x" * MB}]}),
    "megabyte-fenced": "Plan:\n```json\n" + json.dumps(
        {"subtasks": [{"id": f"s{i}", "instruction": "y" * 40_000} for i in range(20)]}) + "\n```",
}


@pytest.mark.parametrize("name", list(SHAPES))
def test_a_megabyte_reply_of_any_shape_is_read_in_well_under_a_second(name: str) -> None:
    reply = SHAPES[name]
    started = time.perf_counter()
    try:
        read(reply)
    except PlanValidationError:
        pass
    assert time.perf_counter() - started < 0.5, name


def test_extraction_still_finds_json_in_prose_and_fences() -> None:
    text = json.dumps(VALID)
    for reply in (text, f"```json\n{text}\n```", f"Sure: {text} ok", f"```\n{text}```",
                  f"a [b] {{c}} then {text}", "```python\nx\n```\n" + f"```json\n{text}\n```"):
        assert extract_json(reply) == VALID


@pytest.mark.parametrize(
    ("schema", "message"),
    [pytest.param({"$ref": "#/definitions/nope"}, "resolves to nothing", id="dangling-ref"),
     pytest.param({"$ref": "https://example.com/s.json"}, "outside the schema", id="remote-ref"),
     pytest.param({"type": "objekt"}, "not a valid JSON schema", id="bad-type"),
     pytest.param({"properties": {"a": {"pattern": "("}}}, "not a valid JSON schema",
                  id="bad-regex"),
     pytest.param({"properties": {"a": {"$ref": "#/$defs/b"}}}, "resolves to nothing",
                  id="nested-dangling-ref")],
)
def test_expected_output_schemas_are_checked_when_the_plan_is(schema: Any, message: str) -> None:
    plan = {"subtasks": [{"id": "s1", "instruction": "x", "expected_output": schema}]}
    with pytest.raises(PlanValidationError, match=message):
        read(plan)
    good = {"$defs": {"b": {"type": "string"}}, "properties": {"a": {"$ref": "#/$defs/b"}}}
    read({"subtasks": [{"id": "s1", "instruction": "x", "expected_output": good}]})


def test_an_invalid_schema_goes_back_to_the_planner_and_costs_no_worker_call() -> None:
    bad = {"subtasks": [{"id": "s1", "instruction": "x",
                         "expected_output": {"$ref": "#/definitions/nope"}}]}
    good = {"subtasks": [{"id": "s1", "instruction": "x"}]}
    replies = [json.dumps(bad), json.dumps(good)]
    asked: list[str] = []

    def planner(messages: Any, tools: Any) -> str:
        if "Subtask results" in last_text(messages):
            return "FINAL"
        asked.append(last_text(messages))
        return replies.pop(0)

    worker = FakeChatModel(respond=lambda m, t: "done")
    big = Tier("frontier", FakeChatModel(respond=planner))
    out = create_tiered_graph(planner=big, tiers=[Tier("small", worker), big]).invoke(
        {"task": "t"})
    assert out["answer"] == "FINAL" and len(asked) == 2
    assert "resolves to nothing" in asked[1]
    assert len(worker.calls) == 1


def test_surrogates_and_nul_bytes_do_not_break_the_run_or_its_checkpoint() -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    reply = '{"subtasks": [{"id": "s1", "instruction": "a\\ud800b\\u0000c"}]}'
    out = run_graph(reply, checkpointer=InMemorySaver())
    assert out["plan"]["subtasks"][0]["instruction"] == "a\ufffdb\x00c"


# --- fuzzing through the graph ----------------------------------------------------------------


def run_graph(reply: str, **kw: Any) -> dict[str, Any]:
    def planner(messages: Any, tools: Any) -> str:
        return "FINAL" if "Subtask results" in last_text(messages) else reply

    big = Tier("frontier", FakeChatModel(respond=planner))
    small = Tier("small", FakeChatModel(respond=lambda m, t: "{}"))
    graph = create_tiered_graph(planner=big, tiers=[small, big], **kw)
    config = {"configurable": {"thread_id": "fuzz"}} if kw.get("checkpointer") else None
    out: dict[str, Any] = graph.invoke({"task": "t"}, config)
    return out


SLOWEST: list[float] = [0.0]


def outcome(reply: str) -> str:
    """Runs one reply: 'completed', 'plan-error', or 'schema-unmet' (the fake worker's `{}`
    cannot meet the plan's expected_output: a clear SubtaskFailedError, not a crash)."""
    started = time.perf_counter()
    try:
        out = run_graph(reply)
        result = "completed" if out.get("answer") == "FINAL" else "no-answer"
    except PlanError:
        result = "plan-error"
    except SubtaskFailedError as exc:
        errors = [a["error"] or "" for r in exc.results.values() for a in r["attempts"]]
        result = "schema-unmet" if all("expected_output" in e for e in errors) else "failed"
    seconds = time.perf_counter() - started
    SLOWEST[0] = max(SLOWEST[0], seconds)
    assert seconds < 5.0, (seconds, reply[:200])
    assert result in ("completed", "plan-error", "schema-unmet"), (result, reply[:200])
    return result


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(), children,
                                                                       max_size=5),
    max_leaves=30)
IDS = st.sampled_from(["s1", "s2", "s3", "", "s1 ", "\x00", "\ud800", 7, None])
SUBTASK = st.fixed_dictionaries({
    "id": IDS,
    "instruction": st.text() | st.integers() | st.none(),
}, optional={
    "depends_on": st.lists(IDS, max_size=4) | st.text() | JSON,
    "tier": st.sampled_from(["small", "frontier", "huge", "", None, 3]),
    "expected_output": st.sampled_from([None, {"type": "object"}, {"type": "objekt"},
                                        {"$ref": "#/nope"}, {"required": ["a"]}, []]) | JSON,
    "acceptance": st.text() | JSON,
})
PLAN = st.fixed_dictionaries({"subtasks": st.lists(SUBTASK, max_size=6) | JSON})
REPLY = st.one_of(
    PLAN.map(json.dumps),
    PLAN.map(lambda p: f"Here:\n```json\n{json.dumps(p)}\n```\nDone."),
    st.lists(SUBTASK, max_size=4).map(json.dumps),
    JSON.map(json.dumps),
    st.text(),
    PLAN.map(json.dumps).flatmap(lambda s: st.integers(0, len(s)).map(lambda i: s[:i])),
)


def random_reply(rng: random.Random) -> str:
    """Adversarial replies that hypothesis rarely builds: sizes, depth, cycles, bytes."""
    n = rng.randrange(1, 8)
    subtasks: list[Any] = [{"id": f"s{i}", "instruction": f"do {i}"} for i in range(n)]
    kind = rng.randrange(12)
    if kind == 0:  # a cycle
        for i in range(n):
            subtasks[i]["depends_on"] = [f"s{(i + 1) % n}"]
    elif kind == 1:  # a huge list
        subtasks = subtasks * rng.choice([100, 2_000, 20_000])
    elif kind == 2:  # deep nesting somewhere (built as text: too deep for json.dumps)
        depth = rng.choice([30, 60, 500, 3_000])
        subtasks[0]["expected_output"] = "@DEEP@"
        deep = '{"a":' * depth + "1" + "}" * depth if rng.random() < 0.5 else \
            "[" * depth + "]" * depth
    elif kind == 3:  # a megabyte string
        subtasks[rng.randrange(n)]["instruction"] = "z" * rng.choice([10_000, MB])
    elif kind == 4:  # unknown tiers
        subtasks[0]["tier"] = rng.choice(["huge", "", "SMALL", "frontier "])
    elif kind == 5:  # wrong types
        subtasks[0][rng.choice(["id", "instruction", "depends_on", "tier"])] = rng.choice(
            [1, 2.5, None, [], {}, True])
    elif kind == 6:  # NUL bytes and lone surrogates
        subtasks[0]["instruction"] = "a\x00b\ud800c\udfff"
    elif kind == 7:  # dependencies on unknown or self
        subtasks[-1]["depends_on"] = rng.choice([["nope"], [subtasks[-1]["id"]], "s1"])
    elif kind == 8:  # schemas
        subtasks[0]["expected_output"] = rng.choice([{"$ref": "#/definitions/x"},
                                                     {"type": 5}, {"minimum": "a"},
                                                     {"type": "object", "required": []}])
    text = json.dumps({"subtasks": subtasks}, ensure_ascii=rng.random() < 0.5)
    if kind == 2:
        text = text.replace('"@DEEP@"', deep)
    if kind == 9:  # random truncation
        text = text[:rng.randrange(len(text) + 1)]
    elif kind == 10:  # random bytes
        text = bytes(rng.randrange(256) for _ in range(rng.randrange(2_000))).decode(
            "utf-8", "replace")
    wrap = rng.randrange(4)
    if wrap == 1:
        text = f"```json\n{text}\n```"
    elif wrap == 2:
        text = f"Sure! {text} Hope this helps {{"
    elif wrap == 3:
        text = "```" + text  # an unclosed fence
    return text


def _fuzz_random(count: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    tally: dict[str, int] = {}
    for _ in range(count):
        result = outcome(random_reply(rng))
        tally[result] = tally.get(result, 0) + 1
    return tally


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(REPLY)
def test_fuzzed_replies_fast_profile(reply: str) -> None:
    outcome(reply)


def test_random_adversarial_replies_fast_profile() -> None:
    tally = _fuzz_random(400, seed=11)
    assert tally.get("completed", 0) > 0 and tally.get("plan-error", 0) > 0


@pytest.mark.fuzz
@settings(max_examples=5_000, deadline=None, suppress_health_check=list(HealthCheck))
@given(REPLY)
def test_fuzzed_replies_long_profile(reply: str) -> None:
    outcome(reply)


@pytest.mark.fuzz
def test_random_adversarial_replies_long_profile() -> None:
    started = time.perf_counter()
    tally = _fuzz_random(6_000, seed=2026)
    print(f"\nrandom adversarial replies: {tally} in {time.perf_counter() - started:.0f} s; "
          f"slowest case so far {SLOWEST[0]:.2f} s")
    assert sum(tally.values()) == 6_000
