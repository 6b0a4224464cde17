"""`kgqa deploy` as a real server process on a free 127.0.0.1 port, and plain HTTP requests to it.

Shared by the tests that start an endpoint (serving, labels, monitoring, the chat page, ...).
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

KGQA = [sys.executable, "-m", "kgqa_cli.cli.main"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request(url: str, body: bytes | None = None, headers: dict | None = None, method: str | None = None):
    """(status, headers, body) of one HTTP request; 4xx/5xx are answers too."""
    req = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def ask(base: str, question: str, **headers: str):
    body = json.dumps({"question": question}, ensure_ascii=False).encode()
    return request(f"{base}/invocations", body, {"Content-Type": "application/json", **headers})


class Server:
    """`kgqa deploy` in a subprocess on a free loopback port."""

    def __init__(self, workspace: Path, *args: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.workspace = workspace
        self.log = workspace.parent / f"server-{self.port}.log"
        self.process = subprocess.Popen(
            [*KGQA, "deploy", "--port", str(self.port), "--workspace", str(workspace), *args],
            stdout=subprocess.DEVNULL, stderr=self.log.open("wb"),
        )
        self.pings: list[int] = []

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited {self.process.returncode}: {self.log.read_text()}")
            try:
                status, _, _ = request(f"{self.base}/ping")
            except OSError:
                status = 0  # not listening yet
            self.pings.append(status)
            if status == 200:
                return
            time.sleep(0.02)
        raise RuntimeError(f"server not ready: {self.log.read_text()}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)

    def capture_lines(self) -> list[tuple[Path, dict]]:
        folder = self.workspace / "datacapture" / "kgqa-local" / "AllTraffic"
        return [(path, json.loads(line)) for path in sorted(folder.rglob("*.jsonl"))
                for line in path.read_text(encoding="utf-8").splitlines()]
