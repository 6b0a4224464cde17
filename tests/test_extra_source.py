"""Extra training data of another schema (DuIE 1.0 / SKE): mapped, kept out of dev and test, and
its unlabelled channels masked in the loss."""

from __future__ import annotations

import json

import numpy as np
import torch

from kgqa_cli.data.config import PreprocessConfig
from kgqa_cli.data.preprocess import run_preprocess
from kgqa_cli.extraction.batches import make_batch
from kgqa_cli.extraction.labels import Example
from kgqa_cli.workspace import Workspace

SCHEMA = [
    {"subject_type": "影视作品", "predicate": "导演", "object_type": {"@value": "人物"}},
    {"subject_type": "影视作品", "predicate": "主演", "object_type": {"@value": "人物"}},
    {"subject_type": "娱乐人物", "predicate": "饰演", "object_type": {"@value": "人物", "inWork": "影视作品"}},
]


def _lines(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def _duie2(text, subject, predicate, obj):
    return {"text": text, "spo_list": [{"subject": subject, "subject_type": "影视作品", "predicate": predicate,
                                        "object": {"@value": obj}, "object_type": {"@value": "人物"}}]}


def test_an_extra_source_is_mapped_kept_apart_and_masked(tmp_path):
    main = [_duie2(f"《星河{n}》由王伟{n}执导", f"星河{n}", "导演", f"王伟{n}") for n in range(20)]
    _lines(tmp_path / "raw" / "duie_train.json", main)
    _lines(tmp_path / "raw" / "duie_schema.json", SCHEMA)
    ske = [  # DuIE 1.0: plain-string objects, its own types and predicate names
        {"text": "《海上》的导演是李明", "spo_list": [
            {"subject": "海上", "subject_type": "电影", "predicate": "执导者", "object": "李明", "object_type": "人"},
            {"subject": "李明", "subject_type": "人", "predicate": "出生地", "object": "海上", "object_type": "地点"}]},
        {"text": "《星河0》由王伟0执导", "spo_list": [  # a text of the main corpus: left out
            {"subject": "星河0", "subject_type": "电影", "predicate": "执导者", "object": "王伟0", "object_type": "人"}]},
        {"text": "李明出生于海上", "spo_list": [  # only a predicate the schema lacks: nothing left
            {"subject": "李明", "subject_type": "人", "predicate": "出生地", "object": "海上", "object_type": "地点"}]},
    ]
    _lines(tmp_path / "ske" / "ske_train.json", ske)
    config = PreprocessConfig.model_validate({
        "input": str(tmp_path / "raw"), "dev_ratio": 0.2, "test_ratio": 0.2,
        "extra": [{"name": "ske", "input": str(tmp_path / "ske"), "predicate_map": {"执导者": "导演"},
                   "unlabelled": ["主演"]}],
    })
    workspace = Workspace(tmp_path / "ws")
    report = run_preprocess(config, workspace)
    counts = report.stats()["extra"]["ske"]
    assert counts["sentences"] == 1 and counts["text_in_main_corpus"] == 1
    assert counts["dropped_predicates"] == {"出生地": 2}
    rows = [json.loads(line) for line in (workspace.corpus_dir / "extra-ske.jsonl").read_text().splitlines()]
    assert rows == [{"text": "《海上》的导演是李明", "spo_list": [{
        "subject": "海上", "subject_type": "影视作品", "predicate": "导演", "object": {"@value": "李明"},
        "object_type": {"@value": "人物"}}]}]
    mask = json.loads((workspace.corpus_dir / "extra-ske.json").read_text())
    assert mask["masked_channels"] == ["主演", "饰演|inWork"]  # unlabelled, and the slots it never has


def test_masked_channels_teach_nothing():
    channels = 3
    plain = Example([5, 6, 7], {(0, 0): {(0, 1, 2)}})
    masked = Example([5, 6, 7], {(0, 0): {(0, 1, 2)}}, channel_mask=np.array([1.0, 0.0, 1.0], dtype=np.float32))
    batch = make_batch([plain, masked], channels, torch.device("cpu"))
    assert batch["channel_mask"].tolist() == [[1.0, 1.0, 1.0], [1.0, 0.0, 1.0]]


def test_loss_weights_of_the_pointers():
    """positive_weight scales the loss of positive positions; object_weight the object pointers'."""
    from kgqa_cli.extraction.batches import batch_loss
    from kgqa_cli.extraction.config import KgModelConfig
    from kgqa_cli.extraction.model import CasRel

    torch.manual_seed(0)
    model = CasRel(10, 3, KgModelConfig(embedding_dim=8, hidden_size=8, attention_heads=2, conv_channels=8))
    model.eval()
    batch = make_batch([Example([5, 6, 7], {(0, 0): {(0, 1, 2)}})], 3, torch.device("cpu"))
    plain = batch_loss(model, batch).item()
    assert batch_loss(model, batch, 1.0, 1.0).item() == plain
    assert batch_loss(model, batch, 2.0, 1.0).item() > plain
    assert batch_loss(model, batch, 1.0, 3.0).item() > plain
    no_objects = batch_loss(model, batch, 0.0, 1.0).item()
    assert no_objects < plain
