"""Take the README's screenshot: a tiered-agents demo trace in a real Arize Phoenix.

    PHOENIX=/path/to/phoenix python docs/screenshot_phoenix.py [--out docs/phoenix-trace.png]

Starts Phoenix on 127.0.0.1, runs `tiered-agents demo --otlp`, then opens the trace in
headless Chromium (Debian's `chromium` package) and saves a PNG.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

PORT = 6016


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(Path(__file__).parent / "phoenix-trace.png"))
    args = parser.parse_args()
    phoenix = os.environ.get("PHOENIX") or shutil.which("phoenix")
    chromium = shutil.which("chromium")
    if not phoenix or not chromium:
        sys.exit("needs Phoenix (PHOENIX=...) and Debian's chromium (apt-get install chromium)")
    workdir = tempfile.mkdtemp()
    env = {**os.environ, "PHOENIX_WORKING_DIR": workdir, "PHOENIX_HOST": "127.0.0.1",
           "PHOENIX_PORT": str(PORT), "PHOENIX_GRPC_PORT": str(PORT + 1),
           "PHOENIX_TELEMETRY_ENABLED": "false"}
    server = subprocess.Popen([phoenix, "serve"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{PORT}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        subprocess.run([sys.executable, "-m", "tiered_agents.cli", "demo", "--otlp", base],
                       check=True, stdout=subprocess.DEVNULL)
        time.sleep(3)
        spans = get(f"{base}/v1/projects/tiered-agents/spans?limit=200")["data"]
        trace_id = next(s["context"]["trace_id"] for s in spans if s["parent_id"] is None)
        project = next(p["id"] for p in get(f"{base}/v1/projects")["data"]
                       if p["name"] == "tiered-agents")
        url = f"{base}/projects/{project}/traces/{trace_id}"
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", "--no-first-run",
                        f"--user-data-dir={tempfile.mkdtemp()}",
                        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                        "--window-size=1600,1000", "--virtual-time-budget=15000",
                        f"--screenshot={args.out}", url], check=True,
                       stderr=subprocess.DEVNULL)
        print(f"saved {args.out} from {url}")
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
