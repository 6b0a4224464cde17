"""Planted extractions loaded into a copy of the tiny workspace, for the triple review and the
extractor's monitor (`kgqa label triples`, `kgqa monitor kg`)."""

from __future__ import annotations

import json
from pathlib import Path

from qa_fixtures import copy_workspace
from typer.testing import CliRunner

from kgqa_cli.cli.main import app

# Planted extractions: one wrong (李嘉欣 did not direct it), one with the wrong predicate
# (许晋亨's wife is 李嘉欣: 丈夫 read the wrong way round), one right.
PLANTED = [
    {"text": "李嘉欣出席了三度诱惑的首映礼", "model_version": "kg/v1", "spo_list": [
        {"subject": "三度诱惑", "subject_type": "影视作品", "predicate": "导演", "object": {"@value": "李嘉欣"},
         "object_type": {"@value": "人物"}, "score": 0.55, "subject_span": [6, 10], "object_span": [0, 3]}]},
    {"text": "许晋亨迎娶了李嘉欣", "model_version": "kg/v1", "spo_list": [
        {"subject": "许晋亨", "subject_type": "人物", "predicate": "丈夫", "object": {"@value": "李嘉欣"},
         "object_type": {"@value": "人物"}, "score": 0.8}]},
    {"text": "何藩执导了电影长短脚", "model_version": "kg/v1", "spo_list": [
        {"subject": "长短脚", "subject_type": "影视作品", "predicate": "导演", "object": {"@value": "何藩"},
         "object_type": {"@value": "人物"}, "score": 0.97}]},
]


def invoke(settings, *args: str):
    return CliRunner().invoke(app, [*args, "--workspace", str(settings.paths.root)])


def load_planted(tiny_qa, folder: Path):
    """A copy of the tiny workspace with PLANTED loaded into its graph: (settings, the extraction file)."""
    settings = copy_workspace(tiny_qa, folder)
    extraction = folder / "extracted.jsonl"
    extraction.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in PLANTED), encoding="utf-8")
    assert invoke(settings, "bulkload", str(extraction)).exit_code == 0
    return settings, extraction
