"""Real servers for the integration tests (Phoenix, MLflow, LangGraph Server): a free port on
127.0.0.1, and a process that runs until its health URL answers and is stopped afterwards."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(command: Sequence[str], *, health: str, log: Path, name: str,
            env: Mapping[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 120.0) -> Iterator[subprocess.Popen[bytes]]:
    """Start `command`, wait until `health` answers (failing the test with the log if it
    exits or takes longer than `timeout`), and stop it when done."""
    with log.open("w") as out:
        process = subprocess.Popen(list(command), cwd=cwd, env=dict(env) if env else None,
                                   stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    with urllib.request.urlopen(health, timeout=2):
                        break
                except OSError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"{name} did not start:\n{log.read_text()[-4000:]}")
                time.sleep(0.3)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
