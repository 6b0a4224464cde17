"""Endpoint benchmark on the `make all` workspace; writes bench/serving.json.

* ``load``: `kgqa deploy` on 127.0.0.1 with capture on (100 %), then again with capture off;
  a separate load-generating process (this script's ``loadgen`` mode: asyncio, keep-alive
  connections) sends 10,000 requests at concurrency 1, 8 and 32, cycling through the eight demo
  questions. Throughput, p50/p99 latency, errors and wrong answers per run; the server's RSS
  before and after; capture counts (sampled, written, dropped) from /stats; the cost of capture
  as the ratio of throughputs in the same run.
* ``schemathesis``: `st run` against /openapi.json, a bounded number of examples per operation,
  positive and negative; the count of 5xx answers (target 0).

The qa version is served with --allow-unapproved (a benchmark, not production), capture goes to
a scratch folder. Usage: python scripts/bench_serving.py [--workspace DIR] [--requests N]
       python scripts/bench_serving.py loadgen URL REQUESTS CONCURRENCY
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from bench_qa import DEMO_QUESTIONS  # noqa: E402
from reliability import percentile  # noqa: E402

KGQA = [sys.executable, "-m", "kgqa_cli.cli.main"]


# ------------------------------------------------------------------ the load generator process


async def _client(host: str, port: int, jobs: asyncio.Queue, latencies: list, failures: list) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while True:
            try:
                index = jobs.get_nowait()
            except asyncio.QueueEmpty:
                return
            question, expected = DEMO_QUESTIONS[index % len(DEMO_QUESTIONS)]
            body = json.dumps({"question": question}, ensure_ascii=False).encode()
            head = (f"POST /invocations HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n").encode()
            started = time.perf_counter()
            writer.write(head + body)
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            payload = await reader.readexactly(length)
            latencies.append((time.perf_counter() - started) * 1000)
            status = int(status_line.split()[1])
            if status != 200:
                failures.append(f"HTTP {status}")
            elif not set(expected) <= set(json.loads(payload).get("answers", [])):
                failures.append(f"wrong answer to {question}")
    finally:
        writer.close()


async def _load(url: str, requests: int, concurrency: int) -> dict:
    host, port = url.split("//", 1)[1].split(":")
    jobs: asyncio.Queue = asyncio.Queue()
    for index in range(requests):
        jobs.put_nowait(index)
    latencies: list[float] = []
    failures: list[str] = []
    started = time.perf_counter()
    await asyncio.gather(*(_client(host, int(port), jobs, latencies, failures) for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    return {
        "requests": len(latencies), "concurrency": concurrency, "seconds": round(seconds, 2),
        "questions_per_second": round(len(latencies) / seconds, 1),
        "p50_ms": round(statistics.median(latencies), 2), "p99_ms": round(percentile(latencies, 0.99), 2),
        "errors": sum(f.startswith("HTTP") for f in failures), "wrong_answers": sum(f.startswith("wrong") for f in failures),
        "failure_examples": sorted(set(failures))[:5],
    }


def loadgen_main(argv: list[str]) -> None:
    url, requests, concurrency = argv[0], int(argv[1]), int(argv[2])
    print(json.dumps(asyncio.run(_load(url, requests, concurrency)), ensure_ascii=False))


# ------------------------------------------------------------------ the benchmark


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def start_server(workspace: Path, log: Path, *options: str) -> tuple[subprocess.Popen, str]:
    """`kgqa deploy` (the qa version allowed unapproved) on a free port, once /ping says 200."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [*KGQA, "deploy", "--allow-unapproved", "--port", str(port), "--workspace", str(workspace), *options],
        stdout=subprocess.DEVNULL, stderr=log.open("wb"),
    )
    deadline = time.monotonic() + 180
    while True:
        try:
            _get(f"{url}/ping")
            return server, url
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError(f"the server did not start: {log.read_text()}") from None
            time.sleep(0.1)


def run_server(workspace: Path, capture_dir: Path, capture: bool, requests: int, levels: list[int]) -> dict:
    """Start `kgqa deploy`, load it at each concurrency level, stop it; returns the figures."""
    log = capture_dir.parent / f"server-capture-{'on' if capture else 'off'}.log"
    server, url = start_server(workspace, log, "--serve.capture.enabled", "true" if capture else "false",
                               "--serve.capture.destination", str(capture_dir))
    try:
        subprocess.run([sys.executable, __file__, "loadgen", url, "200", "8"], check=True, capture_output=True)  # warm-up
        figures: dict = {"rss_mb_before": _rss_mb(server.pid), "runs": []}
        for concurrency in levels:
            done = subprocess.run([sys.executable, __file__, "loadgen", url, str(requests), str(concurrency)],
                                  check=True, capture_output=True, text=True)
            figures["runs"].append(json.loads(done.stdout))
        figures["rss_mb_after"] = _rss_mb(server.pid)
        figures["rss_growth_percent"] = round(100 * (figures["rss_mb_after"] / figures["rss_mb_before"] - 1), 2)
        figures["stats"] = _get(f"{url}/stats")
    finally:
        server.terminate()
        figures_exit = server.wait(timeout=60)
    figures["exit_code_after_sigterm"] = figures_exit
    if capture:
        figures["capture_lines_on_disk"] = sum(
            sum(1 for _ in path.open(encoding="utf-8")) for path in capture_dir.rglob("*.jsonl"))
    return figures


def run_schemathesis(workspace: Path, scratch: Path, examples: int) -> dict:
    """Fuzz /invocations (and every other operation) from the OpenAPI document."""
    server, url = start_server(workspace, scratch / "server-fuzz.log",
                               "--serve.capture.destination", str(scratch / "capture-fuzz"))
    try:
        started = time.perf_counter()
        report = scratch / "schemathesis.json"
        done = subprocess.run(
            [str(Path(sys.executable).with_name("st")), "run", f"{url}/openapi.json", "--checks", "not_a_server_error",
             "--max-examples", str(examples), "--mode", "all", "--report", "ndjson",
             "--report-ndjson-path", str(report), "--seed", "1"],
            capture_output=True, text=True, timeout=1800,
        )
        stats = _get(f"{url}/stats")
    finally:
        server.terminate()
        server.wait(timeout=60)
    return {"max_examples_per_operation": examples, "exit_code": done.returncode,
            "seconds": round(time.perf_counter() - started, 1), "server_errors_seen_by_server": stats["server_errors"],
            "requests_seen_by_server": stats["requests"], "output_tail": done.stdout.strip().splitlines()[-6:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=REPO / "workspace")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--levels", default="1,8,32")
    parser.add_argument("--fuzz-examples", type=int, default=200)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "serving.json")
    args = parser.parse_args()
    source = args.workspace
    result: dict = {"requests_per_run": args.requests}
    if not ((source / "registry" / "qa").is_dir() and (source / "graph" / "kgqa.db").exists()):
        result["skipped"] = f"{source} has no qa model and graph (run `make all` first)"
    else:
        scratch = source / "bench" / "serving"
        shutil.rmtree(scratch, ignore_errors=True)
        (scratch / "ws").mkdir(parents=True)
        for part in ("registry", "graph"):
            shutil.copytree(source / part, scratch / "ws" / part)
        levels = [int(level) for level in args.levels.split(",")]
        result["capture_on"] = run_server(scratch / "ws", scratch / "capture", True, args.requests, levels)
        result["capture_off"] = run_server(scratch / "ws", scratch / "capture-off", False, args.requests, levels)
        result["capture_cost"] = {
            f"concurrency_{on['concurrency']}": round(off["questions_per_second"] / on["questions_per_second"], 3)
            for on, off in zip(result["capture_on"]["runs"], result["capture_off"]["runs"], strict=True)
        }
        result["schemathesis"] = run_schemathesis(scratch / "ws", scratch, args.fuzz_examples)
        result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "loadgen":
        loadgen_main(sys.argv[2:])
    else:
        main()
