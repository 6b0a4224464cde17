"""Benchmark of the question model and `kgqa ask`; writes bench/qa.json (the repository's bench/).

Which model and graph it measures:

* The configured workspace (`make all`'s ``workspace/`` by default) when it holds a registered qa
  model and a graph: they are used as they are, so the demo questions are answered from whatever
  `make all` loaded (triples extracted from the demo corpus).
* Otherwise (or with ``--rebuild``) it builds a scratch demo workspace under
  ``<workspace>/bench/qa-demo``: the synthetic demo corpus (scripts/make_demo_corpus.py),
  `preprocess`, the gold triples of all three splits bulk-loaded into a fresh graph (standing in
  for the extracted ones), `questions` and `train qa` with the configured settings. The training
  time is recorded as ``qa_train_seconds``.

Figures:

* ``intent_accuracy``, ``slot_f1``, ``sentence_accuracy``: the generated test questions, whose
  entity names never occur in a training question.
* ``demo_questions`` (question, expected, got, correct) and ``demo_questions_correct``: the eight
  demo questions; correct when every expected answer is among the answers.
* ``ask_latency_ms_p50``/``p99``: warm in-process :class:`Answerer` calls (model loaded, graph
  open), the demo questions asked 25 times each; ``load_average`` says how busy the machine was.
* ``cold_ask_seconds``: one `kgqa ask` subprocess, start to exit.
* ``bert_base_sized``: cold and warm `ask` (and the cold command's peak RSS) with a question model
  of bert-base-chinese's size on the pretrained path, random weights trained one epoch: time and
  memory only (``--skip-bert-base`` leaves it out).
* ``nlpcc``: when ../shared/data/nlpcc-kbqa is present, the NLPCC 2016 KBQA training questions
  whose gold predicate is a DuIE schema predicate, asked of the same qa model (trained on
  synthetic demo names only, never on NLPCC text) against a fresh graph holding just those
  questions' gold triples; correct when the gold object is among the answers.

Usage: python scripts/bench_qa.py [--config configs/kgqa.yaml] [--workspace DIR] [--rebuild] [--skip-nlpcc]
       [--skip-bert-base] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from reliability import percentile  # noqa: E402  (scripts/ is on the path when run)

from kgqa_cli.answering.pipeline import Answerer
from kgqa_cli.errors import MissingArtifactError
from kgqa_cli.graph.normalize import normalize_name
from kgqa_cli.io import write_json, write_jsonl
from kgqa_cli.settings import load_settings
from kgqa_cli.understanding.questions import read_questions

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "bench" / "qa.json"
SHARED = REPO.parent / "shared" / "data"

# The eight demo questions and the answers the demo corpus holds for them.
DEMO_QUESTIONS = [
    ("三度诱惑的导演是谁", ["何藩"]),
    ("何藩导演了哪些电视剧", ["长街旧梦", "浮城往事"]),  # 三度诱惑 (a film) may come too
    ("我乔布斯是谁写的", ["苏云帆"]),
    ("妖精凄卟曲之美男就地扑倒的作者是谁", ["月下听风"]),
    ("许晋亨的配偶是谁", ["李嘉欣"]),
    ("李嘉欣和谁结婚了", ["许晋亨"]),
    ("决胜是谁的作品", ["钟远山"]),
    ("林晓蔚毕业于哪里", ["清华大学"]),
]


def build_demo_workspace(config_path: Path | None, root: Path, overrides: dict | None = None):
    """Demo corpus -> preprocess -> gold graph -> questions -> trained qa model, under ``root``
    (``overrides``: dotted config keys laid over the config)."""
    from kgqa_cli.data.preprocess import SPLITS, run_preprocess
    from kgqa_cli.graph.bulkload import run_bulkload
    from kgqa_cli.understanding.questions import generate_questions, graph_names_if_any
    from kgqa_cli.understanding.training import train_question_model

    shutil.rmtree(root, ignore_errors=True)
    raw = root / "raw"
    subprocess.run([sys.executable, str(REPO / "scripts" / "make_demo_corpus.py"), "--out", str(raw)],
                   check=True, capture_output=True)
    settings = load_settings(config_path, {"workspace": str(root / "ws"), "preprocess.input": str(raw),
                                           "graph.path": None, "graph.url": None, **(overrides or {})})
    run_preprocess(settings.preprocess, settings.paths)
    for split in SPLITS:
        run_bulkload(settings.graph, settings.paths, settings.paths.split_file(split), show_progress=False)
    names = graph_names_if_any(settings.graph, settings.paths) if settings.qa.questions.use_graph_names else []
    generate_questions(settings.qa.questions, settings.paths, names, settings.ask.context)
    started = time.perf_counter()
    train_question_model(settings.qa, settings.paths)
    return settings, round(time.perf_counter() - started, 1)


def generated_test_figures(settings, answerer: Answerer) -> dict:
    """Intent accuracy, slot F1 and sentence accuracy on questions_dir/test.jsonl."""
    from kgqa_cli.understanding.training import evaluate_examples

    path = settings.paths.questions_dir / "test.jsonl"
    examples = [e for e in read_questions(path) if e["intent"] in answerer.model.intents]
    report = evaluate_examples(answerer.model, examples)
    return {"test_questions": report["questions"],
            **{k: report[k] for k in ("intent_accuracy", "slot_f1", "sentence_accuracy")}}


def demo_figures(answerer: Answerer) -> dict:
    """The eight demo questions: expected, got, correct."""
    rows = []
    for question, expected in DEMO_QUESTIONS:
        answer = answerer.answer(question)
        rows.append({"question": question, "expected": expected, "got": answer.answers,
                     "correct": answer.answered and set(expected) <= set(answer.answers), "answered": answer.answered,
                     "intent": answer.intent, "entity": (answer.entity or {}).get("name"), "reason": answer.reason})
    return {"demo_questions_correct": sum(row["correct"] for row in rows),
            "demo_questions_total": len(rows),
            "demo_questions_confidently_wrong": sum(row["answered"] and not row["correct"] for row in rows),
            "demo_questions": rows}


def latency_figures(answerer: Answerer, rounds: int = 25) -> dict:
    """Warm per-question latency of the in-process Answerer."""
    for question, _ in DEMO_QUESTIONS:
        answerer.answer(question)  # warm-up: fuzzy index, caches
    timings = []
    for _ in range(rounds):
        for question, _ in DEMO_QUESTIONS:
            started = time.perf_counter()
            answerer.answer(question)
            timings.append((time.perf_counter() - started) * 1000)
    return {"ask_latency_ms_p50": round(statistics.median(timings), 2),
            "ask_latency_ms_p99": round(percentile(timings, 0.99), 2), "ask_latency_samples": len(timings)}


def cold_ask_seconds(config: Path | None, workspace: Path) -> float:
    """Wall time of one `kgqa ask` command (interpreter start, imports, model and graph load)."""
    kgqa = Path(sys.executable).with_name("kgqa")
    command = [str(kgqa), "ask", DEMO_QUESTIONS[0][0], "--json", "--workspace", str(workspace)]
    command += ["--config", str(config)] if config else []
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return round(time.perf_counter() - started, 2)


def parse_nlpcc(path: Path) -> list[dict]:
    """``<question id=N>``/``<triple id=N>``/``<answer id=N>`` blocks -> dicts."""
    items: dict[str, dict] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("<") or "\t" not in line:
            continue
        head, value = line.split("\t", 1)
        kind, number = head.strip("<>").split(" id=")
        items.setdefault(number, {})[kind] = value.strip()
    return [item for item in items.values() if {"question", "triple", "answer"} <= set(item)]


def nlpcc_questions() -> list[tuple[str, str, str, str]]:
    """(question, subject, predicate, object) of the NLPCC training questions whose gold
    predicate, spaces removed, is a DuIE schema predicate (the rule baseline's selection)."""
    from kgqa_cli.data.schema import Schema

    predicates = {r.predicate for r in Schema.load(SHARED / "duie" / "duie_schema.json").relations}
    kept = []
    for item in parse_nlpcc(SHARED / "nlpcc-kbqa" / "nlpcc-iccpol-2016.kbqa.training-data"):
        parts = [part.strip() for part in item["triple"].split("|||")]
        if len(parts) != 3:
            continue
        subject, predicate, obj = parts
        predicate = predicate.replace(" ", "")
        if predicate in predicates and normalize_name(subject) and normalize_name(obj):
            kept.append((item["question"], subject, predicate, obj))
    return kept


def rule_baseline() -> dict:
    """../shared/tools/rule_baseline.py on the same questions, run as its docstring says."""
    tool = REPO.parent / "shared" / "tools" / "rule_baseline.py"
    if not tool.is_file():
        return {"skipped": f"{tool} is absent"}
    done = subprocess.run([sys.executable, str(tool), str(SHARED / "duie" / "duie_schema.json"),
                           str(SHARED / "nlpcc-kbqa" / "nlpcc-iccpol-2016.kbqa.training-data")],
                          capture_output=True, text=True, timeout=600, check=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("rule_baseline:"))
    right, total = line.split(":")[1].split("=")[0].strip().split("/")
    return {"accuracy": round(int(right) / int(total), 4), "correct": int(right), "count": int(total),
            "output": line.strip(), "command": f"python3 {tool} duie_schema.json nlpcc-iccpol-2016.kbqa.training-data"}


def failure_kind(answer, subject: str, predicate: str) -> str:
    """Why a question went wrong: no answer (the reason), or which part of the reading was wrong."""
    if not answer.answered:
        return f"no answer: {answer.reason}"
    entity = (answer.entity or {}).get("name")
    if entity != normalize_name(subject):
        return "wrong entity"
    if answer.predicate != predicate:
        return "wrong predicate"
    return "right reading, other answer"


def nlpcc_figures(settings, config_path: Path | None, model_origin: str) -> dict:
    """Accuracy on NLPCC questions with a DuIE predicate, from a graph of their gold triples,
    with the rule baseline on the same data."""
    from collections import Counter

    from kgqa_cli.data.records import Record, SlotValues, Triple
    from kgqa_cli.data.schema import Schema
    from kgqa_cli.graph.bulkload import run_bulkload

    schema = Schema.load(SHARED / "duie" / "duie_schema.json")
    relations = {r.predicate: r for r in schema.relations}
    kept = nlpcc_questions()
    root = settings.paths.bench_dir / "qa-nlpcc"
    shutil.rmtree(root, ignore_errors=True)
    gold = root / "gold.jsonl"
    write_jsonl(gold, [
        Record(text=q, spo_list=[Triple(subject=s, subject_type=relations[p].subject_type, predicate=p,
                                        object=SlotValues.of(o), object_type=SlotValues.of(relations[p].object_value_type))
               ]).to_json()
        for q, s, p, o in kept
    ])
    # The gold triples go into a graph file of their own (and their Neptune CSV into a scratch
    # workspace); the questions are asked with the measured workspace's registered qa model.
    loading = load_settings(config_path, {"workspace": str(root / "ws"), "graph.path": str(root / "graph.db"),
                                          "graph.url": None, "graph.mode": "replace"})
    run_bulkload(loading.graph, loading.paths, gold, show_progress=False)
    asking = settings.model_copy(update={"graph": loading.graph})
    rows, correct, wrong, kinds = [], 0, 0, Counter()
    with Answerer(asking) as answerer:
        for question, subject, predicate, obj in kept:
            answer = answerer.answer(question)
            ok = normalize_name(obj) in {normalize_name(a) for a in answer.answers}
            correct += ok
            wrong += answer.answered and not ok
            if not ok:
                kinds[failure_kind(answer, subject, predicate)] += 1
            rows.append({"question": question, "predicate": predicate, "gold": obj, "intent": answer.intent,
                         "entity": (answer.entity or {}).get("name"), "read_as": answer.predicate,
                         "slots": answer.slots, "answers": answer.answers[:5], "reason": answer.reason,
                         "detail": answer.detail, "correct": ok})
    baseline = rule_baseline()
    accuracy = round(correct / max(len(kept), 1), 4)
    return {
        "accuracy": accuracy, "count": len(kept), "correct": correct,
        "confidently_wrong": round(wrong / max(len(kept), 1), 4), "confidently_wrong_count": wrong,
        "abstained": len(kept) - correct - wrong,
        "rule_baseline": baseline,
        "ahead_of_rule_baseline": round(accuracy - baseline["accuracy"], 4) if "accuracy" in baseline else None,
        "failures_by_kind": {kind: {"count": n, "share": round(n / len(kept), 4)} for kind, n in kinds.most_common()},
        "model": f"{model_origin}; no NLPCC text in its training data",
        "graph": "fresh graph of the gold triples of these questions only",
        "failures": [r for r in rows if not r["correct"]][:60],
    }


def followup_figures(settings, answerer: Answerer, wanted: int = 150, seed: int = 5) -> dict:
    """Two-turn conversations from the generated test questions: a first question with its
    entity named, then a follow-up from the test split whose referring word can only mean one
    of the first turn's entity and (single) answer. Right when the follow-up takes that entity
    from the context; answered right when its answers are that entity's in the graph."""
    import random

    from kgqa_cli.answering.conversation import Conversation
    from kgqa_cli.graph import queries
    from kgqa_cli.understanding.runtime import tagged_spans

    examples = read_questions(settings.paths.questions_dir / "test.jsonl")
    known = set(answerer.model.intents)
    firsts = [e for e in examples if e["intent"] in known and e["intent"] != "none"
              and not any(t.endswith("context") for t in e["slots"])]
    follows = [e for e in examples if e["intent"] in known and any(t.endswith("context") for t in e["slots"])]
    kind_of_word = {word: kind for kind, words in settings.ask.context.references.items() for word in words}
    rng = random.Random(seed)
    rng.shuffle(follows)
    interpreter = answerer.interpreter
    turns, resolved, answered_right, answered_wrong, skipped = [], 0, 0, 0, 0
    for follow in follows:
        if len(turns) >= wanted:
            break
        span = next(((s, e) for kind, s, e in tagged_spans(follow["slots"]) if kind == "context"), None)
        word = follow["text"][span[0]:span[1]] if span else None
        kind = kind_of_word.get(word)
        route = (answerer.model.routes.get(follow["intent"]) or [None])[0]
        if kind is None or route is None:
            skipped += 1
            continue
        for first in rng.sample(firsts, min(40, len(firsts))):
            conversation = Conversation()
            one = answerer.answer(first["text"], conversation)
            if not one.answered or len(one.answers) != 1:
                continue
            entity, answer = one.entity["name"], one.answers[0]
            order = [answer, entity]  # the resolution order: the one answer, then the entity
            fits = [name for name in order if kind in interpreter.kind_of(interpreter.profile(name))]
            if not fits or (len(fits) == 2 and fits[0] == fits[1]):
                continue
            target = fits[0]
            profile = interpreter.profile(target)
            labels = profile.out_labels if route["direction"] == "forward" else profile.in_labels
            if route["predicate"] not in labels:
                continue
            traversal = (queries.objects_of if route["direction"] == "forward" else queries.subjects_of)(
                answerer.store.g, target, route["predicate"])
            expected = sorted({row["name"] for row in queries.run(traversal)})
            two = answerer.answer(follow["text"], conversation)
            right = bool(two.context) and two.context["entity"] == target
            resolved += right
            good = right and sorted(two.answers) == expected[: len(two.answers)] and bool(two.answers)
            answered_right += good
            answered_wrong += two.answered and not good
            turns.append({"first": first["text"], "first_answer": one.answers, "follow_up": follow["text"],
                          "reference": word, "expected_entity": target,
                          "got_entity": (two.context or {}).get("entity") or (two.entity or {}).get("name"),
                          "answers": two.answers[:5], "resolved": right})
            break
        else:
            skipped += 1
    return {"conversations": len(turns), "resolved_right": round(resolved / max(len(turns), 1), 4),
            "answered_right": round(answered_right / max(len(turns), 1), 4),
            "confidently_wrong": round(answered_wrong / max(len(turns), 1), 4), "target_resolved": 0.95,
            "source": "first turns and follow-ups from the generated test split (names held out from training)",
            "wrong": [t for t in turns if not t["resolved"]][:20]}


def large_graph_figures(settings, edges: int, questions: int = 300, seed: int = 11) -> dict:
    """Warm `ask` latency on a synthetic graph of ``edges`` edges over the demo schema's
    predicates (random made-up names), each question about a different entity, so that no
    entity's edges are cached from an earlier question."""
    import random

    from kgqa_cli.data.records import Record, SlotValues, Triple
    from kgqa_cli.data.schema import Schema
    from kgqa_cli.graph.bulkload import run_bulkload
    from kgqa_cli.understanding.templates import load_templates

    rng = random.Random(seed)
    schema = Schema.load(settings.paths.schema_file)
    relations = list(schema.relations)
    family, given = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗", "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰"
    pool = [rng.choice(family) + "".join(rng.choice(given) for _ in range(2)) + str(i) for i in range(edges // 2)]
    root = settings.paths.bench_dir / "qa-large"
    shutil.rmtree(root, ignore_errors=True)
    corpus = root / "large.jsonl"
    facts = []
    with_edges: dict[str, list[str]] = {}
    records = []
    for _ in range(edges):
        relation = rng.choice(relations)
        subject, obj = rng.sample(pool, 2)
        records.append(Record(text=subject + obj, spo_list=[Triple(
            subject=subject, subject_type=relation.subject_type, predicate=relation.predicate,
            object=SlotValues.of(obj), object_type=SlotValues.of(relation.object_value_type))]).to_json())
        if len(with_edges) < questions * 4:
            with_edges.setdefault(subject, []).append(relation.predicate)
            facts.append((subject, relation.predicate))
    write_jsonl(corpus, records)
    del records
    loading = load_settings(None, {"workspace": str(root / "ws"), "graph.path": str(root / "graph.db"),
                                   "graph.url": None, "graph.mode": "replace"})
    started = time.perf_counter()
    report = run_bulkload(loading.graph, loading.paths, corpus, show_progress=False)
    load_seconds = time.perf_counter() - started
    templates = {t.predicate: t for t in load_templates(settings.qa.questions.templates).intents
                 if t.direction == "forward" and t.predicate}
    asked = [(subject, predicate) for subject, predicate in dict(facts).items() if predicate in templates]
    rng.shuffle(asked)
    asked = asked[:questions]
    asking = settings.model_copy(update={"graph": loading.graph})
    timings, right = [], 0
    with Answerer(asking) as answerer:
        started = time.perf_counter()
        answerer.warm()
        warm_seconds = time.perf_counter() - started
        for subject, predicate in asked:
            text = rng.choice(templates[predicate].templates).replace("{entity}", subject)
            started = time.perf_counter()
            answer = answerer.answer(text)
            timings.append((time.perf_counter() - started) * 1000)
            right += answer.entity is not None and answer.entity["name"] == subject and answer.predicate == predicate
    return {"edges": report["edges"]["added"], "vertices": report["vertices"]["added"],
            "load_seconds": round(load_seconds, 1), "name_dictionary_seconds": round(warm_seconds, 2),
            "questions": len(timings), "ask_latency_ms_p50": round(statistics.median(timings), 2),
            "ask_latency_ms_p99": round(percentile(timings, 0.99), 2), "read_right": round(right / max(len(timings), 1), 4)}


def bert_base_figures(config_path: Path | None, root: Path) -> dict:
    """Cold and warm `ask` with a question model the size of bert-base-chinese (12 layers, 768
    wide, its 21,128-token vocabulary) fine-tuned through ``qa.model.encoder: pretrained``.

    Its weights are random (nothing can be downloaded here) and it trains one epoch on a few
    questions per intent: the figures are about time and memory at question time, which depend on
    the network's size and not on its weights; its accuracy is not a figure of anything.
    """
    vocab = SHARED / "bert-chinese" / "vocab.txt"
    if not vocab.exists():
        return {"skipped": f"{vocab} is absent"}
    from transformers import BertConfig, BertModel, BertTokenizer

    shutil.rmtree(root, ignore_errors=True)
    folder = root / "bert-base-sized"
    folder.mkdir(parents=True)
    tokenizer = BertTokenizer(vocab=str(vocab))
    tokenizer.save_pretrained(str(folder))
    # BertConfig(): bert-base's sizes; one id a line of vocab.txt (its file holds some tokens twice)
    BertModel(BertConfig(vocab_size=max(tokenizer.get_vocab().values()) + 1)).save_pretrained(str(folder))
    settings, train_seconds = build_demo_workspace(config_path, root / "demo", {
        "qa.model.encoder": "pretrained", "qa.model.pretrained": str(folder), "qa.train.epochs": 1,
        "qa.questions.per_intent": {"train": 10, "dev": 2, "test": 2}})
    model_bytes = sum(path.stat().st_size for path in (settings.paths.root / "registry").rglob("*") if path.is_file())
    result = {"encoder": "random weights in bert-base-chinese's shape (12 layers, 768 wide, 21,128 tokens)",
              "train_seconds_one_epoch": train_seconds, "registry_mb": round(model_bytes / 2**20, 1)}
    with Answerer(settings) as answerer:
        result["model_version"] = answerer.version_name
        result.update(latency_figures(answerer))
    command = [str(Path(sys.executable).with_name("kgqa")), "ask", DEMO_QUESTIONS[0][0], "--json", "--workspace",
               str(settings.paths.root), *(["--config", str(config_path)] if config_path else [])]
    result.update({f"cold_ask_{key}": value for key, value in run_measured(command).items()})
    return result


# A child forked from this process (which holds models) would count this process's memory as
# its own peak until it execs; a small launcher process forks the command instead.
_LAUNCHER = """import json, os, subprocess, sys, time
started = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
print(json.dumps({"seconds": round(time.perf_counter() - started, 2), "exit_code": os.waitstatus_to_exitcode(status),
                  "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}))
"""


def run_measured(command: list[str]) -> dict:
    """Wall seconds, exit code and peak RSS of one command, measured by a launcher process."""
    done = subprocess.run([sys.executable, "-c", _LAUNCHER, *command], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=None, help="project config [default: configs/kgqa.yaml]")
    parser.add_argument("--workspace", type=Path, default=None, help="workspace to measure [default: the config's]")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"result file [default: {DEFAULT_OUT}]")
    parser.add_argument("--rebuild", action="store_true", help="build the scratch demo workspace even if one exists")
    parser.add_argument("--skip-nlpcc", action="store_true")
    parser.add_argument("--skip-bert-base", action="store_true",
                        help="leave out the cold and warm ask of a bert-base-sized question model (minutes to train)")
    parser.add_argument("--large-graph", type=int, default=1_000_000,
                        help="edges of the synthetic graph for the latency figure (0: skip)")
    args = parser.parse_args()
    settings = load_settings(args.config, {"workspace": str(args.workspace)} if args.workspace else None)
    result: dict = {"cpus": os.cpu_count()}
    answerer = None
    if not args.rebuild:
        try:
            answerer = Answerer(settings)
            result["source"] = f"workspace {settings.paths.root} (its registered model and graph)"
        except MissingArtifactError as exc:
            print(f"{exc.message}: building a scratch demo workspace", file=sys.stderr)
    if answerer is None:
        settings, train_seconds = build_demo_workspace(args.config, settings.paths.bench_dir / "qa-demo")
        result["source"] = f"scratch demo workspace {settings.paths.root} (gold demo triples, model trained here)"
        result["qa_train_seconds"] = train_seconds
        answerer = Answerer(settings)
    with answerer:
        result["model_version"] = answerer.version_name
        result["runtime"] = "numpy (no torch at question time)"
        result.update(generated_test_figures(settings, answerer))
        result.update(demo_figures(answerer))
        result["load_average"] = [round(x, 2) for x in os.getloadavg()]
        result.update(latency_figures(answerer))
        result["followups"] = followup_figures(settings, answerer)
    result["cold_ask_seconds"] = cold_ask_seconds(args.config, settings.paths.root)
    if args.large_graph:
        result["large_graph"] = large_graph_figures(settings, args.large_graph)
    if not args.skip_bert_base:
        result["bert_base_sized"] = bert_base_figures(args.config, settings.paths.bench_dir / "qa-bert-base")
    if args.skip_nlpcc:
        result["nlpcc"] = "skipped (--skip-nlpcc)"
    elif not (SHARED / "nlpcc-kbqa").is_dir():
        result["nlpcc"] = f"skipped: {SHARED / 'nlpcc-kbqa'} is absent"
    else:
        origin = f"qa model {result['model_version']} of {result['source']}"
        result["nlpcc"] = nlpcc_figures(settings, args.config, origin)
    write_json(args.out, result)
    summary = {k: v for k, v in result.items() if k != "demo_questions"}
    if isinstance(summary["nlpcc"], dict):
        summary["nlpcc"] = {k: v for k, v in summary["nlpcc"].items() if k != "failures"}
    print(json.dumps(summary, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
