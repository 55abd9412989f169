"""`LlamaServer`: llama.cpp's OpenAI-compatible server on 127.0.0.1, one process per model,
started and stopped by a context manager."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from tiered_agents.errors import ServerError

__all__ = ["LlamaServer"]


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class LlamaServer:
    """Serve one GGUF model with llama-cpp-python's OpenAI-compatible server.

    Example:
        ```python
        with LlamaServer(path, alias="qwen") as server:
            model = ChatOpenAI(base_url=server.base_url, api_key="local", model="qwen")
        ```
    """

    def __init__(self, model_path: str | Path, *, alias: str, host: str = "127.0.0.1",
                 port: int | None = None, n_ctx: int = 4096, n_threads: int | None = None,
                 startup_timeout: float = 180.0, extra_args: tuple[str, ...] = ()) -> None:
        self.model_path = Path(model_path)
        self.alias = alias
        self.host = host
        self.port = port
        self.n_ctx = n_ctx
        self.n_threads = n_threads or max(1, os.cpu_count() or 1)
        self.startup_timeout = startup_timeout
        self.extra_args = extra_args
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def _log_tail(self) -> str:
        if self._log is None or not self._log.exists():
            return ""
        return self._log.read_text(errors="replace")[-2000:]

    def start(self) -> LlamaServer:
        if importlib.util.find_spec("llama_cpp") is None or \
                importlib.util.find_spec("llama_cpp.server") is None:
            raise ServerError("llama.cpp's server is not installed. Install it with: "
                              "pip install 'tiered-agents[local]'")
        if not self.model_path.is_file():
            raise ServerError(f"No model file at {self.model_path}.")
        self.port = self.port or _free_port(self.host)
        handle, log = tempfile.mkstemp(prefix=f"tiered-agents-{self.alias}-", suffix=".log")
        os.close(handle)
        self._log = Path(log)
        command = [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model_path),
                   "--model_alias", self.alias, "--host", self.host, "--port", str(self.port),
                   "--n_ctx", str(self.n_ctx), "--n_threads", str(self.n_threads),
                   "--n_threads_batch", str(self.n_threads), *self.extra_args]
        with self._log.open("wb") as out:
            self._process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ServerError(f"The {self.alias} server exited with code "
                                  f"{self._process.returncode}:\n{self._log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as response:
                    models = json.load(response)
                if any(m.get("id") == self.alias for m in models.get("data", [])):
                    return self
            except (urllib.error.URLError, OSError, ValueError):
                pass
            time.sleep(0.25)
        self.stop()
        raise ServerError(f"The {self.alias} server did not answer within "
                          f"{self.startup_timeout:.0f} s:\n{self._log_tail()}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if self._log is not None:
            self._log.unlink(missing_ok=True)
            self._log = None

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
