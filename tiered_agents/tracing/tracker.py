"""`CostTracker`: a LangChain callback handler that turns a LangGraph run into OpenTelemetry
spans and a cost report, attributing every token and dollar to its node, subtask and tier.

It works on any LangGraph app: nodes are recognised from LangGraph's own run metadata, and
tiered-agents' extra keys (`tiered_agents.attributes`) add tiers and subtasks where present.
Spans are started with explicit parents and kept in a `run_id` map (no context is attached
inside callbacks), so parallel `Send` tasks and `ainvoke` nest correctly. A node's span is made
when the node ends (earlier only if a child such as a tool needs it as a parent), and the spans
of the model calls that ended before it right after, with their own start and end times: each
span gets all its attributes, the node's totals included, in one go. Telemetry errors are
logged and never reach the run.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlsplit
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import LLMResult
from langgraph.errors import GraphBubbleUp
from opentelemetry import metrics, trace
from opentelemetry.semconv._incubating.attributes import (  # noqa: PLC2701 - GenAI constants
    gen_ai_attributes as gen_ai,
)
from opentelemetry.semconv._incubating.metrics import (  # noqa: PLC2701 - GenAI metrics
    gen_ai_metrics,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.exception_attributes import EXCEPTION_TYPE
from opentelemetry.semconv.attributes.server_attributes import SERVER_ADDRESS, SERVER_PORT
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

import tiered_agents.attributes as attr
from tiered_agents.pricing import Price, PriceLookup, price_result
from tiered_agents.retry import status_code
from tiered_agents.tiers import Tier, reference_of
from tiered_agents.tracing.report import CallRecord, CostReport
from tiered_agents.usage import Usage

__all__ = ["CAPTURE_CONTENT_ENV", "CostTracker"]

logger = logging.getLogger(__name__)

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
COST_AMOUNT = "gen_ai.usage.cost.amount"
"""Proposed GenAI attribute (no released semconv constant yet)."""
COST_CURRENCY = "gen_ai.usage.cost.currency"
"""Proposed GenAI attribute (no released semconv constant yet)."""
AGENT_ROLES = frozenset({"planner", "worker", "synthesizer", "verify", "advisor", "executor"})
TIER_TAG = f"{attr.TIER}:"
"""A model's own tier, as a LangChain tag: `model.with_config(tags=["tiered_agents.tier:small"])`.
Tags add up where metadata is overridden, so a run-level `config["metadata"]` cannot relabel
it."""
SPAN_KIND = "openinference.span.kind"
"""What Phoenix (OpenInference) reads to label a span: CHAIN, AGENT, LLM or TOOL."""
PROVIDER_NAMES = {
    "azure": "azure.ai.openai", "azure_openai": "azure.ai.openai",
    "azure_ai": "azure.ai.inference", "google_genai": "gcp.gemini",
    "google_vertexai": "gcp.vertex_ai", "google_anthropic_vertex": "gcp.vertex_ai",
    "bedrock": "aws.bedrock", "bedrock_converse": "aws.bedrock", "mistralai": "mistral_ai",
    "xai": "x_ai", "ibm": "ibm.watsonx.ai", "watsonx": "ibm.watsonx.ai",
    "perplexity": "perplexity", "moonshot": "moonshot_ai",
}
"""LangChain provider ids (`ls_provider`) to the GenAI conventions' `gen_ai.provider.name`;
ids not listed (openai, anthropic, groq, deepseek, cohere, ...) are the same in both."""
_CALL_KEYS = (attr.TIER, attr.SUBTASK_ID, attr.ATTEMPT)
"""What a call's metadata says of its place in a tiered run, copied to its span."""
_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}
_BASE_URL_KEYS = ("base_url", "openai_api_base", "anthropic_api_url", "api_base", "endpoint",
                  "azure_endpoint")

F = TypeVar("F", bound=Callable[..., Any])


def _never_raise(method: F) -> F:
    @functools.wraps(method)
    def wrapper(self: CostTracker, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except Exception:  # telemetry must never break a run
            logger.warning("tiered-agents tracing failed in %s", method.__name__, exc_info=True)
            return None

    return wrapper  # type: ignore[return-value]


class _Run:
    """A LangChain run the tracker knows: its span (if it has one) and what it aggregates.

    A plain class with slots, not a dataclass: the tracker makes about two per model call, and
    a dataclass's default factories cost as much as the rest of the bookkeeping.
    """

    __slots__ = ("attributed", "attributes", "context", "end_ns", "kind", "metadata", "model",
                 "name", "owner", "parent", "pending", "provider", "records", "span",
                 "start_ns", "started", "total")

    def __init__(self, span: Span | None, parent: _Run | None, kind: str,
                 metadata: dict[str, Any]) -> None:
        self.span = span
        """Its span; a node's is made when something under it needs a parent (or when it
        ends), so that its attributes, totals included, go in at once."""
        self.parent = parent
        self.kind = kind
        self.metadata = metadata
        self.owner: _Run | None = self if span is not None or kind == "node" else (
            parent.owner if parent is not None else None)
        """The nearest run with a span (made or to be made) at or above this one."""
        self.model: str | None = None
        self.provider: str | None = None
        self.name = ""
        """Its span's name, for spans made later than the run starts."""
        self.started = 0.0
        self.start_ns = 0
        self.end_ns: int | None = None
        self.attributes: dict[str, Any] = {}
        """Span attributes gathered before the span is made (chat and node runs)."""
        self.context: Any = None
        """The OpenTelemetry context with this run's span, made once for all its children."""
        self.attributed = False
        self.total = Usage()
        """What the model calls below it used (runs that own spans)."""
        self.records: list[int] = []
        """Indices (in the tracker's call list) of the model calls below this run, so that an
        attempt's outcome, announced on its node's run, reaches every call it made."""
        self.pending: list[_Run] | None = None
        """Ended chat runs waiting for this node's span, to be made when the node ends (with
        its totals at once) or when another child needs it first."""


def _is_node(name: str | None, tags: Sequence[str] | None, metadata: dict[str, Any]) -> bool:
    node = metadata.get("langgraph_node")
    if not node or name != node:
        return False
    for tag in tags or ():  # a loop, not any(): this runs for every run of every graph
        if tag.startswith("graph:step:"):
            return True
    return False


def _role(metadata: dict[str, Any]) -> str | None:
    role = metadata.get(attr.ROLE)
    return role if isinstance(role, str) else None


def _node_name(metadata: dict[str, Any]) -> str:
    return _role(metadata) or str(metadata.get("langgraph_node") or "(no node)")


def _tiers_by_model(tiers: Sequence[Tier] | None) -> dict[str, Tier]:
    by_model: dict[str, Tier] = {}
    for tier in tiers or ():
        if not isinstance(tier, Tier):
            raise TypeError(f"CostTracker(tiers=...) takes Tier objects, got {tier!r}.")
        other = by_model.setdefault(tier.model_name, tier)
        if other.name != tier.name:
            raise ValueError(f"Tiers {other.name!r} and {tier.name!r} both use the model "
                             f"{tier.model_name!r}: the tracker cannot tell their calls apart.")
    return by_model


def node_path(metadata: dict[str, Any], name: str | None = None) -> str:
    """Where a call ran: the subgraph nodes it runs inside (from LangGraph's checkpoint
    namespace, task ids dropped), then its own node's name (`name`, when the caller has it),
    or its tiered role where it has one: `"planner"`, `"supervisor/agent"`,
    `"research_expert/agent"`, `"review/worker"`."""
    name = name or _node_name(metadata)
    namespace = metadata.get("langgraph_checkpoint_ns")
    if not isinstance(namespace, str) or "|" not in namespace:  # not inside a subgraph
        return name
    outer = [part.split(":", 1)[0] for part in namespace.split("|")][:-1]
    return "/".join([*outer, name])


def _parts(message: BaseMessage) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if message.type == "tool":
        return [{"type": "tool_call_response", "id": getattr(message, "tool_call_id", None),
                 "response": message.text}]
    if message.text:
        parts.append({"type": "text", "content": message.text})
    for call in getattr(message, "tool_calls", None) or []:
        parts.append({"type": "tool_call", "id": call.get("id"), "name": call.get("name"),
                      "arguments": call.get("args")})
    return parts


def _messages_json(messages: Sequence[BaseMessage], finish_reason: str | None = None) -> str:
    """Messages in the GenAI conventions' message JSON: roles user/assistant/system/tool,
    text, tool_call and tool_call_response parts, and the finish reason on output messages."""
    shaped = []
    for message in messages:
        item: dict[str, Any] = {"role": _ROLES.get(message.type, message.type),
                                "parts": _parts(message)}
        if finish_reason is not None:
            item["finish_reason"] = finish_reason
        shaped.append(item)
    return json.dumps(shaped, ensure_ascii=False, default=str)


def _server(serialized: dict[str, Any] | None) -> tuple[str, int] | None:
    """The host and port a chat model's client calls, when it says (its base URL)."""
    settings = (serialized or {}).get("kwargs") or {}
    for key in _BASE_URL_KEYS:
        url = settings.get(key)
        if isinstance(url, str) and "://" in url:
            parts = urlsplit(url)
            if parts.hostname:
                return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    return None


def _in_baseline(role: str | None, meta: dict[str, Any]) -> bool:
    """Whether a call stands in the frontier-only baseline when it is recorded.

    Verifier and advisor calls never do (the frontier alone would not make them); an attempt's
    worker calls wait for the attempt's outcome (`attempt_outcome`); everything else, and every
    call of a plain LangGraph app, counts once.
    """
    if role in ("verify", "advisor"):
        return False
    return not (role == "worker" and meta.get(attr.ATTEMPT) is not None)


_SCOPE = __name__.partition(".")[0]  # "tiered_agents": the instrumentation scope
_PROVIDERS_LOCK = threading.Lock()
_TRACERS: weakref.WeakKeyDictionary[Any, trace.Tracer] = weakref.WeakKeyDictionary()
_INSTRUMENTS: weakref.WeakKeyDictionary[Any, tuple[Any, Any, Any]] = \
    weakref.WeakKeyDictionary()
"""One tracer and one set of instruments per provider, for every tracker: a tracker per run
must not make new ones each time (OpenTelemetry's global proxy provider keeps every meter it
hands out until a real provider is set)."""


def _shared(cache: weakref.WeakKeyDictionary[Any, Any], provider: Any,
            make: Callable[[Any], Any]) -> Any:
    """`make(provider)`, once per provider (every time for a provider without weak refs)."""
    with _PROVIDERS_LOCK:
        with contextlib.suppress(KeyError, TypeError):
            return cache[provider]
        made = make(provider)
        with contextlib.suppress(TypeError):
            cache[provider] = made
        return made


def _tracer(provider: trace.TracerProvider | None) -> trace.Tracer:
    tracer: trace.Tracer = _shared(
        _TRACERS, provider or trace.get_tracer_provider(),
        lambda p: trace.get_tracer(_SCOPE, tracer_provider=p))
    return tracer


def _new_instruments(provider: metrics.MeterProvider) -> tuple[Any, Any, Any]:
    meter = metrics.get_meter(_SCOPE, meter_provider=provider)
    return (gen_ai_metrics.create_gen_ai_client_token_usage(meter),
            gen_ai_metrics.create_gen_ai_client_operation_duration(meter),
            meter.create_counter("tiered_agents.client.cost", unit="{USD}",
                                 description="Cost of GenAI model calls in US dollars."))


def _instruments(provider: metrics.MeterProvider | None) -> tuple[Any, Any, Any]:
    instruments: tuple[Any, Any, Any] = _shared(
        _INSTRUMENTS, provider or metrics.get_meter_provider(), _new_instruments)
    return instruments


class CostTracker(BaseCallbackHandler):
    """Trace a LangGraph run in OpenTelemetry and report its cost by node, tier and subtask.

    Example:
        ```python
        tracker = CostTracker(tracer_provider=provider)
        out = graph.invoke({"task": "..."}, config={"callbacks": [tracker]})
        print(tracker.report().table())
        ```

    A tracker keeps a record of every call it saw until `reset()`, so that `report()` can
    cover several runs: in a long-lived app, use one tracker per run (cheap: tracers and
    instruments are shared) or call `reset()` after reading each report; memory then stays
    flat (`bench/scaling.py` measures it over 10,000 runs).

    Args:
        tracer_provider: Where spans go; `None` uses the global provider (never sets it).
        meter_provider: Where the token and cost metrics go; `None` uses the global provider.
        capture_content: Record prompts, completions, tool arguments and results, and exception
            messages on spans. Off by default: failed spans then carry the exception's type
            (and HTTP status) only. The `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`
            environment variable also turns it on.
        reference: The frontier model savings are measured against, for apps not built with
            `create_tiered_graph` (which tells the tracker itself): a `Tier` or
            `"provider:model"`.
        tiers: The tiers of an app not built with this package's graphs (prebuilt agents,
            supervisors, swarms): each call of a tier's model is attributed to that tier and
            priced at its `price`. This beats tier tags in a run's metadata, which LangChain
            lets a run-level `config["metadata"]` override and prebuilt agents drop when they
            rebind their model. Calls made by tiered graphs keep the tier they name.
    """

    raise_error = False
    run_inline = True

    def __init__(
        self,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        capture_content: bool | None = None,
        *,
        reference: Tier | str | None = None,
        tiers: Sequence[Tier] | None = None,
    ) -> None:
        super().__init__()
        self._tiers = _tiers_by_model(tiers)
        self._tracer = _tracer(tracer_provider)
        self._token_usage, self._duration, self._cost = _instruments(meter_provider)
        if capture_content is None:
            capture_content = os.environ.get(CAPTURE_CONTENT_ENV, "").lower() in ("true", "1")
        self.capture_content = capture_content
        self._reference = reference_of(reference) if reference is not None else None
        self._prices = PriceLookup()
        self._lock = threading.Lock()
        self._runs: dict[UUID, _Run] = {}
        self._calls: list[CallRecord] = []
        self._references: list[str] = []
        self._servers: dict[int, tuple[Any, tuple[str, int] | None]] = {}

    # --- results --------------------------------------------------------------------------

    def report(self) -> CostReport:
        """Everything tracked so far (all runs this tracker saw)."""
        with self._lock:
            return CostReport(calls=list(self._calls), references=tuple(self._references))

    def reset(self) -> None:
        """Forget the calls tracked so far."""
        with self._lock:
            self._calls.clear()
            self._references.clear()
            for run in list(self._runs.values()):
                run.records.clear()

    # --- helpers --------------------------------------------------------------------------

    def _start(self, name: str, parent: _Run | None, kind: SpanKind,
               attributes: dict[str, Any], start_time: int | None = None) -> Span:
        owner = parent.owner if parent else None
        context = self._context(owner) if owner is not None else None
        return self._tracer.start_span(name, context=context, kind=kind, attributes=attributes,
                                       start_time=start_time)

    def _context(self, run: _Run) -> Any:
        """The OpenTelemetry context of `run`'s span (made now if it is not yet)."""
        if run.context is None:
            owner = run.parent.owner if run.parent else None
            parent = self._context(owner) if owner is not None else None
            with self._lock:  # parallel children of one node must not make two spans
                if run.span is None:
                    run.span = self._tracer.start_span(
                        run.name, context=parent, kind=SpanKind.INTERNAL,
                        attributes=run.attributes, start_time=run.start_ns)
                if run.context is None:
                    run.context = trace.set_span_in_context(run.span)
                pending, run.pending = run.pending, None
            for chat in pending or ():
                self._chat_span(chat)
        return run.context

    def _register(self, run_id: UUID, parent_run_id: UUID | None, span: Span | None,
                  kind: str, metadata: dict[str, Any], *, parent: _Run | None = None
                  ) -> _Run:
        # One dict operation each (atomic): the run map needs no lock of its own.
        if parent is None and parent_run_id:
            parent = self._runs.get(parent_run_id)
        run = self._runs[run_id] = _Run(span, parent, kind, metadata)
        return run

    def _parent(self, parent_run_id: UUID | None) -> _Run | None:
        return self._runs.get(parent_run_id) if parent_run_id else None

    def _pop(self, run_id: UUID) -> _Run | None:
        return self._runs.pop(run_id, None)

    def _fail(self, span: Span, error: BaseException) -> None:
        """Mark `span` failed. Without content capture, only the exception's type (and an HTTP
        status) is recorded: exception messages quote prompts, outputs and even API keys."""
        kind = f"{type(error).__module__}.{type(error).__qualname__}"
        span.set_attribute(ERROR_TYPE, kind)
        if self.capture_content:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            return
        status = status_code(error)
        span.add_event("exception", {EXCEPTION_TYPE: kind})
        span.set_status(Status(StatusCode.ERROR, type(error).__name__ + (
            f" (HTTP {status})" if status is not None else "")))

    def _end(self, run: _Run, error: BaseException | None = None) -> None:
        if run.kind != "chat":
            totals: dict[str, Any] = {attr.AGG_CALLS: run.total.calls,
                                      attr.AGG_INPUT_TOKENS: run.total.input_tokens,
                                      attr.AGG_OUTPUT_TOKENS: run.total.output_tokens}
            if run.total.cost_usd is not None:
                totals[attr.AGG_COST_USD] = float(run.total.cost_usd)
            if run.span is None and run.kind == "node":  # nothing below it needed its span
                run.attributes.update(totals)
                self._context(run)
            elif run.span is not None:
                run.span.set_attributes(totals)
        span = run.span
        if span is None:
            return
        if error is not None and not isinstance(error, GraphBubbleUp):
            self._fail(span, error)
        span.end()

    # --- chains (workflow and nodes) ------------------------------------------------------

    @_never_raise
    def on_chain_start(self, serialized: dict[str, Any] | None, inputs: Any, *, run_id: UUID,
                       parent_run_id: UUID | None = None, tags: list[str] | None = None,
                       metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        metadata = metadata or {}
        name = kwargs.get("name") or (serialized or {}).get("name") or "chain"
        parent = self._parent(parent_run_id)
        span: Span | None = None
        kind = "chain"
        node = _is_node(name, tags, metadata)
        if parent is None and not node:  # the root (a node first seen alone is an activity's)
            kind = "workflow"
            span = self._start(f"invoke_workflow {name}", None, SpanKind.INTERNAL, {
                gen_ai.GEN_AI_OPERATION_NAME: "invoke_workflow",
                gen_ai.GEN_AI_WORKFLOW_NAME: name, SPAN_KIND: "CHAIN",
            })
        elif node:
            kind = "node"
            role = _role(metadata)
            attributes: dict[str, Any] = {attr.NODE: metadata["langgraph_node"],
                                          SPAN_KIND: "AGENT" if role in AGENT_ROLES else "CHAIN"}
            if role in AGENT_ROLES:
                attributes[gen_ai.GEN_AI_OPERATION_NAME] = "invoke_agent"
                attributes[gen_ai.GEN_AI_AGENT_NAME] = role
                attributes[attr.ROLE] = role
            if isinstance(metadata.get(attr.TIER), str):
                attributes[attr.TIER] = metadata[attr.TIER]
            run = self._register(run_id, parent_run_id, None, kind, {}, parent=parent)
            run.name = f"invoke_agent {role}" if role in AGENT_ROLES else str(name)
            run.attributes, run.start_ns = attributes, time.time_ns()
            return
        self._register(run_id, parent_run_id, span, kind, {}, parent=parent)

    @_never_raise
    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        run = self._pop(run_id)
        if run is not None:
            self._end(run)

    @_never_raise
    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        run = self._pop(run_id)
        if run is not None:
            self._end(run, error)

    # --- tools ----------------------------------------------------------------------------

    @_never_raise
    def on_tool_start(self, serialized: dict[str, Any] | None, input_str: str, *, run_id: UUID,
                      parent_run_id: UUID | None = None, tags: list[str] | None = None,
                      metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        name = kwargs.get("name") or (serialized or {}).get("name") or "tool"
        parent = self._parent(parent_run_id)
        attributes: dict[str, Any] = {gen_ai.GEN_AI_OPERATION_NAME: "execute_tool",
                                      gen_ai.GEN_AI_TOOL_NAME: name,
                                      gen_ai.GEN_AI_TOOL_TYPE: "function", SPAN_KIND: "TOOL"}
        if kwargs.get("tool_call_id"):
            attributes[gen_ai.GEN_AI_TOOL_CALL_ID] = str(kwargs["tool_call_id"])
        if self.capture_content:
            attributes[gen_ai.GEN_AI_TOOL_CALL_ARGUMENTS] = str(input_str)
        span = self._start(f"execute_tool {name}", parent, SpanKind.INTERNAL, attributes)
        self._register(run_id, parent_run_id, span, "tool", dict(metadata or {}))

    @_never_raise
    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        run = self._pop(run_id)
        if run is not None:
            if self.capture_content and run.span is not None:
                run.span.set_attribute(gen_ai.GEN_AI_TOOL_CALL_RESULT,
                                       str(getattr(output, "content", output)))
            self._end(run)

    @_never_raise
    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        run = self._pop(run_id)
        if run is not None:
            self._end(run, error)

    # --- attempt outcomes ------------------------------------------------------------------

    @_never_raise
    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
        if name != attr.OUTCOME_EVENT or not isinstance(data, dict):
            return
        with self._lock:
            run = self._runs.get(run_id)
            if run is None:
                return
            accepted = bool(data.get("accepted"))
            for index in run.records:
                record = self._calls[index]
                if record.role == "worker" and record.attempt is not None:
                    self._calls[index] = replace(record, baseline=accepted)

    # --- chat models ----------------------------------------------------------------------

    @_never_raise
    def on_chat_model_start(self, serialized: dict[str, Any] | None,
                            messages: list[list[BaseMessage]], *, run_id: UUID,
                            parent_run_id: UUID | None = None, tags: list[str] | None = None,
                            metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        meta = metadata or {}
        model = meta.get("ls_model_name")
        if not model:
            params = kwargs.get("invocation_params") or {}
            model = params.get("model") or params.get("model_name") or "unknown"
        model, provider = str(model), meta.get("ls_provider")
        role = _role(meta)
        if role is None:  # not a tiered graph's own call: find its tier
            meta = self._own_tier(meta, model, tags)
        attributes: dict[str, Any] = {
            gen_ai.GEN_AI_OPERATION_NAME: "chat", gen_ai.GEN_AI_REQUEST_MODEL: model,
            attr.NODE: role or str(meta.get("langgraph_node") or "(no node)"), SPAN_KIND: "LLM",
        }
        if provider:
            attributes[gen_ai.GEN_AI_PROVIDER_NAME] = PROVIDER_NAMES.get(str(provider),
                                                                         str(provider))
        server = self._server_of(serialized)
        if server is not None:
            attributes[SERVER_ADDRESS], attributes[SERVER_PORT] = server
        labels = {key: meta[key] for key in _CALL_KEYS if meta.get(key) is not None}
        attributes.update(labels)
        if self.capture_content and messages:
            attributes[gen_ai.GEN_AI_INPUT_MESSAGES] = _messages_json(messages[0])
        run = self._register(run_id, parent_run_id, None, "chat", meta)
        run.model, run.provider, run.attributes = model, provider, attributes
        run.started, run.start_ns = time.perf_counter(), time.time_ns()
        # A worker node's span learns its subtask, tier and attempt from its first model call.
        node = run.owner
        if node is not None and node.kind == "node" and not node.attributed:
            node.attributed = True
            self._attribute_node(node, role, labels)

    def _server_of(self, serialized: dict[str, Any] | None) -> tuple[str, int] | None:
        """`_server(serialized)`, once per model: LangChain hands every call of a model the
        same serialized dict (kept here, so its id is not reused while cached)."""
        cached = self._servers.get(id(serialized))
        if cached is not None and cached[0] is serialized:
            return cached[1]
        server = _server(serialized)
        if len(self._servers) >= 64:
            self._servers.clear()
        self._servers[id(serialized)] = (serialized, server)
        return server

    def _own_tier(self, meta: dict[str, Any], model: str, tags: list[str] | None
                  ) -> dict[str, Any]:
        """A call's metadata with its tier (and the tier's price) added, for calls not made by
        a tiered graph: a tier tag on the model, else `CostTracker(tiers=...)`."""
        tagged = next((t.partition(":")[2] for t in tags or () if t.startswith(TIER_TAG)), None)
        tier = self._tiers.get(model)
        if not tagged and tier is None:
            return meta
        meta = dict(meta)
        meta[attr.TIER] = tagged or tier.name  # type: ignore[union-attr]
        if tier is not None and tier.name == meta[attr.TIER] and tier.price is not None and \
                not isinstance(meta.get(attr.PRICE), dict):
            meta[attr.PRICE] = tier.price.to_dict()
        return meta

    def _attribute_node(self, node: _Run, role: str | None, labels: dict[str, Any]) -> None:
        """Give a node's span its first call's subtask, tier and attempt, and name a worker's
        by its subtask."""
        subtask, tier = labels.get(attr.SUBTASK_ID), labels.get(attr.TIER)
        name = None
        if role == "worker" and subtask is not None:
            # Seven "invoke_agent worker" rows tell a viewer's user nothing: name each.
            agent = f"worker {subtask}" + (f" ({tier})" if isinstance(tier, str) else "")
            labels = {**labels, gen_ai.GEN_AI_AGENT_NAME: agent}
            name = f"invoke_agent {agent}"
        with self._lock:
            span = node.span
            if span is None:  # not made yet: it will be made with these
                node.attributes.update(labels)
                node.name = name or node.name
        if span is not None:
            span.set_attributes(labels)
            if name:
                span.update_name(name)

    @_never_raise
    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        run = self._pop(run_id)
        if run is None:
            return
        seconds = time.perf_counter() - run.started
        meta = run.metadata
        message, model, response_model, usage = price_result(
            response, meta, model=run.model, provider=run.provider, seconds=seconds,
            lookup=self._prices)
        # An explicit `CostTracker(reference=...)` wins over what a graph says of itself.
        reference = self._reference or meta.get(attr.REFERENCE)
        if not isinstance(reference, dict):
            reference = None
        reference_price = Price.from_dict(reference["price"]) \
            if reference and reference.get("price") else None
        per_hour = reference_price.usd_per_hour if reference_price is not None else None
        if usage.cost_usd == 0 and message is not None and \
                (message.usage_metadata or {}).get("total_cost") == 0:  # a cache hit
            reference_cost: Decimal | None = Decimal(0)
        elif per_hour is not None:
            reference_cost = None  # estimated by the report from the reference's own speed
        else:
            reference_cost = self._reference_cost(usage, reference, reference_price)
        labels = run.attributes
        tier, subtask, attempt = (labels.get(attr.TIER), labels.get(attr.SUBTASK_ID),
                                  labels.get(attr.ATTEMPT))
        role, name = _role(meta), labels[attr.NODE]
        record = CallRecord(
            node=node_path(meta, name), node_name=name,
            tier=tier if isinstance(tier, str) else None,
            subtask_id=str(subtask) if subtask else None,
            model=model, usage=usage, reference_cost_usd=reference_cost, seconds=seconds,
            reference_usd_per_hour=Decimal(per_hour) if per_hour is not None else None,
            role=role, attempt=attempt if isinstance(attempt, int) else None,
            baseline=_in_baseline(role, meta),
        )
        with self._lock:
            index = len(self._calls)
            self._calls.append(record)
            name = reference.get("model") if reference else None
            if name and name not in self._references:
                self._references.append(str(name))
            parent = run.parent
            while parent is not None:
                parent.records.append(index)
                parent = parent.parent
            ancestor = run.owner
            while ancestor is not None:
                ancestor.total.incr(usage)
                ancestor = ancestor.parent.owner if ancestor.parent else None
        self._finish_chat(run, message, usage, response_model)
        self._record_metrics(record, run.model or record.model, run.provider, seconds)

    def _reference_cost(self, usage: Usage, reference: dict[str, Any] | None,
                        price: Price | None) -> Decimal | None:
        if not reference:
            return None
        return self._prices.cost(usage, model=reference.get("model"),
                                 provider=reference.get("provider"), price=price)

    def _finish_chat(self, run: _Run, message: Any, usage: Usage, response_model: Any) -> None:
        attributes = run.attributes
        if response_model:
            attributes[gen_ai.GEN_AI_RESPONSE_MODEL] = str(response_model)
        attributes[gen_ai.GEN_AI_USAGE_INPUT_TOKENS] = usage.input_tokens
        attributes[gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS] = usage.output_tokens
        if usage.cache_read_tokens:
            attributes[gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = usage.cache_read_tokens
        if usage.cache_write_tokens:
            attributes[gen_ai.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = usage.cache_write_tokens
        if usage.reasoning_tokens:
            attributes[gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = usage.reasoning_tokens
        if usage.cost_usd is not None:
            attributes[COST_AMOUNT] = float(usage.cost_usd)
            attributes[COST_CURRENCY] = "USD"
        else:
            attributes[attr.COST_UNPRICED] = True
        if message is not None:
            metadata = message.response_metadata
            reason = metadata.get("finish_reason") or metadata.get("stop_reason")
            if reason:
                attributes[gen_ai.GEN_AI_RESPONSE_FINISH_REASONS] = (str(reason),)
            response_id = metadata.get("id") or (
                message.id if message.id and not str(message.id).startswith(("run-", "lc_"))
                else None)
            if response_id:
                attributes[gen_ai.GEN_AI_RESPONSE_ID] = str(response_id)
            if self.capture_content:
                attributes[gen_ai.GEN_AI_OUTPUT_MESSAGES] = _messages_json(
                    [message], finish_reason=str(reason) if reason else "stop")
        run.end_ns = time.time_ns()
        node = run.owner
        if node is not None and node.kind == "node":
            with self._lock:
                if node.context is None:  # its node's span is made when the node ends
                    if node.pending is None:
                        node.pending = []
                    node.pending.append(run)
                    return
        self._chat_span(run)

    def _chat_span(self, run: _Run) -> Span:
        """A chat run's span, with all its attributes at once: made when the call ends, or
        after its node's span when that is made, and ended at the call's own end time."""
        span = self._start(f"chat {run.model}", run.parent, SpanKind.CLIENT, run.attributes,
                           start_time=run.start_ns)
        if run.end_ns is not None:
            span.end(end_time=run.end_ns)
        return span

    def _record_metrics(self, record: CallRecord, requested: str, provider: str | None,
                        seconds: float) -> None:
        labels: dict[str, Any] = {gen_ai.GEN_AI_OPERATION_NAME: "chat",
                                  gen_ai.GEN_AI_REQUEST_MODEL: requested,
                                  attr.NODE: record.node}
        if record.model != requested:
            labels[gen_ai.GEN_AI_RESPONSE_MODEL] = record.model
        if provider:
            labels[gen_ai.GEN_AI_PROVIDER_NAME] = PROVIDER_NAMES.get(provider, provider)
        if record.tier:
            labels[attr.TIER] = record.tier
        self._token_usage.record(record.usage.input_tokens,
                                 {**labels, gen_ai.GEN_AI_TOKEN_TYPE: "input"})
        self._token_usage.record(record.usage.output_tokens,
                                 {**labels, gen_ai.GEN_AI_TOKEN_TYPE: "output"})
        self._duration.record(seconds, labels)
        if record.usage.cost_usd is not None:
            self._cost.add(float(record.usage.cost_usd), labels)

    @_never_raise
    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        run = self._pop(run_id)
        if run is not None:
            span = self._chat_span(run)
            self._fail(span, error)
            span.end()
