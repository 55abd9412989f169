"""`configure_tracing`: a ready `TracerProvider` for scripts and the CLI (never set globally)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

__all__ = ["configure_tracing"]


def configure_tracing(
    otlp_endpoint: str | None = None,
    jsonl_path: str | Path | None = None,
    console: bool = False,
    *,
    service_name: str = "tiered-agents",
    project_name: str | None = None,
    export_timeout: float = 3.0,
    headers: Mapping[str, str] | None = None,
) -> TracerProvider:
    """Build a `TracerProvider` that exports to OTLP/HTTP, a JSONL file and/or the console.

    For scripts and the CLI only: library code never calls this, and the provider is returned,
    not set globally. Pass it to `CostTracker(tracer_provider=...)`, and call `shutdown()` on it
    before the process exits so every span is flushed. Spans are exported in the background;
    each OTLP export (retries included) gives up after `export_timeout` seconds, so with the
    collector down `shutdown()` returns within about that long instead of blocking.

    Args:
        otlp_endpoint: Base URL of an OTLP/HTTP receiver (`http://127.0.0.1:6006` for Phoenix);
            `/v1/traces` is added when missing.
        jsonl_path: A file to append one JSON span per line to.
        console: Also print spans to standard output.
        service_name: The `service.name` resource attribute.
        project_name: Sets `openinference.project.name` (the Phoenix project).
        export_timeout: Seconds an OTLP export may take, retries included (the SDK's default
            is 10); also bounds `shutdown()` and `force_flush()` when the collector is down.
        headers: HTTP headers sent with each OTLP export: an API key, or MLflow's
            `{"x-mlflow-experiment-id": "0"}`.
    """
    if not export_timeout > 0:
        raise ValueError(f"export_timeout must be > 0 seconds, got {export_timeout!r}.")
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            ConsoleSpanExporter,
            SimpleSpanProcessor,
        )

        from tiered_agents.tracing.jsonl import JsonlSpanExporter
    except ImportError as exc:
        raise ImportError(
            "configure_tracing needs the OpenTelemetry SDK and OTLP exporter: "
            "pip install 'tiered-agents[otel]'"
        ) from exc

    attributes = {"service.name": service_name}
    if project_name:
        attributes["openinference.project.name"] = project_name
    provider = TracerProvider(resource=Resource.create(attributes))
    if otlp_endpoint:
        url = otlp_endpoint.rstrip("/")
        if not url.endswith("/v1/traces"):
            url += "/v1/traces"
        exporter = OTLPSpanExporter(endpoint=url, timeout=export_timeout,
                                    headers=dict(headers) if headers else None)
        provider.add_span_processor(BatchSpanProcessor(
            exporter, export_timeout_millis=export_timeout * 1000))
    if jsonl_path:
        provider.add_span_processor(SimpleSpanProcessor(JsonlSpanExporter(jsonl_path)))
    if console:
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    return provider
