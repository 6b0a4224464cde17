"""Benchmark of the triple extractor; writes bench/extraction.json.

(a) demo corpus: generate, preprocess, train and evaluate with the default config -> test F1;
(b) real data: DuIE 2.0 train subsets in ../shared/data/duie, 10% held out (deterministic split
    by preprocess, seed 13) plus 5% dev for early stopping -> held-out F1, seconds per epoch, peak RSS;
(c) extract throughput in sentences/s at batch 1 and at batch 64 with the demo model;
(d) unless ``--no-ablation``: the real-data run of (b) once per ablation row, each row's config the
    project config with the row's changes. By default the six default rows (the current model, + word
    lexicon, + SKE sentences with the unlabelled channels masked, + pretraining of the encoder on
    every text we have, + training changes, all together) and all together + self-training on
    the test1 sentences as the all-together model labels them; ``--rows all`` adds + subject-type
    head, + relative positions, + character bigrams, all together + mention replacement, the
    ensemble of the all-together row's model with the same config trained on two more seeds
    (`kgqa ensemble`), and that config trained once more with the ensemble as teacher
    (kg.train.distill). Into ``duie_ablation``: held-out P/R/F1, seconds per epoch, epochs to the
    best dev F1, peak RSS, errors by kind, test1 extract throughput.
Rows live in folders of ``--workdir`` (bench/work/extraction): a re-run reads back every row
measured under the same definition, code, config and data, and resumes an interrupted row at its
unfinished step (training from its last epoch); ``--fresh`` starts over. ``--jobs N`` runs N rows
at once (a GPU machine: ``--override kg.train.device=cuda``); KGQA_SHARED_DATA points at a copy of
../shared/data; with KGQA_BENCH_LOGS each row's logs go to a file of that folder;
KGQA_BENCH_NO_THROUGHPUT=1 leaves out the test1 extract runs (a lease short of time).
Every stage runs the real `kgqa` command in a child process; peak memory is that child's max RSS.

Usage: python scripts/bench_extraction.py [--only demo|duie|ablation] [--no-ablation] [--rows NAME ...]
       [--jobs N] [--extra-rows FILE] [--override KEY=VALUE] [--table FILE] [--duie-epochs N]
       [--workdir DIR] [--fresh] [--out bench/extraction.json]
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# ../shared/data beside the checkout; KGQA_SHARED_DATA points elsewhere (a copy on a GPU machine).
DATA = Path(os.environ.get("KGQA_SHARED_DATA") or ROOT.parent / "shared" / "data")
DUIE = DATA / "duie"
DUIE_FILES = ("duie_train.first5000.json", "duie_train.sample4398.json", "duie_schema.json")
SKE = DATA / "ske" / "ske_train.first2000.json"
TEST1 = DUIE / "duie_test1.first5000.unlabeled.json"  # unlabelled: pretraining, throughput, self-training
# DuIE 2.0 predicates that the SKE (DuIE 1.0) data never labels (../shared/data/SOURCES.md).
SKE_UNLABELLED = ["主题曲", "代言人", "校长", "票房", "获奖", "配音", "饰演"]
WITH_SKE = {"preprocess": {"extra": [{"name": "ske", "input": str(SKE), "unlabelled": SKE_UNLABELLED}]},
            "kg": {"train": {"extra": ["ske"]}}}
WITH_LEXICON = {"kg": {"model": {"lexicon": {"enabled": True}}}}
WITH_TRAINING = {"kg": {"train": {"warmup_ratio": 0.05, "decay": "linear", "ema_decay": 0.999}}}
NLPCC = DATA / "nlpcc-kbqa" / "nlpcc-iccpol-2016.kbqa.training-data"
# Unlabelled text for `kgqa pretrain`: every text we have (its dev/test texts are left out by the command).
PRETRAIN_TEXTS = [DUIE / "duie_train.first5000.json", DUIE / "duie_train.sample4398.json",
                  TEST1, SKE, NLPCC]
WITH_PRETRAINING = {"kg": {"train": {"init": "latest"}, "pretrain": {"epochs": 3}}}
# CasRel on a BERT pretrained here by `kgqa pretrain --kg.pretrain.encoder bert` from the same texts,
# on bert-base-chinese's vocabulary, then fine-tuned through `kg.model.encoder: pretrained` exactly
# as a downloaded encoder is. Its size fits 2 CPU cores (4 layers, 128 wide); its epochs are capped
# by BERT_EPOCHS, since each costs several LSTM epochs there.
BERT_VOCAB = DATA / "bert-chinese" / "vocab.txt"
WITH_BERT = {"kg": {"pretrain": {"encoder": "bert", "vocab": str(BERT_VOCAB), "epochs": 3, "lr": 0.001,
                                 "bert_layers": 4, "bert_hidden": 128, "bert_heads": 4, "bert_intermediate": 512},
                    "train": {"encoder_lr": 0.0001}}}
BERT_EPOCHS = 8
WITH_SUBJECT_TYPES = {"kg": {"model": {"subject_types": True}}}
WITH_POSITIONS = {"kg": {"model": {"relative_positions": 30}}}
WITH_BIGRAMS = {"kg": {"model": {"bigram_dim": 64}}}
# The real-data split of every row, and the batch of its test1 extract runs.
SPLIT = ["--preprocess.test_ratio", "0.1", "--preprocess.dev_ratio", "0.05", "--preprocess.seed", "13"]
EXTRACT_BATCH = "64"
def merged(base: dict, changes: dict) -> dict:
    """``base`` with ``changes`` laid over it, section by section."""
    out = dict(base)
    for key, value in changes.items():
        out[key] = merged(out.get(key) or {}, value) if isinstance(value, dict) else value
    return out


# The rows of the ablation: name -> changes to the project config.
ABLATION = {
    "current": {},
    "+ lexicon": WITH_LEXICON,
    "+ SKE data": WITH_SKE,
    "+ pretraining": WITH_PRETRAINING,
    "+ training changes": WITH_TRAINING,
    "+ subject-type head": WITH_SUBJECT_TYPES,
    "+ relative positions": WITH_POSITIONS,
    "+ character bigrams": WITH_BIGRAMS,
    "CasRel on a BERT pretrained here": WITH_BERT,
    "all together": {"preprocess": WITH_SKE["preprocess"],
                     "kg": {"model": WITH_LEXICON["kg"]["model"], "pretrain": WITH_PRETRAINING["kg"]["pretrain"],
                            "train": {**WITH_SKE["kg"]["train"], **WITH_TRAINING["kg"]["train"],
                                      **WITH_PRETRAINING["kg"]["train"]}}},
}
# Mention replacement: one copy of each training sentence with its names swapped (kg.train.augment).
ABLATION["all together + mention replacement"] = merged(ABLATION["all together"],
                                                        {"kg": {"train": {"augment": {"copies": 1}}}})
# Self-training: a student row trains on the teacher row's data and config plus the 5,000
# unlabelled test1 sentences as the teacher's model labels them (`kgqa extract`, read back as a
# `preprocess.extra` source). Student row -> teacher row; the student runs after its teacher.
STUDENTS = {"all together + self-training": "all together"}
# Ensembles (`kgqa ensemble`): a copy of the base row's workspace trains the base config again
# with more seeds; the base row's model and those vote. Ensemble row -> (base row, more seeds);
# the base is a row of ABLATION other than "current" (whose figures may come from part (b)).
ENSEMBLES = {"all together, ensemble of seeds 13, 7, 29": ("all together", [7, 29])}
# Distillation (kg.train.distill): a copy of the ensemble row's workspace trains the ensemble's
# base config once more (seed 13), taught by the ensemble. Distilled row -> ensemble row.
DISTILLED = {"all together, distilled from its ensemble of seeds 13, 7, 29": "all together, ensemble of seeds 13, 7, 29"}


# The rows `make bench` runs: the default ablation and the configuration the docs recommend for
# a real corpus with unlabelled text; `--rows all` runs every row above (hours more on 2 cores).
DEFAULT_ROWS = ["current", "+ lexicon", "+ SKE data", "+ pretraining", "+ training changes", "all together",
                "all together + self-training", "CasRel on a BERT pretrained here"]
# The bench's folder of rows: each row's data, workspace and figures stay there, so that a re-run
# skips the rows already measured and resumes an interrupted one (--fresh starts over).
WORKDIR = ROOT / "bench" / "work" / "extraction"


def slug(name: str) -> str:
    """A row's folder name: ``+ SKE data`` -> ``plus-ske-data``."""
    return re.sub(r"[^0-9a-z]+", "-", name.lower().replace("+", "plus")).strip("-")


def source_fingerprint() -> str:
    """What decides every row's figures: kgqa's code, the project config, torch's version, the
    bench's split, pretraining texts and extract batch, and the size of every data file used. A
    row measured under other ones is measured again."""
    import torch

    digest = hashlib.sha256()
    for path in sorted([*(ROOT / "kgqa_cli").rglob("*.py"), ROOT / "configs" / "kgqa.yaml"]):
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    digest.update(json.dumps([torch.__version__, SPLIT, EXTRACT_BATCH, [str(p) for p in PRETRAIN_TEXTS]]).encode())
    for path in [*(DUIE / name for name in DUIE_FILES), SKE, TEST1, NLPCC]:
        digest.update(f"{path.name}:{path.stat().st_size if path.exists() else None}".encode())
    return digest.hexdigest()


def write_atomically(path: Path, data: Any) -> None:
    """``data`` as JSON at ``path``, never half-written: a kill leaves the old file or the new one."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(partial, path)


def read_json(path: Path) -> Any:
    """The JSON at ``path``, or None where it is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


class Steps:
    """One row's finished steps, kept in ``steps.json`` of its folder: a re-run of the bench takes
    their saved outputs instead of running them again. A training step that was under way when
    the bench stopped resumes from its last epoch (``kgqa train kg --resume``)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "steps.json"
        self.saved = read_json(self.path) or {}
        self.resumed: list[str] = []

    def _save(self) -> None:
        write_atomically(self.path, self.saved)

    def run(self, name: str, action: Callable[[], Any]) -> Any:
        """``action()``'s output, run once: a later run of the row reads it back. A step that
        fails (raises) is not saved: the next run tries it again."""
        if name in self.saved.get("done", {}):
            return self.saved["done"][name]
        value = action()
        self.saved.setdefault("done", {})[name] = value
        self._save()
        return value

    def train(self, name: str, workspace: Path, action: Callable[[], Any]) -> Any:
        """A ``kgqa train kg --resume`` step: on its first start any checkpoint of an earlier
        training in ``workspace`` is discarded (--resume then starts afresh); on a later start it
        continues from the checkpoint its own interrupted run left."""
        if name in self.saved.get("done", {}):
            return self.saved["done"][name]
        started = self.saved.setdefault("started", [])
        if name in started:
            self.resumed.append(name)
        else:
            (workspace / "models" / "kg" / "last.pt").unlink(missing_ok=True)
            started.append(name)
            self._save()
        return self.run(name, action)


def row_config(folder: Path, changes: dict) -> Path:
    """The project config with one ablation row's changes, as ``config.yaml`` in its folder."""
    import yaml

    base = yaml.safe_load((ROOT / "configs" / "kgqa.yaml").read_text(encoding="utf-8"))
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(merged(base, changes), allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# Set on Ctrl-C: rows under way start no further command.
STOPPING = threading.Event()


def kgqa(*args: str, label: str | None = None) -> tuple[dict | None, float, float]:
    """Run one `kgqa` command; returns (its --json output or None, wall seconds, peak RSS in MB).
    With KGQA_BENCH_LOGS set to a folder, its log goes to ``<label>.log`` there (rows run at once)."""
    if STOPPING.is_set():
        raise SystemExit("the bench was interrupted")
    started = time.perf_counter()
    logs = os.environ.get("KGQA_BENCH_LOGS")
    stderr = open(Path(logs) / f"{label or 'bench'}.log", "a", encoding="utf-8") if logs else None  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "kgqa_cli", *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True,
    )
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if stderr is not None:
        stderr.close()
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if process.returncode not in (0, 5):  # 5: below the quality gate, still a measurement
        raise SystemExit(f"kgqa {' '.join(args)} failed with exit code {process.returncode}")
    try:
        data = json.loads(output) if output.strip() else None
    except ValueError:
        data = None
    return data, seconds, usage.ru_maxrss / 1024


def timed(*args: str, label: str | None = None) -> dict:
    """`kgqa` as a step's saved output: its --json output, wall seconds and peak RSS."""
    output, seconds, rss = kgqa(*args, label=label)
    return {"output": output, "seconds": round(seconds, 1), "peak_rss_mb": round(rss, 1)}
def bench_demo(scratch: Path, overrides: list[str]) -> dict:
    raw, workspace = scratch / "demo_raw", scratch / "demo_ws"
    subprocess.run([sys.executable, "scripts/make_demo_corpus.py", "--out", str(raw)], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    ws = ["--workspace", str(workspace)]
    kgqa("preprocess", str(raw), *ws, "--json")
    trained, train_seconds, train_rss = kgqa("train", "kg", *ws, "--json", *overrides)
    report, _, _ = kgqa("evaluate", "kg", *ws, "--json", "--min-f1", "0")
    from kgqa_cli.data.corpus import load_corpus

    texts = [record.text for record in load_corpus(raw / "duie_train.json")]
    sample = scratch / "extract_input.txt"
    sample.write_text("".join(text + "\n" for text in texts), encoding="utf-8")
    small = scratch / "extract_input_1000.txt"
    small.write_text("".join(text + "\n" for text in texts[:1000]), encoding="utf-8")
    batch64, _, _ = kgqa("extract", str(sample), "-o", str(scratch / "out64.jsonl"), "--batch-size", "64", *ws, "--json")
    batch1, _, _ = kgqa("extract", str(small), "-o", str(scratch / "out1.jsonl"), "--batch-size", "1", *ws, "--json")
    seeds = [("三度诱惑", "导演", "何藩"), ("许晋亨", "妻子", "李嘉欣"), ("李嘉欣", "丈夫", "许晋亨")]
    found = set()
    for record in load_corpus(scratch / "out64.jsonl"):
        found |= record.keys
    return {
        "demo_test_f1": report["f1"],
        "demo_test_precision": report["precision"],
        "demo_test_recall": report["recall"],
        "demo_dev_f1": trained["dev"]["f1"],
        "demo_epochs": trained["epochs_run"],
        "demo_seconds_per_epoch": round(sum(trained["seconds_per_epoch"]) / max(1, len(trained["seconds_per_epoch"])), 1),
        "demo_train_seconds": round(train_seconds, 1),
        "demo_peak_rss_mb": round(train_rss, 1),
        "demo_seed_facts_extracted": {" ".join(seed): seed in found for seed in seeds},
        "extract_sentences_per_s_batch1": batch1["sentences_per_second"],
        "extract_sentences_per_s_batch64": batch64["sentences_per_second"],
        "extract_sentences_batch1": batch1["sentences"],
        "extract_sentences_batch64": batch64["sentences"],
    }


def bench_duie(folder: Path, steps: Steps, overrides: list[str], config: Path, pretrain: bool = False) -> dict:
    """One real-data row in ``folder``: preprocess the DuIE split, pretrain where the row does,
    train, then ``measure``. Each step runs once (``steps``, the row's)."""
    if not all((DUIE / name).exists() for name in DUIE_FILES):
        return {"duie_heldout_f1": None, "duie_skipped": f"{DUIE} is absent"}
    label = folder.name
    raw, workspace = folder / "raw", folder / "ws"
    raw.mkdir(exist_ok=True)
    for name in DUIE_FILES:  # made again each run: KGQA_SHARED_DATA may point elsewhere now
        (raw / name).unlink(missing_ok=True)
        (raw / name).symlink_to(DUIE / name)
    ws = ["--workspace", str(workspace), "-c", str(config)]
    stats = steps.run("preprocess", lambda: kgqa("preprocess", str(raw), *ws, "--json", *SPLIT, label=label)[0])
    pretrained = None
    if pretrain:
        texts = [str(path) for path in PRETRAIN_TEXTS if path.exists()]
        pretrained = steps.run("pretrain", lambda: timed("pretrain", *texts, *ws, "--json", label=label))
    if pretrained is not None and pretrained["output"].get("encoder") == "bert":  # fine-tuned as a downloaded one is
        overrides = [*overrides, "--kg.model.encoder", "pretrained", "--kg.model.pretrained",
                     pretrained["output"]["model_dir"], "--kg.train.epochs", str(BERT_EPOCHS)]
    trained = steps.train("train", workspace, lambda: timed("train", "kg", *ws, "--json", *overrides, "--resume",
                                                            label=label))
    output = trained["output"]
    return {
        **measure(folder, steps, ws),
        "duie_model_version": output["model_version"],
        "duie_splits": {name: counts["sentences"] for name, counts in stats["splits"].items()},
        "duie_extra": {name: counts["sentences"] for name, counts in stats.get("extra", {}).items()},
        "duie_dev_f1": output["dev"]["f1"],
        "duie_best_epoch": output["best_epoch"],
        "duie_epochs": output["epochs_run"],
        "duie_seconds_per_epoch": mean_seconds(output["seconds_per_epoch"]),
        "duie_train_seconds": trained["seconds"],
        "duie_peak_rss_mb": trained["peak_rss_mb"],
        "duie_pretrain": None if pretrained is None else {  # characters of the Bi-LSTM's, tokens of a BERT's
            key: pretrained["output"][key] for key in ("model_version", "sentences", "characters", "tokens")
            if key in pretrained["output"]}
        | {"seconds": pretrained["seconds"], "masked_accuracy": pretrained["output"]["curve"][-1]["masked_accuracy"],
           "encoder": pretrained["output"].get("encoder")},
        "duie_curve": json.loads((Path(output["model_dir"]) / "curve.json").read_text(encoding="utf-8")),
    }


def mean_seconds(seconds: list[float]) -> float | None:
    """Mean of the ``seconds_per_epoch`` of `kgqa train kg --json` outputs (a resumed run counts
    the epochs before the interruption too), None where they ran none."""
    return round(sum(seconds) / len(seconds), 1) if seconds else None


def measure(folder: Path, steps: Steps, ws: list[str]) -> dict:
    """Held-out figures of the workspace's newest kg version, and its extract throughput on real
    text: the 5,000 unlabelled DuIE test1 sentences, batch 64, float32 and bfloat16."""
    label = folder.name
    report = steps.run("evaluate", lambda: kgqa("evaluate", "kg", *ws, "--json", "--min-f1", "0", label=label)[0])
    by_precision = {}  # the same held-out sentences in each precision: the F1 a faster path costs
    for precision, flag in (("float32", "false"), ("bfloat16", "true")):
        scored = steps.run(f"evaluate-{precision}", lambda flag=flag: kgqa(
            "evaluate", "kg", *ws, "--json", "--min-f1", "0", "--kg.extract.bfloat16", flag, label=label)[0])
        by_precision[precision] = {key: scored[key] for key in ("precision", "recall", "f1")}
    throughput = {}
    if TEST1.exists() and not os.environ.get("KGQA_BENCH_NO_THROUGHPUT"):
        for precision, flag in (("float32", "false"), ("bfloat16", "true")):
            def extract(precision=precision, flag=flag) -> dict:
                done = timed("extract", str(TEST1), "-o", str(folder / f"test1-{precision}.jsonl"),
                             "--batch-size", EXTRACT_BATCH, *ws, "--json", "--kg.extract.bfloat16", flag, label=label)
                return {"sentences_per_s": done["output"]["sentences_per_second"], "command_seconds": done["seconds"],
                        "peak_rss_mb": done["peak_rss_mb"], "sentences": done["output"]["sentences"]}
            try:
                throughput[precision] = steps.run(f"extract-{precision}", extract)
            except SystemExit as exc:  # the row's F1 stands without this figure; the next run tries it again
                throughput[precision] = {"failed": str(exc)}
    return {
        "duie_test1_extract": throughput,
        "duie_heldout_f1": report["f1"],
        "duie_heldout_precision": report["precision"],
        "duie_heldout_recall": report["recall"],
        "duie_heldout_sentences": report["sentences"],
        "duie_heldout_by_precision": by_precision,
        "duie_errors_by_kind": {kind: v["count"] for kind, v in report["errors"]["by_kind"].items()},
    }


def copy_workspace(steps: Steps, source: Path, target: Path) -> None:
    """``source`` copied to ``target`` once (an interrupted copy is made again)."""
    import shutil

    def copy() -> bool:
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target)
        return True

    steps.run("copy", copy)


def bench_ensemble(folder: Path, steps: Steps, overrides: list[str], base: Path, base_version: str,
                   seeds: list[int]) -> dict:
    """The base row's workspace copied, its config trained again with each seed, then `kgqa
    ensemble` of the base model and those, measured like a row (seconds per epoch: the new members')."""
    label, workspace = folder.name, folder / "ws"
    copy_workspace(steps, base / "ws", workspace)
    ws = ["--workspace", str(workspace), "-c", str(base / "config.yaml")]
    members, epochs, peak = [base_version], [], 0.0
    for seed in seeds:
        trained = steps.train(f"train-seed-{seed}", workspace, lambda seed=seed: timed(
            "train", "kg", *ws, "--json", *overrides, "--kg.train.seed", str(seed), "--resume", label=label))
        members.append(trained["output"]["model_version"])
        epochs += trained["output"]["seconds_per_epoch"]
        peak = max(peak, trained["peak_rss_mb"])
    built = steps.run("ensemble", lambda: kgqa("ensemble", *members, *ws, "--json", label=label)[0])
    return {
        **measure(folder, steps, ws),
        "duie_model_version": built["model_version"],
        "duie_dev_f1": built["dev"].get("f1"),
        "duie_members": built["members"],
        "duie_seconds_per_epoch": mean_seconds(epochs),
        "duie_peak_rss_mb": round(peak, 1),
    }


def bench_distilled(folder: Path, steps: Steps, overrides: list[str], base: Path, ensemble: Path, teacher: str) -> dict:
    """The ensemble row's workspace copied, the base row's config trained again with the ensemble
    (kg version ``teacher``) as teacher, measured like a row."""
    label, workspace = folder.name, folder / "ws"
    copy_workspace(steps, ensemble / "ws", workspace)
    ws = ["--workspace", str(workspace), "-c", str(base / "config.yaml")]
    trained = steps.train("train", workspace, lambda: timed(
        "train", "kg", *ws, "--json", *overrides, "--kg.train.distill.teacher", teacher, "--resume", label=label))
    output = trained["output"]
    return {
        **measure(folder, steps, ws),
        "duie_model_version": output["model_version"],
        "duie_teacher": teacher,
        "duie_best_epoch": output["best_epoch"],
        "duie_epochs": output["epochs_run"],
        "duie_seconds_per_epoch": mean_seconds(output["seconds_per_epoch"]),
        "duie_peak_rss_mb": trained["peak_rss_mb"],
    }


def row_dependency(name: str) -> str | None:
    """The row whose model this one builds on: a student's teacher, an ensemble's base, a distilled row's ensemble."""
    return STUDENTS.get(name) or (ENSEMBLES[name][0] if name in ENSEMBLES else None) or DISTILLED.get(name)


def bench_ablation(workdir: Path, overrides: list[str], rows: list[str], jobs: int = 1,
                   table_path: Path | None = None) -> dict:
    """One real-data run per ablation row, each in its folder of ``workdir``; the table in
    ``duie_ablation``. A row measured before under the same definition, overrides, code, config
    and data is read back, an interrupted one resumes (``Steps``). ``jobs`` rows run at once (on a
    GPU machine); ``table_path`` gets the table again after every finished row."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    known = [*ABLATION, *ENSEMBLES, *STUDENTS, *DISTILLED]
    unknown = [name for name in rows if name not in known]
    if unknown:
        raise SystemExit(f"no ablation row {unknown[0]!r}: {', '.join(known)}")
    rows = list(dict.fromkeys(rows))  # the caller's list stays as given; a row named twice runs once
    position = 0
    while position < len(rows):  # each row after the rows it builds on (a distilled row: two levels)
        needed = row_dependency(rows[position])
        if needed is not None and needed not in rows:
            rows.insert(position, needed)
            continue
        position += 1
    sources = source_fingerprint()

    def fingerprint(name: str) -> str:
        """The row's definition, overrides and sources, and the fingerprint of the row it builds on."""
        needed = row_dependency(name)
        definition = {"row": name, "changes": ABLATION.get(name), "student_of": STUDENTS.get(name),
                      "ensemble": ENSEMBLES.get(name), "distilled_from": DISTILLED.get(name),
                      "overrides": overrides, "sources": sources, "after": fingerprint(needed) if needed else None}
        return hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()

    fingerprints = {name: fingerprint(name) for name in rows}
    folders = {name: workdir / slug(name) for name in rows}
    if len(set(folders.values())) < len(folders):
        raise SystemExit(f"two rows share a folder name: {', '.join(sorted(rows, key=slug))}")
    throughput_wanted = TEST1.exists() and not os.environ.get("KGQA_BENCH_NO_THROUGHPUT")
    table: dict = {}

    def student_changes(name: str, folder: Path, steps: Steps) -> dict | None:
        """The teacher's changes plus the test1 sentences its model labels, or None without a teacher model."""
        teacher = STUDENTS[name]
        if (table.get(teacher) or {}).get("heldout_f1") is None or not TEST1.exists():
            return None
        labelled = folder / "pseudo.jsonl"
        steps.run("label", lambda: kgqa(
            "extract", str(TEST1), "-o", str(labelled), "--workspace", str(folders[teacher] / "ws"),
            "-c", str(folders[teacher] / "config.yaml"), "--json", label=folder.name)[0])
        changes = copy.deepcopy(ABLATION[teacher])
        preprocess, train = changes.setdefault("preprocess", {}), changes.setdefault("kg", {}).setdefault("train", {})
        preprocess["extra"] = [*preprocess.get("extra", []), {"name": "pseudo", "input": str(labelled)}]
        train["extra"] = [*train.get("extra", []), "pseudo"]
        return changes

    def measure_row(name: str, folder: Path) -> dict:
        needed = row_dependency(name)
        if needed is not None and (table.get(needed) or {}).get("heldout_f1") is None:
            return {"skipped": f"no model of row {needed!r}"}
        steps = Steps(folder)  # the row's one record of finished steps, shared by all its parts
        if name in DISTILLED:
            base = ENSEMBLES[needed][0]
            figures = bench_distilled(folder, steps, overrides, folders[base], folders[needed],
                                      table[needed]["model_version"])
            changes = {"distilled_from": needed}
        elif name in ENSEMBLES:
            base, seeds = ENSEMBLES[name]
            figures = bench_ensemble(folder, steps, overrides, folders[base], table[base]["model_version"], seeds)
            changes = {"ensemble_of": base, "more_seeds": seeds}
        else:
            changes = student_changes(name, folder, steps) if name in STUDENTS else ABLATION[name]
            if changes is None:
                return {"skipped": f"no {TEST1}"}
            if changes.get("preprocess") and not SKE.exists():
                return {"skipped": f"{SKE} is absent"}
            figures = bench_duie(folder, steps, overrides, row_config(folder, changes),
                                 pretrain="pretrain" in changes.get("kg", {}))
        if figures.get("duie_heldout_f1") is None:
            return {"skipped": figures.get("duie_skipped")}
        return {"changes": changes, **{key.removeprefix("duie_"): value for key, value in figures.items()},
                "resumed_steps": steps.resumed}

    def run_row(name: str) -> dict:
        folder = folders[name]
        stamp = folder / "fingerprint"
        if folder.exists() and (not stamp.exists() or stamp.read_text(encoding="utf-8") != fingerprints[name]):
            import shutil

            print(f"{name}: its definition, code, config or data changed since {folder} was made: measuring again",
                  file=sys.stderr, flush=True)
            shutil.rmtree(folder)
        saved = folder / "result.json"
        result = read_json(saved)
        # A row measured without its extract runs (KGQA_BENCH_NO_THROUGHPUT) gets them now: every
        # other step of it is read back from steps.json.
        if result is not None and (result.get("test1_extract") or not throughput_wanted):
            print(f"{name}: measured {result['measured_at']} (commit {result['commit']}), read back",
                  file=sys.stderr, flush=True)
            return result
        folder.mkdir(parents=True, exist_ok=True)
        stamp.write_text(fingerprints[name], encoding="utf-8")
        result = measure_row(name, folder)
        unfinished = [kind for kind, figures in (result.get("test1_extract") or {}).items() if "failed" in figures]
        if "skipped" not in result and not unfinished:  # a failed extract is tried again by the next run
            result |= {"measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "commit": git_commit()}
            write_atomically(saved, result)
        return result

    # Ensembles and students run once the rows they build on are done, distilled rows after their ensembles.
    for phase in ([n for n in rows if n not in STUDENTS and n not in ENSEMBLES and n not in DISTILLED],
                  [n for n in rows if n in STUDENTS or n in ENSEMBLES],
                  [n for n in rows if n in DISTILLED]):
        pool = ThreadPoolExecutor(max(1, jobs))
        futures = {pool.submit(run_row, name): name for name in phase}
        try:
            for future in as_completed(futures):
                name = futures[future]
                try:
                    table[name] = future.result()
                except (Exception, SystemExit) as exc:  # one failed row still leaves the others' figures
                    table[name] = {"failed": str(exc)}
                print(f"{name}: held-out F1 {table[name].get('heldout_f1')}", file=sys.stderr, flush=True)
                if table_path is not None:
                    write_atomically(table_path, {n: table[n] for n in rows if n in table})
        except KeyboardInterrupt:  # rows not started never start; rows under way stop at their next command
            STOPPING.set()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
    return {"duie_ablation": {name: table[name] for name in rows}}


def git_commit() -> str:
    """The checkout's commit, ``+`` when it has uncommitted changes (or ``unknown`` outside git)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+" if dirty else "")


def cpu_kernel_paths(threads: int = 1, repeats: int = 20) -> dict:
    """Milliseconds of the default extractor's largest matrix product (a batch of 64 sentences
    of 50 characters through the attention's 256 -> 768 projection) and of its 256 -> 256,
    width-3 convolution, in float32, bfloat16 and int8 dynamic quantisation (which covers
    linear layers only), on ``threads`` threads: what each CPU path can gain at most."""
    import torch
    from torch.nn import functional as F

    torch.set_num_threads(threads)
    torch.manual_seed(0)

    def milliseconds(function: Callable[[], Any]) -> float:
        for _ in range(3):
            function()
        started = time.perf_counter()
        for _ in range(repeats):
            function()
        return round((time.perf_counter() - started) / repeats * 1000, 2)

    rows, features, outputs = 64 * 50, 256, 768
    inputs, linear = torch.randn(rows, features), torch.nn.Linear(features, outputs)
    quantised = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(linear), {torch.nn.Linear},
                                                       dtype=torch.qint8)
    states, kernel = torch.randn(64, 256, 50), torch.randn(256, 256, 3)
    with torch.inference_mode():
        return {
            "threads": threads,
            "linear_ms": {"float32": milliseconds(lambda: linear(inputs)),
                          "bfloat16": milliseconds(lambda b=linear.to(torch.bfloat16), x=inputs.bfloat16(): b(x)),
                          "int8_dynamic": milliseconds(lambda: quantised(inputs))},
            "conv_ms": {"float32": milliseconds(lambda: F.conv1d(states, kernel, padding=1)),
                        "bfloat16": milliseconds(lambda x=states.bfloat16(), k=kernel.bfloat16():
                                                 F.conv1d(x, k, padding=1))},
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "extraction.json")
    parser.add_argument("--only", choices=("demo", "duie", "ablation"),
                        help="run one part; the others keep their last figures")
    parser.add_argument("--no-ablation", action="store_true",
                        help="skip the ablation table (one real-data run per row, 15-60 min each on 2 cores)")
    parser.add_argument("--rows", nargs="+", default=DEFAULT_ROWS,
                        help="ablation rows to run ('all': every row; default: the six default rows and self-training)")
    parser.add_argument("--jobs", type=int, default=1, help="ablation rows run at once (a GPU machine has room)")
    parser.add_argument("--extra-rows", type=Path,
                        help="a JSON file of more ablation rows to try: {name: changes to the project config}")
    parser.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                        help="passed to every `kgqa train kg` (e.g. kg.train.device=cuda)")
    parser.add_argument("--table", type=Path, help="write the ablation table here after every finished row")
    parser.add_argument("--duie-epochs", type=int, default=20,
                        help="epoch cap of the real-data run (~45 s each; early stopping usually ends it sooner)")
    parser.add_argument("--workdir", type=Path, default=WORKDIR,
                        help="the rows' folders, kept between runs: a re-run reads back the rows measured")
    parser.add_argument("--fresh", action="store_true", help="discard the rows measured before and start over")
    args = parser.parse_args()
    if args.rows == ["all"]:
        args.rows = [*ABLATION, *ENSEMBLES, *STUDENTS, *DISTILLED]
    if args.extra_rows:
        extra_rows = json.loads(args.extra_rows.read_text(encoding="utf-8"))
        ABLATION.update(extra_rows)
        args.rows += [name for name in extra_rows if name not in args.rows]
    if args.fresh:
        import shutil

        shutil.rmtree(args.workdir, ignore_errors=True)
    extra_overrides = [part for item in args.override for part in ("--" + item.split("=", 1)[0], item.split("=", 1)[1])]
    overrides = ["--kg.train.epochs", str(args.duie_epochs), *extra_overrides]
    sys.path.insert(0, str(ROOT))
    from kgqa_cli.settings import load_settings

    results = json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() and args.only else {}
    results["cpu_count"] = os.cpu_count()
    results["config"] = load_settings().kg.model_dump(mode="json")
    if args.only in (None, "duie"):  # (b) is the ablation's row "current", measured once for both
        current = bench_ablation(args.workdir, overrides, ["current"])["duie_ablation"]["current"]
        if "heldout_f1" in current:
            results.update({f"duie_{key}": value for key, value in current.items() if key != "changes"})
        else:
            results.update({"duie_heldout_f1": None, "duie_skipped": current.get("skipped") or current.get("failed")})
        results["duie_epoch_cap"] = args.duie_epochs
    if args.only in (None, "demo"):
        results["cpu_kernel_paths"] = cpu_kernel_paths()
        with tempfile.TemporaryDirectory(prefix="bench_extraction_") as tmp:
            results.update(bench_demo(Path(tmp), []))
    if args.only == "ablation" or (args.only is None and not args.no_ablation):
        results.update(bench_ablation(args.workdir, overrides, args.rows, args.jobs, args.table))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in results.items() if k not in ("config", "duie_curve")}, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
