"""`configure_tracing`: bounded export and shutdown when the collector is down."""

from __future__ import annotations

import socket
import time

import pytest

from tiered_agents import configure_tracing

pytestmark = [pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]


@pytest.mark.parametrize("collector", ["silent", "refusing"])
def test_shutdown_is_bounded_when_the_collector_is_down(collector: str) -> None:
    """A collector that accepts connections and never answers, or a closed port: `shutdown()`
    returns within the export timeout (3 s) instead of the SDK's 10 s and more."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        if collector == "silent":
            listener.listen(16)  # connections queue up; nothing ever reads or answers
        else:
            listener.close()  # nothing listens: connections are refused
        provider = configure_tracing(otlp_endpoint=f"http://127.0.0.1:{port}")
        tracer = provider.get_tracer("test")
        for i in range(5):
            with tracer.start_as_current_span(f"span {i}"):
                pass
        started = time.perf_counter()
        provider.shutdown()
        assert time.perf_counter() - started < 5.0


def test_export_timeout_is_checked() -> None:
    with pytest.raises(ValueError, match="export_timeout must be > 0"):
        configure_tracing(otlp_endpoint="http://127.0.0.1:4318", export_timeout=0)
