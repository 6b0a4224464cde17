"""Crash and concurrency drivers for the embedded graph, shared by the tests and `make bench`.

* :func:`crash_test`: ``kgqa bulkload --replace`` killed with SIGKILL at points spread over its
  run (the ``KGQA_FAULT_KILL_AT`` hook of ``kgqa_cli.faults``), then re-run; after every kill the
  live graph must be the old graph or the new one, complete, and answer; after every re-run it
  must be identical to a clean load.
* :func:`concurrency_test`: a separate process answers one question in a loop while
  ``bulkload --replace`` runs several times; every answer must be right.

Run as a script, ``reader`` is that separate process (see :func:`reader_main`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

KGQA = [sys.executable, "-m", "kgqa_cli.cli.main"]

# The eight demo questions as graph look-ups: (entity, predicate, direction, answers expected among).
DEMO_FACTS = [
    ("三度诱惑", "导演", "forward", {"何藩"}),
    ("何藩", "导演", "reverse", {"长街旧梦", "浮城往事"}),
    ("我乔布斯", "作者", "forward", {"苏云帆"}),
    ("妖精凄卟曲之美男就地扑倒", "作者", "forward", {"月下听风"}),
    ("许晋亨", "妻子", "forward", {"李嘉欣"}),
    ("李嘉欣", "妻子", "reverse", {"许晋亨"}),
    ("决胜", "作者", "forward", {"钟远山"}),
    ("林晓蔚", "毕业院校", "forward", {"清华大学"}),
]


def percentile(values: list[float], share: float) -> float:
    """The value at ``share`` (0-1) of the sorted values (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def graph_fingerprint(path: Path) -> dict:
    """Vertex and edge counts and a hash of the sorted edge list (source uid, predicate, target
    uid, edge uid) of an embedded graph file, read with plain SQL (read-only)."""
    con = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        uid = con.execute("SELECT id FROM strings WHERE v = 'uid'").fetchone()
        vertices = con.execute("SELECT count(*) FROM quads WHERE p = 0").fetchone()[0]
        edges = []
        if uid is not None:
            edges = con.execute(
                """
                WITH vuid AS (SELECT q.s AS vid, s.v AS uid FROM quads q JOIN strings s ON s.id = q.o
                              WHERE q.p = ? AND q.g > 0)
                SELECT a.uid, l.v, b.uid, eu.v FROM quads e
                JOIN strings l ON l.id = -e.p
                JOIN vuid a ON a.vid = e.s JOIN vuid b ON b.vid = e.o
                JOIN quads ep ON ep.s = e.g AND ep.p = ?
                JOIN strings eu ON eu.id = ep.o
                WHERE e.p < 0
                """, (uid[0], uid[0])).fetchall()
    finally:
        con.close()
    digest = hashlib.sha256("\n".join("\t".join(row) for row in sorted(edges)).encode()).hexdigest()
    return {"vertices": vertices, "edges": len(edges), "edge_list_sha256": digest}


def demo_facts_answered(graph: Path) -> int:
    """How many of the eight demo questions the graph answers (as look-ups through a reader)."""
    from kgqa_cli.graph import queries
    from kgqa_cli.graph.config import GraphConfig
    from kgqa_cli.graph.store import open_graph
    from kgqa_cli.workspace import Workspace

    answered = 0
    with open_graph(GraphConfig(path=graph), Workspace(graph.parent), create=False) as store:
        for entity, predicate, direction, expected in DEMO_FACTS:
            lookup = queries.subjects_of if direction == "reverse" else queries.objects_of
            names = {row["name"] for row in queries.run(lookup(store.g, entity, predicate))}
            answered += expected <= names
    return answered


def _bulkload(corpus: Path, workspace: Path, extra: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*KGQA, "bulkload", str(corpus), "--replace", "--json", "--workspace", str(workspace), *extra],
        capture_output=True, timeout=600, env={**os.environ, **(env or {})},
    )


def _leftovers(graph: Path) -> list[str]:
    return sorted(p.name for p in graph.parent.glob(f".{graph.name}.building-*"))


def crash_test(
    old_corpus: Path, new_corpus: Path, root: Path, *, kills: int = 20, extra: list[str] = (),
    check: Callable[[Path], int] | None = None,
) -> dict:
    """Kill ``bulkload --replace`` of ``new_corpus`` over a graph of ``old_corpus`` at ``kills``
    points spread over its run, re-running it after each kill; returns the figures.

    ``check(graph)`` counts right answers (default: :func:`demo_facts_answered`); it runs after
    every kill and every re-run.
    """
    check = check or demo_facts_answered
    extra = list(extra)
    reference, workspace = root / "reference", root / "crashed"
    graph = workspace / "graph" / "kgqa.db"
    for target, corpus in ((reference, new_corpus), (workspace, old_corpus)):
        done = _bulkload(corpus, target, extra)
        if done.returncode != 0:
            raise RuntimeError(f"clean load failed: {done.stderr.decode()}")
    clean = graph_fingerprint(reference / "graph" / "kgqa.db")
    old = graph_fingerprint(graph)
    pristine = root / "old-graph.db"  # every kill starts from a copy of the old graph
    shutil.copyfile(graph, pristine)
    trace = root / "fault-trace.txt"
    trace.unlink(missing_ok=True)
    traced = _bulkload(new_corpus, root / "traced", extra, {"KGQA_FAULT_TRACE": str(trace)})
    if traced.returncode != 0:
        raise RuntimeError(f"traced load failed: {traced.stderr.decode()}")
    names = trace.read_text(encoding="utf-8").split()
    points = sorted({round(1 + i * (len(names) - 1) / max(1, kills - 1)) for i in range(kills)})
    rows = []
    for point in points:
        shutil.copyfile(pristine, graph.with_name("restore.tmp"))
        os.replace(graph.with_name("restore.tmp"), graph)  # a new file, as a replace makes one
        killed = _bulkload(new_corpus, workspace, extra, {"KGQA_FAULT_KILL_AT": str(point)})
        after_kill = graph_fingerprint(graph)
        answers_after_kill = check(graph)
        left = _leftovers(graph)
        rerun = _bulkload(new_corpus, workspace, extra)
        after_rerun = graph_fingerprint(graph)
        rows.append({
            "kill_at": point, "point": names[point - 1], "killed": killed.returncode == -9,
            "after_kill": "old" if after_kill == old else "new" if after_kill == clean else "other",
            "partial_file_left": bool(left),
            "rerun_named_and_removed_it": all(name in "".join(rerun.stderr.decode().split()) for name in left),
            "rerun_ok": rerun.returncode == 0, "identical_to_clean_load": after_rerun == clean,
            "leftovers_after_rerun": _leftovers(graph),
            "demo_answers_after_kill": answers_after_kill, "demo_answers_after_rerun": check(graph),
        })
    return {
        "fault_points_in_a_run": len(names), "kills": len(rows), "killed": sum(r["killed"] for r in rows),
        "kills_leaving_old_or_new_graph": sum(r["after_kill"] in ("old", "new") for r in rows),
        "kills_leaving_old_graph": sum(r["after_kill"] == "old" for r in rows),
        "partial_files_named_and_removed": sum(r["partial_file_left"] and r["rerun_named_and_removed_it"]
                                               and not r["leftovers_after_rerun"] for r in rows),
        "partial_files_left_by_kills": sum(r["partial_file_left"] for r in rows),
        "reruns_identical_to_clean_load": sum(r["identical_to_clean_load"] for r in rows),
        "min_demo_answers": min(min(r["demo_answers_after_kill"], r["demo_answers_after_rerun"]) for r in rows),
        "clean_load": clean, "runs": rows,
    }


def concurrency_test(
    corpus: Path, workspace: Path, question: str, expected: list[str], *, loads: int = 3, extra: list[str] = (),
    reader_args: list[str] = (), warm_answers: int = 5,
) -> dict:
    """Answer ``question`` in a separate process, continuously, while ``bulkload --replace`` of
    ``corpus`` runs ``loads`` times into ``workspace``; returns counts and latencies."""
    log = workspace.parent / f"{workspace.name}-reader.jsonl"
    stop = workspace.parent / f"{workspace.name}-reader.stop"
    log.unlink(missing_ok=True)
    stop.unlink(missing_ok=True)
    reader = subprocess.Popen(
        [sys.executable, __file__, "reader", "--question", question, "--log", str(log), "--stop", str(stop),
         "--", "--workspace", str(workspace), *reader_args],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 300
        while (not log.exists() or len(log.read_text(encoding="utf-8").splitlines()) < warm_answers):
            if reader.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the reader did not start: {reader.stderr.read().decode()}")
            time.sleep(0.05)
        windows = []
        for _ in range(loads):
            started = time.time()
            done = _bulkload(corpus, workspace, list(extra))
            windows.append((started, time.time()))
            if done.returncode != 0:
                raise RuntimeError(f"load failed: {done.stderr.decode()}")
        time.sleep(0.3)  # a few answers after the last swap too
    finally:
        stop.touch()
        reader.wait(timeout=60)
    rows = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    during = [row for row in rows if any(start <= row["at"] <= end for start, end in windows)]
    wrong = [row for row in rows if row.get("error") or row["answers"] != expected]
    latencies = [row["ms"] for row in during] or [0.0]
    return {
        "answers": len(rows), "answers_during_loads": len(during), "wrong_or_failed": len(wrong),
        "examples_wrong": wrong[:5], "loads": loads,
        # Graphs the reader moved through: the first plus each switch to another file.
        "graphs_seen": 1 + sum(a.get("graph") != b.get("graph") for a, b in zip(rows, rows[1:], strict=False)),
        "load_seconds": [round(end - start, 2) for start, end in windows],
        "reader_ms_p50_during_loads": round(statistics.median(latencies), 2),
        "reader_ms_p99_during_loads": round(percentile(latencies, 0.99), 2),
        "reader_ms_max_during_loads": round(max(latencies), 2),
    }


def reader_main(argv: list[str]) -> None:
    """The reader process: answer one question until the stop file appears, a JSON line each."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--question", required=True)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--stop", type=Path, required=True)
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args(argv)
    from kgqa_cli.answering.pipeline import Answerer
    from kgqa_cli.config import parse_overrides
    from kgqa_cli.settings import load_settings

    settings = load_settings(None, parse_overrides(args.overrides))
    with Answerer(settings) as answerer, args.log.open("a", encoding="utf-8") as log:
        while not args.stop.exists():
            started = time.perf_counter()
            row: dict = {"at": time.time()}
            try:
                answer = answerer.answer(args.question)
                row.update(answers=answer.answers, reason=answer.reason, graph=answerer.store.identity)
            except Exception as exc:  # counted as a failure by the driver
                row.update(answers=[], error=f"{exc.__class__.__name__}: {exc}")
            row["ms"] = round((time.perf_counter() - started) * 1000, 3)
            log.write(json.dumps(row, ensure_ascii=False) + "\n")
            log.flush()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "reader":
        reader_main(sys.argv[2:])
    else:
        sys.exit("usage: reliability.py reader --question Q --log FILE --stop FILE -- [kgqa overrides]")
