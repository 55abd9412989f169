"""The provider-aware retry classifier, and per-call retries under injected faults."""

from __future__ import annotations

import email.utils
import time
from typing import Any

import anthropic
import httpx
import openai
import pytest
from langgraph.types import RetryPolicy
from pydantic import BaseModel, ValidationError

from tiered_agents import PlanError, Tier, create_cascade, create_tiered_graph
from tiered_agents.retry import default_retry_policy, is_transient, retry_after, retry_delay
from tiered_agents.testing import (
    THREE_STEP_PLAN,
    FakeChatModel,
    TransientFaults,
    echo_worker,
    planner_responder,
)

URL = "https://api.example.com/v1/chat/completions"


def response(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, headers=headers or {}, request=httpx.Request("POST", URL))


def http_error(status: int, headers: dict[str, str] | None = None) -> httpx.HTTPStatusError:
    return httpx.HTTPStatusError(f"HTTP {status}", request=httpx.Request("POST", URL),
                                 response=response(status, headers))


def openai_error(cls: type[openai.APIStatusError], status: int) -> openai.APIStatusError:
    return cls(f"Error code: {status}", response=response(status), body=None)


def anthropic_error(status: int) -> anthropic.APIStatusError:
    return anthropic.APIStatusError(f"Error code: {status}", response=response(status), body=None)


def scripted(*replies: Any, **kw: Any) -> FakeChatModel:
    """A fake that answers `replies` in order (exceptions are raised), then repeats the last."""
    queue = list(replies)
    return FakeChatModel(respond=lambda m, t: queue.pop(0) if len(queue) > 1 else queue[0], **kw)


class _Model(BaseModel):
    x: int


def _validation_error() -> ValidationError:
    try:
        _Model.model_validate({"x": "no"})
    except ValidationError as exc:
        return exc
    raise AssertionError("unreachable")


TRANSIENT = [*(pytest.param(http_error(s), id=f"httpx-{s}")
               for s in (408, 409, 425, 429, 500, 502, 503, 504, 529)),
             pytest.param(openai_error(openai.RateLimitError, 429), id="openai-429"),
             pytest.param(openai_error(openai.InternalServerError, 500), id="openai-500"),
             pytest.param(openai.APIConnectionError(request=httpx.Request("POST", URL)),
                          id="openai-connection"),
             pytest.param(openai.APITimeoutError(request=httpx.Request("POST", URL)),
                          id="openai-timeout"),
             pytest.param(anthropic_error(529), id="anthropic-529-overloaded"),
             pytest.param(anthropic.RateLimitError("slow down", response=response(429),
                                                   body=None), id="anthropic-429"),
             pytest.param(anthropic.APIConnectionError(request=httpx.Request("POST", URL)),
                          id="anthropic-connection"),
             pytest.param(httpx.ConnectError("refused"), id="httpx-connect"),
             pytest.param(httpx.ReadTimeout("slow"), id="httpx-read-timeout"),
             pytest.param(httpx.RemoteProtocolError("closed"), id="httpx-protocol"),
             pytest.param(TimeoutError(), id="builtin-timeout"),
             pytest.param(ConnectionResetError(), id="builtin-connection-reset")]

PERMANENT = [*(pytest.param(http_error(s), id=f"httpx-{s}") for s in (400, 401, 403, 404, 422)),
             pytest.param(openai_error(openai.BadRequestError, 400), id="openai-400"),
             pytest.param(openai_error(openai.AuthenticationError, 401), id="openai-401"),
             pytest.param(openai_error(openai.PermissionDeniedError, 403), id="openai-403"),
             pytest.param(openai_error(openai.NotFoundError, 404), id="openai-404"),
             pytest.param(openai_error(openai.UnprocessableEntityError, 422), id="openai-422"),
             pytest.param(anthropic_error(401), id="anthropic-401"),
             pytest.param(_validation_error(), id="pydantic-validation"),
             pytest.param(ValueError("bad"), id="value-error"),
             pytest.param(KeyError("k"), id="key-error"),
             pytest.param(RuntimeError("boom"), id="runtime-error"),
             pytest.param(PlanError("no plan"), id="our-own-error")]


@pytest.mark.parametrize("exc", TRANSIENT)
def test_transient_errors_are_retried(exc: Exception) -> None:
    assert is_transient(exc)
    assert retry_delay(default_retry_policy(), exc, 1) is not None


@pytest.mark.parametrize("exc", PERMANENT)
def test_permanent_errors_are_not_retried(exc: Exception) -> None:
    assert not is_transient(exc)
    assert retry_delay(default_retry_policy(), exc, 1) is None


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [pytest.param({"retry-after": "2"}, 2.0, id="seconds"),
     pytest.param({"retry-after": "0.5"}, 0.5, id="fraction"),
     pytest.param({"retry-after-ms": "150"}, 0.15, id="milliseconds"),
     pytest.param({"retry-after": "soon"}, None, id="garbage"),
     pytest.param({}, None, id="absent")],
)
def test_retry_after_header(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after(http_error(429, headers)) == seconds


def test_retry_after_http_date_and_delay_policy() -> None:
    when = email.utils.formatdate(time.time() + 5, usegmt=True)
    assert 3.5 < (retry_after(http_error(503, {"retry-after": when})) or 0) <= 5
    policy = default_retry_policy()
    assert retry_delay(policy, http_error(429, {"retry-after": "2"}), 1) == 2.0
    assert retry_delay(policy, http_error(429, {"retry-after": "999"}), 1) == policy.max_interval
    for tries in (1, 2, 3):  # jittered exponential backoff without a header
        full = policy.initial_interval * policy.backoff_factor ** (tries - 1)
        assert full / 2 <= (retry_delay(policy, TimeoutError(), tries) or -1) <= full
    assert retry_delay(policy, TimeoutError(), policy.max_attempts) is None


def test_runs_complete_under_20_percent_transient_faults_with_default_settings() -> None:
    small_faults = TransientFaults(echo_worker, rate=0.2, seed=1, timeouts=False)
    big_faults = TransientFaults(planner_responder([THREE_STEP_PLAN]), rate=0.2, seed=2,
                                 timeouts=False)
    small = Tier("small", FakeChatModel(respond=small_faults, model_name="gpt-5-mini"))
    big = Tier("frontier", FakeChatModel(respond=big_faults, model_name="claude-opus-4-7"))
    graph = create_tiered_graph(planner=big, tiers=[small, big])  # default retry policy
    outs = graph.batch([{"task": f"review batch {i}"} for i in range(20)],
                       config={"max_concurrency": 20})
    assert all(out["answer"] for out in outs)
    attempts = [a for out in outs for r in out["results"].values() for a in r["attempts"]]
    assert len(attempts) == 60 and all(a["tier"] == "small" for a in attempts)  # 0 escalations
    assert small_faults.injected + big_faults.injected >= 10  # the faults did happen


def test_langgraphs_default_retry_on_would_escalate_on_the_same_faults() -> None:
    """The control for the test above: LangGraph's default `retry_on` does not retry an HTTP
    429 raised as `httpx.HTTPStatusError`, so the worker escalates."""
    small = Tier("small", scripted(http_error(429, {"retry-after": "0"}), "done",
                                   model_name="gpt-5-mini"))
    big = Tier("frontier", FakeChatModel(respond=planner_responder(
        [{"subtasks": [{"id": "s1", "instruction": "x"}]}]), model_name="claude-opus-4-7"))
    out = create_tiered_graph(planner=big, tiers=[small, big], retry_policy=RetryPolicy(
        initial_interval=0.001)).invoke({"task": "t"})
    assert [a["tier"] for a in out["results"]["s1"]["attempts"]] == ["small", "frontier"]
    small = Tier("small", scripted(http_error(429, {"retry-after": "0"}), "done",
                                   model_name="gpt-5-mini"))
    out = create_tiered_graph(planner=big, tiers=[small, big]).invoke({"task": "t"})
    assert [a["tier"] for a in out["results"]["s1"]["attempts"]] == ["small"]


def test_a_permanent_error_costs_one_call_and_fails_fast_with_the_providers_message() -> None:
    planner = scripted(openai_error(openai.AuthenticationError, 401),
                       model_name="claude-opus-4-7")
    big = Tier("frontier", planner)
    graph = create_tiered_graph(planner=big, tiers=[Tier("small", FakeChatModel()), big])
    started = time.perf_counter()
    with pytest.raises(openai.AuthenticationError, match="Error code: 401"):
        graph.invoke({"task": "t"})
    assert len(planner.calls) == 1 and time.perf_counter() - started < 1.0

    cascade = create_cascade([Tier("only", model := scripted(
        openai_error(openai.BadRequestError, 400)))])
    with pytest.raises(Exception, match="Error code: 400"):
        cascade.invoke({"messages": [("user", "q")]})
    assert len(model.calls) == 1


async def test_async_calls_are_retried_too() -> None:
    model = scripted(http_error(503, {"retry-after": "0"}),
                     http_error(429, {"retry-after-ms": "1"}), "Lima")
    out = await create_cascade([Tier("only", model)]).ainvoke({"messages": [("user", "q")]})
    assert out["answer"] == "Lima" and len(model.calls) == 3
    assert len(out["attempts"]) == 1 and out["attempts"][0]["error"] is None


def test_retry_policy_argument_is_checked() -> None:
    small = Tier("small", FakeChatModel())
    with pytest.raises(TypeError, match=r"retry_policy must be a langgraph\.types\.RetryPolicy"):
        create_cascade([small], retry_policy={"max_attempts": 3})  # type: ignore[arg-type]


def test_verifier_calls_are_retried_too() -> None:
    from tiered_agents import EscalationPolicy
    from tiered_agents.verifiers import SelfCheckVerifier

    small = scripted("Lima", http_error(503, {"retry-after": "0"}), "Y")
    big = FakeChatModel(respond=lambda m, t: "LIMA")
    cascade = create_cascade([Tier("small", small), Tier("frontier", big)],
                             verifier=SelfCheckVerifier(), escalation=EscalationPolicy())
    out = cascade.invoke({"messages": [("user", "What is the capital of Peru?")]})
    assert out["answer"] == "Lima" and big.calls == [] and len(small.calls) == 3


def test_control_flow_is_never_retried_even_by_a_retry_everything_policy() -> None:
    from langgraph.errors import GraphInterrupt

    from tiered_agents.errors import BudgetStopped

    everything = RetryPolicy(retry_on=lambda exc: True)
    for exc in (GraphInterrupt(), BudgetStopped("spent"), PlanError("bad")):
        assert retry_delay(everything, exc, 1) is None
    assert retry_delay(everything, ValueError("x"), 1) is not None
