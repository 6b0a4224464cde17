"""Benchmark of names as people write them; writes bench/mentions.json (the repository's bench/).

The questions: the NLPCC 2016 KBQA *training* questions (../shared/data/nlpcc-kbqa) whose gold
subject is not written in the question as the graph names it: the normalised gold subject (NFKC,
no spaces, lower case, no 《》) is not a substring of the normalised question (a bracketed
disambiguator, a descriptor, part of a name, a misspelling).

* ``subset``: those whose gold predicate is a DuIE schema predicate (the selection of
  ``bench_qa.nlpcc_questions``), asked with the workspace's registered qa model against a fresh
  graph of their gold triples plus distractors: the gold triples of every other NLPCC training
  question (any predicate), so homonyms and other names are there. Figures: accuracy (the gold
  object among the answers), confidently wrong (answered, gold object not among the answers),
  abstained, failures by kind; and ../shared/tools/rule_baseline.py on the same questions and
  distractors (written as NLPCC-format files in a temporary folder).
* ``all_predicates``: every such question whatever its predicate, against the same graph. Most
  of their predicates are no intent of the qa model, so only the entity is scored: the entity
  the best reading takes, and whether the gold subject is among the entity candidates.

Usage: python scripts/bench_mentions.py [--config configs/kgqa.yaml] [--workspace DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench_qa import failure_kind, parse_nlpcc  # noqa: E402  (scripts/ is on the path when run)

from kgqa_cli.answering.pipeline import Answerer
from kgqa_cli.graph.normalize import normalize_name
from kgqa_cli.io import write_json, write_jsonl
from kgqa_cli.settings import load_settings

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "bench" / "mentions.json"
SHARED = REPO.parent / "shared" / "data"
NLPCC = SHARED / "nlpcc-kbqa" / "nlpcc-iccpol-2016.kbqa.training-data"
SCHEMA = SHARED / "duie" / "duie_schema.json"
BASELINE = REPO.parent / "shared" / "tools" / "rule_baseline.py"


def plain(text: str) -> str:
    """Text as compared for "written as the graph names it": normalised, no spaces or 《》, lower case."""
    return normalize_name(text).replace(" ", "").replace("《", "").replace("》", "").lower()


def nlpcc_triples() -> list[dict]:
    """Every NLPCC training question with its gold triple: {question, subject, predicate, object, answer}."""
    rows = []
    for item in parse_nlpcc(NLPCC):
        parts = [part.strip() for part in item["triple"].split("|||")]
        if len(parts) != 3:
            continue
        subject, predicate, obj = parts
        predicate = predicate.replace(" ", "")
        if normalize_name(subject) and normalize_name(obj) and predicate:
            rows.append({"question": item["question"], "subject": subject, "predicate": predicate,
                         "object": obj, "answer": item["answer"]})
    return rows


def write_nlpcc(path: Path, rows: list[dict]) -> None:
    """Rows in the NLPCC file format (question, triple, answer blocks)."""
    blocks = []
    for number, row in enumerate(rows, start=1):
        blocks.append(f"<question id={number}>\t{row['question']}\n"
                      f"<triple id={number}>\t{row['subject']} ||| {row['predicate']} ||| {row['object']}\n"
                      f"<answer id={number}>\t{row['answer']}\n" + "=" * 50 + "\n")
    path.write_text("".join(blocks), encoding="utf-8")


def run_rule_baseline(subset: list[dict], distractors: list[dict]) -> dict:
    """The rule baseline on the subset, its graph the subset's and the distractors' triples."""
    if not BASELINE.is_file():
        return {"skipped": f"{BASELINE} is absent"}
    with tempfile.TemporaryDirectory() as folder:
        asked, others = Path(folder) / "subset.txt", Path(folder) / "distractors.txt"
        write_nlpcc(asked, subset)
        write_nlpcc(others, distractors)
        done = subprocess.run([sys.executable, str(BASELINE), str(SCHEMA), str(asked), str(others)],
                              capture_output=True, text=True, timeout=600, check=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("rule_baseline:"))
    right, total = line.split(":")[1].split("=")[0].strip().split("/")
    return {"accuracy": round(int(right) / max(int(total), 1), 4), "correct": int(right), "count": int(total),
            "output": line.strip(),
            "command": f"python3 {BASELINE} {SCHEMA} <subset as NLPCC> <distractors as NLPCC>"}


def load_graph(rows: list[dict], config_path: Path | None, root: Path):
    """A fresh graph file of the rows' gold triples (DuIE types where the schema has the predicate)."""
    from kgqa_cli.data.records import Record, SlotValues, Triple
    from kgqa_cli.data.schema import Schema
    from kgqa_cli.graph.bulkload import run_bulkload

    relations = {r.predicate: r for r in Schema.load(SCHEMA).relations}
    records = []
    for row in rows:
        relation = relations.get(row["predicate"])
        records.append(Record(text=row["question"], spo_list=[Triple(
            subject=row["subject"], subject_type=relation.subject_type if relation else "实体",
            predicate=row["predicate"], object=SlotValues.of(row["object"]),
            object_type=SlotValues.of(relation.object_value_type if relation else "实体"))]).to_json())
    write_jsonl(root / "gold.jsonl", records)
    loading = load_settings(config_path, {"workspace": str(root / "ws"), "graph.path": str(root / "graph.db"),
                                          "graph.url": None, "graph.mode": "replace"})
    report = run_bulkload(loading.graph, loading.paths, root / "gold.jsonl", show_progress=False)
    return loading.graph, report


def difference_kind(row: dict) -> str:
    """How the question writes the gold subject otherwise."""
    subject, question = plain(row["subject"]), plain(row["question"])
    base = subject.split("(")[0].split("（")[0]
    if base != subject and base in question:
        return "bracketed disambiguator left out"
    if any(dot in subject for dot in "·・•.") and any(part and part in question for part in
                                                    subject.replace("・", "·").replace("•", "·").split("·")):
        return "part of a transliterated name"
    if any(subject[i:j] in question for i in range(len(subject)) for j in range(i + 2, len(subject) + 1)
           if j - i >= max(2, len(subject) // 2)):
        return "partial or extended name"
    return "other (misspelt, unrelated)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=None, help="project config [default: configs/kgqa.yaml]")
    parser.add_argument("--workspace", type=Path, default=None, help="workspace whose qa model asks [default: the config's]")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"result file [default: {DEFAULT_OUT}]")
    args = parser.parse_args()
    from kgqa_cli.data.schema import Schema

    settings = load_settings(args.config, {"workspace": str(args.workspace)} if args.workspace else None)
    duie = {r.predicate for r in Schema.load(SCHEMA).relations}
    rows = nlpcc_triples()
    differs = [row for row in rows if plain(row["subject"]) not in plain(row["question"])]
    subset = [row for row in differs if row["predicate"] in duie]
    distractors = [row for row in rows if row not in subset]
    root = Path(tempfile.mkdtemp(prefix="bench-mentions-"))
    started = time.perf_counter()
    graph, report = load_graph(subset + distractors, args.config, root)
    result: dict = {"questions_read": len(rows), "written_otherwise": len(differs),
                    "graph": {"triples": "the subset's gold triples and every other NLPCC training question's",
                              "vertices": report["vertices"]["added"], "edges": report["edges"]["added"],
                              "load_seconds": round(time.perf_counter() - started, 1)}}
    with Answerer(settings.model_copy(update={"graph": graph})) as answerer:
        result["model"] = f"{answerer.version_name} of {settings.paths.root}; no NLPCC text in its training data"
        answerer.warm()
        # The subset: answers.
        kinds, written, per_row = Counter(), Counter(), []
        for row in subset:
            answer = answerer.answer(row["question"])
            ok = plain(row["object"]) in {plain(a) for a in answer.answers}
            kind = "right" if ok else failure_kind(answer, row["subject"], row["predicate"])
            kinds[kind] += 1
            written[difference_kind(row)] += 1
            per_row.append({**{k: row[k] for k in ("question", "subject", "predicate", "object")},
                            "written": difference_kind(row), "entity": answer.entity, "read_as": answer.predicate,
                            "answers": answer.answers[:5], "reason": answer.reason, "correct": ok})
        count = max(len(subset), 1)
        answered_wrong = sum(1 for r in per_row if not r["correct"] and r["reason"] is None)
        abstained = sum(1 for r in per_row if r["reason"] is not None)
        baseline = run_rule_baseline(subset, distractors)
        accuracy = round(sum(r["correct"] for r in per_row) / count, 4)
        result["subset"] = {
            "selection": "gold predicate a DuIE schema predicate, gold subject not written in the question",
            "count": len(subset), "accuracy": accuracy,
            "confidently_wrong": round(answered_wrong / count, 4), "abstained": round(abstained / count, 4),
            "failures_by_kind": {k: n for k, n in kinds.most_common() if k != "right"},
            "written_by_kind": dict(written.most_common()),
            "rule_baseline": baseline,
            "ahead_of_rule_baseline": round(accuracy - baseline["accuracy"], 4) if "accuracy" in baseline else None,
            "questions": per_row,
        }
        # Every predicate: the entity alone.
        linked, among, by_kind = 0, 0, Counter()
        misses = []
        for row in differs:
            answer = answerer.answer(row["question"])
            candidates, _ = answerer.interpreter.entity_candidates(
                row["question"], getattr(answer, "tags", None) or _tags(answerer, row["question"]), answer.slots, None)
            gold = normalize_name(row["subject"])
            top = (answer.entity or {}).get("name") or (candidates[0].name if candidates else None)
            linked += top == gold
            among += gold in {c.name for c in candidates}
            kind = difference_kind(row)
            by_kind[(kind, top == gold)] += 1
            if top != gold:
                misses.append({"question": row["question"], "gold_subject": gold, "written": kind, "entity": top,
                               "candidates": [(c.name, c.method, round(c.score, 3)) for c in candidates[:4]]})
        kinds_seen = sorted({kind for kind, _ in by_kind})
        result["all_predicates"] = {
            "selection": "gold subject not written in the question, any predicate (entity scored, not the answer)",
            "count": len(differs), "entity_right": round(linked / max(len(differs), 1), 4),
            "gold_among_candidates": round(among / max(len(differs), 1), 4),
            "by_kind": {kind: {"count": by_kind[(kind, True)] + by_kind[(kind, False)], "entity_right": by_kind[(kind, True)]}
                        for kind in kinds_seen},
            "misses": misses,
        }
    shutil.rmtree(root, ignore_errors=True)
    write_json(args.out, result)
    summary = json.loads(json.dumps(result, ensure_ascii=False))
    summary["subset"]["questions"] = [
        {k: q[k] for k in ("question", "subject", "written", "answers", "reason", "correct")} for q in summary["subset"]["questions"]]
    summary["all_predicates"]["misses"] = len(summary["all_predicates"]["misses"])
    print(json.dumps(summary, ensure_ascii=False, indent=2))


def _tags(answerer: Answerer, question: str) -> list[str]:
    """The question model's BIO tags of a question."""
    from kgqa_cli.understanding.runtime import predict_batch

    return predict_batch(answerer.model, [question.strip()], top=None)[0].tags


if __name__ == "__main__":
    main()
