"""The direct bulk writer of the embedded graph builds what the traversal loader builds."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from helpers.graph_corpus import RECORDS, snapshot, spo, write_corpus

from kgqa_cli.graph.config import GraphConfig
from kgqa_cli.graph.model import vertex_uid
from kgqa_cli.workspace import Workspace

# Complex slots, a vertex seen with three types, fractional scores and a repeated triple (the
# higher score wins) on top of the shared records.
EXTRA = [
    {"text": "周星驰1995年在大话西游中饰演至尊宝", "model_version": "kg/v2", "spo_list": [
        spo("周星驰", "饰演", "至尊宝", subject_type="演员", score=0.73, inWork="大话西游", onDate="1995年"),
        spo("周星驰", "饰演", "至尊宝", subject_type="导演", score=0.91, inWork="大话西游", onDate="1995年"),
        spo("何藩", "获奖", "金像奖", subject_type="导演", object_type="奖项", score=0.5, inArea="香港", period="1998"),
    ]},
]


def _tables(workspace: Workspace) -> list[list[tuple]]:
    """Every row of gremlite's tables, in storage order."""
    con = sqlite3.connect(workspace.graph_dir / "kgqa.db")
    try:
        return [con.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
                for table in ("quads", "strings", "graphelts", "sqlite_sequence")]
    finally:
        con.close()


def _bulkload(tmp_path: Path, name: str, records: list[dict], loader: str, **config):
    from kgqa_cli.graph.bulkload import run_bulkload

    corpus = write_corpus(tmp_path / f"input-{len(records)}.jsonl", records)  # same source name
    settings = GraphConfig(batch_size=3, direct_batch_size=3, loader=loader, **config)
    return run_bulkload(settings, Workspace(tmp_path / name), corpus, show_progress=False)


def test_direct_and_traversal_loaders_build_the_same_graph(tmp_path):
    reports = {loader: _bulkload(tmp_path, loader, RECORDS + EXTRA, loader) for loader in ("traversal", "direct")}
    assert reports["direct"]["loader"] == "direct" and reports["traversal"]["loader"] == "batched"
    for key in ("vertices", "edges", "duplicates_merged", "skipped"):
        assert reports["direct"][key] == reports["traversal"][key]
    assert reports["direct"]["duplicates_merged"] == 1
    traversal, direct = Workspace(tmp_path / "traversal"), Workspace(tmp_path / "direct")
    vertices, edges = snapshot(GraphConfig(), direct)
    assert (vertices, edges) == snapshot(GraphConfig(), traversal)
    assert vertices[vertex_uid("周星驰")]["types"] == ["人物", "导演", "演员"]
    role = next(edge for edge in edges.values() if edge["label"] == "饰演" and "onDate" in edge)
    assert role["score"] == 0.91 and isinstance(role["score"], float)
    assert role["inWork"] == "大话西游" and role["model_version"] == "kg/v2"
    # Same rows, same element and string ids: the two files are the same graph down to storage.
    assert _tables(direct) == _tables(traversal)

    # Merging new types into existing vertices matches too.
    more = [{"text": "何藩是摄影师", "spo_list": [spo("何藩", "国籍", "中国", subject_type="摄影师", object_type="国家")]}]
    merged = {loader: _bulkload(tmp_path, loader, more, loader) for loader in ("traversal", "direct")}
    assert merged["direct"]["vertices"] == merged["traversal"]["vertices"]
    assert merged["direct"]["vertices"]["types_added_to_existing"] == 1
    assert snapshot(GraphConfig(), direct) == snapshot(GraphConfig(), traversal)
    assert _tables(direct) == _tables(traversal)


def test_a_replacement_built_in_one_go_is_the_same_graph(tmp_path):
    """`bulkload --replace` writes its new file in one go (no lookups, indexes built after the
    rows): the same rows, ids and indexes as the traversal loader's graph."""
    records = RECORDS + EXTRA
    built = _bulkload(tmp_path, "built", records, "direct", mode="replace")
    traversal = _bulkload(tmp_path, "traversal", records, "traversal", mode="replace")
    assert built["loader"] == "build" and traversal["loader"] == "batched"
    for key in ("vertices", "edges", "duplicates_merged", "skipped"):
        assert built[key] == traversal[key]
    assert _tables(Workspace(tmp_path / "built")) == _tables(Workspace(tmp_path / "traversal"))
    con = sqlite3.connect(tmp_path / "built" / "graph" / "kgqa.db")
    try:
        indexes = sorted(row[0] for row in con.execute("SELECT sql FROM sqlite_master WHERE type = 'index' "
                                                        "AND tbl_name = 'quads'"))
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        con.close()
    assert indexes == ["CREATE INDEX g ON quads (g)", "CREATE INDEX ops ON quads (o, p, s)",
                       "CREATE INDEX pg ON quads (p, g)", "CREATE INDEX sp ON quads (s, p)"]
    # And a merge into the built graph behaves as into any other.
    more = [{"text": "何藩是摄影师", "spo_list": [spo("何藩", "国籍", "中国", subject_type="摄影师", object_type="国家")]}]
    for name, loader in (("built", "direct"), ("traversal", "traversal")):
        _bulkload(tmp_path, name, more, loader)
    assert _tables(Workspace(tmp_path / "built")) == _tables(Workspace(tmp_path / "traversal"))


def test_direct_load_twice_adds_nothing(tmp_path):
    first = _bulkload(tmp_path, "ws", RECORDS + EXTRA, "direct", mode="replace")
    before = _tables(Workspace(tmp_path / "ws"))
    second = _bulkload(tmp_path, "ws", RECORDS + EXTRA, "direct")
    assert second["vertices"]["added"] == 0 and second["vertices"]["types_added_to_existing"] == 0
    assert second["edges"]["added"] == 0 and second["edges"]["already_present"] == first["edges"]["in_input"]
    assert _tables(Workspace(tmp_path / "ws")) == before
    third = _bulkload(tmp_path, "ws", RECORDS, "direct", mode="replace")
    assert third["edges"]["added"] == third["edges"]["in_input"] == 7
    assert len(snapshot(GraphConfig(), Workspace(tmp_path / "ws"))[1]) == 7


def test_queries_on_a_directly_loaded_graph(tmp_path):
    from kgqa_cli.graph import queries
    from kgqa_cli.graph.store import open_graph

    _bulkload(tmp_path, "ws", RECORDS + EXTRA, "direct", mode="replace")
    with open_graph(GraphConfig(), Workspace(tmp_path / "ws"), create=False) as store:
        g = store.g
        found = queries.run(queries.objects_of(g, "《三度诱惑》", "导演"))
        assert [{key: row[key] for key in ("name", "score", "evidence_count")} for row in found] == [
            {"name": "何藩", "score": 1.0, "evidence_count": 1}]
        assert [r["name"] for r in queries.run(queries.subjects_of(g, "何藩", "导演"))] == ["三度诱惑", "长 短 脚"]
        def facts(rows):  # the rows without their evidence
            return [{key: value for key, value in row.items() if not key.startswith("evidence")} for row in rows]

        rows = queries.run(queries.objects_of(g, "周星驰", "饰演"))
        assert facts(rows) == [{"name": "至尊宝", "score": 1.0, "inWork": "大话西游"},
                               {"name": "至尊宝", "score": 0.91, "inWork": "大话西游", "onDate": "1995年"}]
        assert facts(queries.run(queries.subjects_of(g, "金像奖", "获奖"))) == [
            {"name": "何藩", "score": 0.5, "inArea": "香港", "period": "1998"}]


def test_other_gremlite_versions_fall_back_to_traversals(tmp_path, monkeypatch, caplog):
    import gremlite

    from kgqa_cli.graph.direct import WRITTEN_FOR_GREMLITE

    assert gremlite.__version__ == WRITTEN_FOR_GREMLITE  # the pin in constraints.txt
    monkeypatch.setattr(gremlite, "__version__", "0.2.0")
    with caplog.at_level(logging.WARNING, logger="kgqa_cli.graph.load"):
        report = _bulkload(tmp_path, "ws", RECORDS, "auto")
    assert report["loader"] == "batched" and report["edges"]["added"] == 7
    assert "gremlite 0.2.0" in caplog.text and "traversals" in caplog.text


def test_direct_loader_needs_the_embedded_graph():
    with pytest.raises(ValueError, match="embedded"):
        GraphConfig(url="ws://localhost:8182/gremlin", loader="direct")
    assert GraphConfig(url="ws://localhost:8182/gremlin").loader == "auto"
