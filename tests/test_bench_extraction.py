"""The real-data benchmark's rows survive an interruption: scripts/bench_extraction.py on a tiny
DuIE-shaped corpus, killed in the middle of a row's training, then run again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_lines
from helpers.extractor import SCHEMA, TINY_MODEL, synthetic_corpus

pytestmark = pytest.mark.slow  # trains and benchmarks the extractor

ROOT = Path(__file__).resolve().parents[1]


def tiny_shared_data(folder: Path) -> Path:
    """A stand-in for ../shared/data: the three DuIE files the bench reads, a few hundred sentences."""
    records = synthetic_corpus(200, seed=5)
    write_lines(folder / "duie" / "duie_train.first5000.json", records[:120])
    write_lines(folder / "duie" / "duie_train.sample4398.json", records[120:])
    write_lines(folder / "duie" / "duie_schema.json", SCHEMA)
    return folder


def bench(data: Path, workdir: Path, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    overrides = [f"{key.removeprefix('--')}={value}" for key, value in zip(TINY_MODEL[::2], TINY_MODEL[1::2], strict=True)]
    return subprocess.run(
        [sys.executable, "scripts/bench_extraction.py", "--only", "ablation", "--rows", "current",
         "--workdir", str(workdir), "--out", str(workdir.parent / f"{workdir.name}.json"), "--duie-epochs", "3",
         *(part for item in overrides for part in ("--override", item)), *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
        env={**os.environ, "KGQA_SHARED_DATA": str(data), "KGQA_BENCH_NO_THROUGHPUT": "1", **(env or {})},
    )


def row(done: subprocess.CompletedProcess) -> dict:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["duie_ablation"]["current"]


def test_interrupted_row_resumes_to_the_same_figures(tmp_path):
    data = tiny_shared_data(tmp_path / "data")
    whole = row(bench(data, tmp_path / "whole"))
    assert whole["epochs"] == 3 and whole["heldout_f1"] is not None and whole["resumed_steps"] == []

    # The same row, its training killed (SIGKILL) after its second epoch's checkpoint.
    killed = row(bench(data, tmp_path / "parts", env={"KGQA_FAULT_KILL_AT": "2"}))
    assert "failed" in killed and "exit code -9" in killed["failed"]
    steps = json.loads((tmp_path / "parts" / "current" / "steps.json").read_text(encoding="utf-8"))
    assert list(steps["done"]) == ["preprocess"] and steps["started"] == ["train"]

    # Run again: preprocess is read back, training resumes at epoch 3, the figures are the uninterrupted run's.
    resumed = row(bench(data, tmp_path / "parts"))
    assert resumed["resumed_steps"] == ["train"] and resumed["epochs"] == 3
    for key in ("heldout_precision", "heldout_recall", "heldout_f1", "dev_f1", "best_epoch", "errors_by_kind"):
        assert resumed[key] == whole[key], key

    # A finished row is read back; a changed definition (here the epoch cap) measures it again.
    again = bench(data, tmp_path / "parts")
    assert row(again) == resumed and "read back" in again.stderr
    changed = bench(data, tmp_path / "parts", "--duie-epochs", "2")
    assert row(changed)["epochs"] == 2 and "measuring again" in changed.stderr
