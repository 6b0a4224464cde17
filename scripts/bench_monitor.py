"""Monitor benchmark: `kgqa monitor run` over 100,000 captured events with 10,000 labels;
writes bench/monitor.json (wall time and peak memory of the command; targets 20 s, 1 GB).

The events are synthetic captures in the exact capture format (JSON requests, the answer JSON
of `kgqa ask` as output), spread over the last 24 hours in hour folders, under a scratch copy of
the `make all` workspace's registry; one event in ten gets a ground-truth label (90 % of them
right). Usage: python scripts/bench_monitor.py [--events N] [--labels N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def write_events(root: Path, truth_root: Path, events: int, labels: int, intents: list[str], seed: int = 5) -> None:
    rng = random.Random(seed)
    now = time.time()
    by_hour: dict[str, list[str]] = {}
    truth: list[str] = []
    label_every = max(1, events // labels)
    for index in range(events):
        at = now - 3600 * 24 * (index / events) - 60
        intent = rng.choice(intents)
        question = f"第{index}个问题的{intent}是什么"
        answer = {"question": question, "intent": intent, "confidence": 0.9, "slots": {"subject": [f"第{index}个问题"]},
                  "alternatives": [], "entity": None, "predicate": None, "direction": None, "query": None,
                  "answers": ["某某"] if index % 5 else [], "reason": None if index % 5 else "entity not in the graph",
                  "detail": None, "model_version": "qa/v1", "elapsed_ms": 3.0, "answered": bool(index % 5),
                  "entities": []}
        event_id = str(uuid.UUID(int=rng.getrandbits(128)))
        record = {"captureData": {
            "endpointInput": {"observedContentType": "application/json", "mode": "INPUT",
                              "data": json.dumps({"question": question}, ensure_ascii=False), "encoding": "JSON"},
            "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT",
                               "data": json.dumps(answer, ensure_ascii=False), "encoding": "JSON"}},
            "eventMetadata": {"eventId": event_id, "inferenceTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))},
            "eventVersion": "0"}
        by_hour.setdefault(time.strftime("%Y/%m/%d/%H", time.gmtime(at)), []).append(json.dumps(record, ensure_ascii=False))
        if index % label_every == 0 and len(truth) < labels:
            label = intent if rng.random() < 0.9 else rng.choice(intents)
            truth.append(json.dumps({"groundTruthData": {"data": label, "encoding": "CSV"},
                                     "eventMetadata": {"eventId": event_id}, "eventVersion": "0"}))
    for hour, lines in by_hour.items():
        (root / hour).mkdir(parents=True, exist_ok=True)
        (root / hour / f"00-00-000-{uuid.uuid4()}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    hour = truth_root / time.strftime("%Y/%m/%d/%H", time.gmtime(now))
    hour.mkdir(parents=True, exist_ok=True)
    (hour / "labels.jsonl").write_text("\n".join(truth) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=REPO / "workspace")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--labels", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "monitor.json")
    args = parser.parse_args()
    source = args.workspace
    result: dict = {"events": args.events, "labels": args.labels}
    if not (source / "registry" / "qa").is_dir():
        result["skipped"] = f"{source} has no qa model (run `make all` first)"
    else:
        scratch = source / "bench" / "monitor" / "ws"
        shutil.rmtree(scratch.parent, ignore_errors=True)
        shutil.copytree(source / "registry", scratch / "registry")
        shutil.copytree(source / "data" / "questions", scratch / "data" / "questions")
        intents = json.loads((sorted((scratch / "registry" / "qa").glob("v*"))[-1] / "model" / "config.json")
                             .read_text(encoding="utf-8"))["intents"]
        started = time.perf_counter()
        write_events(scratch / "datacapture" / "kgqa-local" / "AllTraffic", scratch / "groundtruth", args.events,
                     args.labels, intents)
        result["write_events_seconds"] = round(time.perf_counter() - started, 1)
        kgqa = [sys.executable, "-m", "kgqa_cli.cli.main"]
        subprocess.run([*kgqa, "monitor", "baseline", "--workspace", str(scratch)], check=True, capture_output=True)
        out, err = scratch.parent / "run.out", scratch.parent / "run.err"
        started = time.perf_counter()
        with out.open("wb") as stdout, err.open("wb") as stderr:
            child = subprocess.Popen([*kgqa, "monitor", "run", "--start-offset", "-P2D", "--end-offset", "PT0S",
                                      "--json", "--workspace", str(scratch)], stdout=stdout, stderr=stderr)
            _, status, usage = os.wait4(child.pid, 0)  # this child's own peak memory
        result["monitor_run_seconds"] = round(time.perf_counter() - started, 2)
        result["monitor_run_peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)
        result["exit_code"] = os.waitstatus_to_exitcode(status)  # 9 expected: the 10 % wrong labels violate
        text = out.read_text(encoding="utf-8")
        summary = json.loads(text) if text.strip() else {}
        result.update({key: summary.get(key) for key in ("captured_questions", "labelled", "metrics")})
        result["stderr_tail"] = err.read_text(encoding="utf-8").strip().splitlines()[-2:]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
