"""Every edge keeps the sentences it was read from: offsets, score, model version; merged across
loads without counting a sentence twice, the same through every loader, in Neptune's CSV too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.graph_corpus import snapshot, spo, write_corpus

from kgqa_cli.data.records import Record
from kgqa_cli.graph.config import EvidenceConfig, GraphConfig
from kgqa_cli.graph.evidence import EvidencePolicy, edge_defaults, evidence_entry, loads_evidence, sentence_id
from kgqa_cli.graph.model import build_graph_data
from kgqa_cli.workspace import Workspace

FIRST = [
    {"text": "《三度诱惑》是何藩执导的电影", "model_version": "kg/v1",
     "spo_list": [{**spo("三度诱惑", "导演", "何藩", subject_type="影视作品", score=0.8),
                   "subject_span": [1, 5], "object_span": [7, 9]}]},
]
SECOND = [  # the same fact in another sentence, and a sentence the first file held already
    {"text": "何藩导演了三度诱惑，1974年上映", "model_version": "kg/v2",
     "spo_list": [spo("三度诱惑", "导演", "何藩", subject_type="影视作品", score=0.95)]},
    {"text": "《三度诱惑》是何藩执导的电影", "model_version": "kg/v1",
     "spo_list": [spo("三度诱惑", "导演", "何藩", subject_type="影视作品", score=0.8)]},
]


def _load(tmp_path: Path, records: list[dict], name: str, loader: str = "direct", **config) -> dict:
    from kgqa_cli.graph.bulkload import run_bulkload

    corpus = write_corpus(tmp_path / f"{name}-{len(records)}.jsonl", records)
    settings = GraphConfig(loader=loader, batch_size=2, direct_batch_size=2, **config)
    return run_bulkload(settings, Workspace(tmp_path / "ws" / loader), corpus, show_progress=False)


def _edge(tmp_path: Path, loader: str) -> dict:
    _, edges = snapshot(GraphConfig(), Workspace(tmp_path / "ws" / loader))
    (edge,) = [edge for edge in edges.values() if edge["label"] == "导演"]
    return edge


def test_an_extracted_triple_keeps_its_sentence_offsets_score_and_version(tmp_path):
    _load(tmp_path, FIRST, "first")
    edge = _edge(tmp_path, "direct")
    (sentence,) = loads_evidence(edge["evidence"], edge_defaults(edge))
    assert set(json.loads(edge["evidence"])[0]) == {"text", "subject", "object"}  # the rest is the edge's own
    assert sentence == {"id": sentence_id(FIRST[0]["text"]), "text": FIRST[0]["text"], "subject": [1, 5],
                        "object": [7, 9], "score": 0.8, "model_version": "kg/v1", "source": "first-1.jsonl"}
    assert "evidence_count" not in edge and "evidence_ids" not in edge  # one sentence, kept in full


@pytest.mark.parametrize("loader", ["direct", "traversal"])
def test_a_merge_adds_new_sentences_once_and_a_reload_adds_nothing(tmp_path, loader):
    _load(tmp_path, FIRST, "first", loader)
    report = _load(tmp_path, SECOND, "second", loader)
    assert report["edges"]["added"] == 0 and report["edges"]["evidence_added"] == 1
    edge = _edge(tmp_path, loader)
    sentences = loads_evidence(edge["evidence"], edge_defaults(edge))
    assert len(sentences) == 2 and "evidence_count" not in edge  # the sentence both files hold counts once
    assert [s["model_version"] for s in sentences] == ["kg/v2", "kg/v1"]  # best score first
    second = sentences[0]
    assert second["text"][slice(*second["subject"])] == "三度诱惑"  # found in the text: no offsets given
    assert second["text"][slice(*second["object"])] == "何藩"
    assert edge["score"] == 0.95 and edge["model_version"] == "kg/v2"  # the best sentence's
    before = snapshot(GraphConfig(), Workspace(tmp_path / "ws" / loader))
    again = _load(tmp_path, SECOND, "second", loader)
    assert again["edges"]["evidence_added"] == 0 and again["vertices"]["added"] == 0
    assert snapshot(GraphConfig(), Workspace(tmp_path / "ws" / loader)) == before


def test_the_loaders_merge_evidence_into_the_same_graph(tmp_path):
    for loader in ("direct", "traversal"):
        _load(tmp_path, FIRST, "first", loader)
        _load(tmp_path, SECOND, "second", loader)
    assert _edge(tmp_path, "direct") == _edge(tmp_path, "traversal")


def test_an_edge_stated_more_often_than_it_keeps_counts_every_sentence_once(tmp_path):
    many = [{"text": f"第{n}句：三度诱惑由何藩执导", "model_version": "kg/v1", "spo_list": [
        spo("三度诱惑", "导演", "何藩", subject_type="影视作品", score=0.9)]} for n in range(5)]
    for loader in ("direct", "traversal"):
        _load(tmp_path, many[:3], "first", loader, evidence=EvidenceConfig(per_edge=2))
        _load(tmp_path, many[1:], "second", loader, evidence=EvidenceConfig(per_edge=2))
        edge = _edge(tmp_path, loader)
        assert edge["evidence_count"] == 5 and len(edge["evidence_ids"].split()) == 5
        assert len(json.loads(edge["evidence"])) == 2
    assert _edge(tmp_path, "direct") == _edge(tmp_path, "traversal")


def test_evidence_is_bounded_per_edge_and_off_at_zero(tmp_path):
    records = [{"text": f"第{n}句：三度诱惑由何藩执导", "spo_list": [
        spo("三度诱惑", "导演", "何藩", subject_type="影视作品", score=round(0.5 + n / 100, 2))]} for n in range(6)]
    data = build_graph_data([Record.parse(r) for r in records], "many.jsonl", evidence=EvidencePolicy(per_edge=2, max_ids=4))
    (edge,) = data.edges.values()
    assert [s["score"] for s in edge.evidence] == [0.55, 0.54] and len(edge.evidence_ids) == 4
    assert edge.properties()["evidence_count"] == 4 and len(edge.properties()["evidence_ids"].split()) == 4
    bare = build_graph_data([Record.parse(r) for r in records], "many.jsonl", evidence=EvidencePolicy(per_edge=0))
    assert not any(key.startswith("evidence") for key in next(iter(bare.edges.values())).properties())
    _load(tmp_path, records, "off", evidence=EvidenceConfig(per_edge=0))
    assert "evidence" not in _edge(tmp_path, "direct")


def test_a_long_sentence_keeps_a_window_around_both_names():
    text = "甲" * 500 + "三度诱惑是何藩执导的" + "乙" * 500
    triple = Record.parse({"text": text, "spo_list": [spo("三度诱惑", "导演", "何藩")]}).spo_list[0]
    entry = evidence_entry(text, triple, 0.9, "kg/v1", "long.jsonl", max_chars=60)
    assert len(entry["text"]) == 60 and entry["offset"] + len(entry["text"]) <= len(text)
    assert entry["text"][slice(*entry["subject"])] == "三度诱惑" and entry["text"][slice(*entry["object"])] == "何藩"
    assert entry["id"] == sentence_id(text)  # the whole sentence's id, not the window's


def test_neptune_csv_carries_the_evidence_and_reads_back(tmp_path):
    from kgqa_cli.graph.neptune_csv import EVIDENCE_HEADER, edges_csv, read_edges_csv

    records = [{"text": '他说："三度诱惑", 何藩执导', "spo_list": [spo("三度诱惑", "导演", "何藩", score=0.7)]}]
    data = build_graph_data([Record.parse(r) for r in records], "quoted.jsonl")
    text = edges_csv(data)
    assert ",".join(EVIDENCE_HEADER) in text.split("\r\n")[0]
    (edge,) = read_edges_csv(text)
    assert edge == next(iter(data.edges.values())) and edge.evidence[0]["text"] == records[0]["text"]


def test_a_malformed_span_is_a_bad_line_naming_it(tmp_path):
    from kgqa_cli.errors import InputDataError

    bad = [{"text": "三度诱惑是何藩执导的", "spo_list": [{**spo("三度诱惑", "导演", "何藩"), "object_span": [7, 99]}]}]
    with pytest.raises(InputDataError, match=r"bad-1.jsonl:1: .*object_span"):
        _load(tmp_path, bad, "bad")
