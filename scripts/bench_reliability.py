"""Reliability benchmark on the `make all` workspace; writes bench/reliability.json.

* ``crash``: `kgqa bulkload --replace` of the gold demo corpus over a copy of the demo graph (the
  extracted triples `make all` loaded), killed with SIGKILL at 20 points spread over its run and
  re-run each time (scripts/reliability.py). After every kill and every re-run the eight demo
  questions are asked of the real question model through one warm `Answerer`, which follows the
  graph file as it is replaced.
* ``concurrency``: a separate process answers 三度诱惑的导演是谁 with the real model in a loop
  while the graph is replaced three times; counts, and the reader's latency during the loads.
* ``fuzz``: the long run of tests/test_fuzz.py (100,000 generated questions).

It needs `make all` first (a registered qa model and a graph); otherwise every part is recorded
as skipped. Usage: python scripts/bench_reliability.py [--workspace DIR] [--fuzz-examples N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import reliability  # noqa: E402
from bench_qa import DEMO_QUESTIONS  # noqa: E402


def demo_answers_checker(settings_for):
    """check(graph) for crash_test: how many demo questions one warm Answerer gets right."""
    from kgqa_cli.answering.pipeline import Answerer

    state: dict = {}

    def check(graph: Path) -> int:
        if "answerer" not in state:
            state["answerer"] = Answerer(settings_for(graph))
        answerer = state["answerer"]
        right = 0
        for question, expected in DEMO_QUESTIONS:
            answer = answerer.answer(question)
            right += answer.answered and set(expected) <= set(answer.answers)
        return right

    return check, state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=REPO / "workspace")
    parser.add_argument("--fuzz-examples", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "reliability.json")
    args = parser.parse_args()
    from kgqa_cli.settings import load_settings

    source = args.workspace
    demo = source / "data" / "raw" / "demo" / "duie_train.json"
    extracted = source / "extract" / "triples.jsonl"
    result: dict = {}
    if not ((source / "registry" / "qa").is_dir() and extracted.exists() and demo.exists()):
        reason = f"skipped: {source} has no qa model, extracted triples and demo corpus (run `make all` first)"
        result = {"crash": reason, "concurrency": reason}
    else:
        root = source / "bench" / "reliability"
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        shutil.copytree(source / "registry", root / "crashed" / "registry")

        def settings_for(graph: Path):
            return load_settings(None, {"workspace": str(root / "crashed"), "graph.path": str(graph)})

        check, state = demo_answers_checker(settings_for)
        started = time.perf_counter()
        crash = reliability.crash_test(extracted, demo, root, kills=20, extra=["--graph.direct_batch_size", "500"],
                                       check=check)
        state["answerer"].close()
        crash["seconds"] = round(time.perf_counter() - started, 1)
        crash["demo_questions"] = len(DEMO_QUESTIONS)
        result["crash"] = crash
        concurrent = root / "concurrent"
        shutil.copytree(source / "registry", concurrent / "registry")
        shutil.copytree(source / "graph", concurrent / "graph")
        result["concurrency"] = reliability.concurrency_test(
            demo, concurrent, DEMO_QUESTIONS[0][0], DEMO_QUESTIONS[0][1], loads=3)
    started = time.perf_counter()
    fuzz = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(REPO / "tests" / "test_fuzz.py")],
        cwd=REPO, env={**os.environ, "KGQA_FUZZ_EXAMPLES": str(args.fuzz_examples)}, capture_output=True, text=True,
    )
    result["fuzz"] = {"examples": args.fuzz_examples, "passed": fuzz.returncode == 0,
                      "seconds": round(time.perf_counter() - started, 1),
                      "output_tail": fuzz.stdout.strip().splitlines()[-3:]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    summary = {part: ({k: v for k, v in figures.items() if k not in ("runs", "examples_wrong")}
                      if isinstance(figures, dict) else figures) for part, figures in result.items()}
    print(json.dumps(summary, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
