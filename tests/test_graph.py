"""The graph layer: name normalisation, Neptune CSV, batched loading, lookups (real gremlite files)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from helpers.graph_corpus import RECORDS, snapshot, spo, write_corpus

from kgqa_cli.data.records import Record
from kgqa_cli.graph.config import GraphConfig
from kgqa_cli.graph.model import EdgeRecord, GraphData, VertexRecord, build_graph_data, vertex_uid
from kgqa_cli.graph.neptune_csv import EDGE_HEADER, VERTEX_HEADER, edges_csv, vertices_csv
from kgqa_cli.graph.normalize import normalize_name
from kgqa_cli.workspace import Workspace


def _load(tmp_path: Path, records=RECORDS, **config):
    from kgqa_cli.graph.bulkload import run_bulkload

    corpus = write_corpus(tmp_path / "gold.jsonl", records)
    batch_size = config.pop("batch_size", 2)
    settings = GraphConfig(batch_size=batch_size, direct_batch_size=batch_size, **config)
    return run_bulkload(settings, Workspace(tmp_path / "ws"), corpus, show_progress=False)


# ---------------------------------------------------------------- normalisation


@pytest.mark.parametrize(("raw", "expected"), [
    ("  三度诱惑 ", "三度诱惑"),
    ("长\t短 \n 脚", "长 短 脚"),
    ("ＡＢＣ　公司１２３", "ABC 公司123"),          # full width -> half width, ideographic space
    ("《三度诱惑》", "三度诱惑"),
    ("《 「决胜」 》", "决胜"),
    ("“我乔布斯”", "我乔布斯"),
    ("《三度》诱惑", "《三度》诱惑"),              # only brackets around the whole name go
    ("《》", ""),
    ("何藩", "何藩"),
])
def test_normalize_name(raw, expected):
    assert normalize_name(raw) == expected


def test_model_dedupes_and_counts_skips():
    data = build_graph_data([Record.parse(r) for r in RECORDS + RECORDS[:1]], source="gold.jsonl", min_score=0.5)
    names = {v.name for v in data.vertices.values()}
    assert {"三度诱惑", "何藩", "长 短 脚", "ABC 公司"} <= names
    assert "李四" not in names  # only seen in a skipped triple
    assert data.skipped == {"self_loop": 1, "below_min_score": 1, "empty_name": 1}
    assert data.duplicates == 1
    role = next(e for e in data.edges.values() if e.predicate == "饰演")
    assert role.slots == {"inWork": "大话西游"}
    assert role.score == 1.0 and role.model_version == "gold" and role.source == "gold.jsonl"
    assert data.vertices[vertex_uid("何藩")].types == {"人物"}


# ---------------------------------------------------------------- Neptune CSV


def test_neptune_csv_headers_types_and_quoting():
    tricky = "李,\"小\"\n龙"
    data = GraphData()
    data.vertices = {
        "v:1": VertexRecord("v:1", tricky, {"人物", "演员;歌手"}),
        "v:2": VertexRecord("v:2", "何藩", set()),
    }
    data.edges = {"e:1": EdgeRecord("e:1", "v:1", "v:2", "导演", 0.25, "a,b.jsonl", "kg/v1", {"inWork": "《x》,\"y\""})}
    vertices_text, edges_text = vertices_csv(data), edges_csv(data)
    assert vertices_text.splitlines()[0] == "~id,~label,name:String(single),uid:String(single),types:String[]"
    assert edges_text.split("\r\n")[0] == ",".join(EDGE_HEADER) + ",inWork:String"
    assert vertices_text.endswith("\r\n") and "\r\n" in vertices_text  # RFC 4180 record ends
    # The tricky name is one quoted field with doubled quotes and the newline kept inside.
    assert '"李,""小""\n龙"' in vertices_text
    rows = list(csv.reader(io.StringIO(vertices_text, newline="")))
    assert rows[0] == VERTEX_HEADER
    assert rows[1] == ["v:1", "entity", tricky, "v:1", "人物;演员\\;歌手"]  # array values ;-joined, ; escaped
    assert rows[2] == ["v:2", "entity", "何藩", "v:2", ""]
    edge_rows = list(csv.reader(io.StringIO(edges_text, newline="")))
    assert edge_rows[1] == ["e:1", "v:1", "v:2", "导演", "e:1", "0.25", "a,b.jsonl", "kg/v1", "《x》,\"y\""]
    for header in (*VERTEX_HEADER, *EDGE_HEADER):
        assert " " not in header and "," not in header


def test_bulkload_writes_byte_identical_csv_and_loads_once(tmp_path):
    first = _load(tmp_path, mode="replace")
    csv_files = [Path(first["csv"]["vertices"]), Path(first["csv"]["edges"])]
    before = [p.read_bytes() for p in csv_files]
    assert first["edges"]["added"] == first["edges"]["in_input"] == 7
    assert first["vertices"]["added"] == first["vertices"]["in_input"]
    assert first["skipped"] == {"empty_name": 1, "self_loop": 1}
    second = _load(tmp_path)  # merge the same input again
    assert second["vertices"]["added"] == 0 and second["edges"]["added"] == 0
    assert second["edges"]["already_present"] == 7
    assert [p.read_bytes() for p in csv_files] == before
    lines = before[1].decode("utf-8").split("\r\n")
    assert len(lines) == 1 + 7 + 1  # header, edges, empty tail after the last CRLF

    config = GraphConfig(path=None)
    workspace = Workspace(tmp_path / "ws")
    vertices, edges = snapshot(config, workspace)
    assert len(vertices) == first["vertices"]["in_input"] and len(edges) == 7


def test_merge_adds_types_and_replace_rebuilds(tmp_path):
    _load(tmp_path, mode="replace")
    extra = [{"text": "何藩是摄影师", "spo_list": [spo("何藩", "国籍", "中国", subject_type="摄影师", object_type="国家")]}]
    report = _load(tmp_path, records=extra)
    assert report["vertices"]["added"] == 1 and report["vertices"]["types_added_to_existing"] == 1
    vertices, _ = snapshot(GraphConfig(), Workspace(tmp_path / "ws"))
    assert vertices[vertex_uid("何藩")]["types"] == ["人物", "摄影师"]
    report = _load(tmp_path, records=extra, mode="replace")
    vertices, edges = snapshot(GraphConfig(), Workspace(tmp_path / "ws"))
    assert set(vertices) == {vertex_uid("何藩"), vertex_uid("中国")} and len(edges) == 1


@pytest.mark.parametrize("loader", ["traversal", "direct"])
def test_interrupted_load_converges_to_a_clean_load(tmp_path, loader):
    from kgqa_cli.graph.bulkload import run_bulkload

    corpus = write_corpus(tmp_path / "gold.jsonl", RECORDS)
    clean_ws, broken_ws = Workspace(tmp_path / "clean"), Workspace(tmp_path / "broken")
    config = GraphConfig(batch_size=2, direct_batch_size=2, loader=loader)
    run_bulkload(config, clean_ws, corpus, show_progress=False)

    class Crash(Exception):
        pass

    for stop_phase in ("vertices", "edges"):  # die after the 2nd committed batch of each phase
        seen = []

        def crash(phase, count, seen=seen, stop_phase=stop_phase):
            seen.append(phase)
            if seen.count(stop_phase) == 2:
                raise Crash()

        with pytest.raises(Crash):
            run_bulkload(config, broken_ws, corpus, show_progress=False, on_batch=crash)
    partial = snapshot(config, broken_ws)
    resumed = run_bulkload(config, broken_ws, corpus, show_progress=False)
    assert resumed["edges"]["already_present"] > 0 and resumed["edges"]["added"] > 0
    assert len(partial[1]) < resumed["edges"]["in_input"]
    assert snapshot(config, broken_ws) == snapshot(config, clean_ws)


def test_lookups_for_question_answering(tmp_path):
    from kgqa_cli.graph import queries
    from kgqa_cli.graph.store import open_graph

    def facts(rows):  # the rows without their evidence
        return [{key: value for key, value in row.items() if not key.startswith("evidence")} for row in rows]

    _load(tmp_path, mode="replace")
    with open_graph(GraphConfig(), Workspace(tmp_path / "ws"), create=False) as store:
        g = store.g
        found = queries.run(queries.objects_of(g, " 《三度诱惑》", "导演"))
        assert facts(found) == [{"name": "何藩", "score": 1.0}]
        assert found[0]["evidence_count"] == 1
        sentence = found[0]["evidence"][0]
        assert sentence["text"] == "《三度诱惑》是何藩执导的电影" and sentence["model_version"] == "gold"
        assert sentence["text"][slice(*sentence["subject"])] == "三度诱惑"
        assert sentence["text"][slice(*sentence["object"])] == "何藩"
        assert [r["name"] for r in queries.run(queries.subjects_of(g, "何藩", "导演"))] == ["三度诱惑", "长 短 脚"]
        assert facts(queries.run(queries.objects_of(g, "许晋亨", "妻子"))) == [{"name": "李嘉欣", "score": 1.0}]
        assert facts(queries.run(queries.subjects_of(g, "李嘉欣", "妻子"))) == [{"name": "许晋亨", "score": 1.0}]
        assert facts(queries.run(queries.objects_of(g, "周星驰", "饰演"))) == [
            {"name": "至尊宝", "score": 1.0, "inWork": "大话西游"}]
        assert queries.run(queries.objects_of(g, "何藩", "导演")) == []
        assert queries.run(queries.objects_of(g, "'); g.V().drop(); ('", "导演")) == []  # a bound value only
        text = queries.describe(queries.objects_of(g, "三度诱惑", "导演"))
        assert text.startswith("g.V().has('name','三度诱惑')") and "outE('导演')" in text
        assert queries.entity_exists(g, "ＡＢＣ 公司") and not queries.entity_exists(g, "无名氏")
        names = queries.entity_names(g)
        assert names == sorted(names) and "何藩" in names and len(queries.entity_names(g, limit=3)) == 3
        summary = queries.summary(g, samples=2, about=["三度诱惑", "许晋亨"])
    assert summary["edges"] == 7 and summary["predicates"]["导演"] == 2
    assert summary["types"]["人物"] >= 6 and len(summary["samples"]) == 2
    assert summary["about"]["三度诱惑"] == [
        {"subject": "三度诱惑", "predicate": "导演", "object": "何藩", "score": 1.0}]
    assert summary["about"]["许晋亨"][0]["object"] == "李嘉欣"


def test_cli_bulkload_and_graph_json(tmp_path):
    from typer.testing import CliRunner

    from kgqa_cli.cli.main import app

    corpus = write_corpus(tmp_path / "gold.jsonl", RECORDS)
    runner = CliRunner()
    ws = ["--workspace", str(tmp_path / "ws")]
    result = runner.invoke(app, ["bulkload", str(corpus), "--replace", "--min-score", "0.95", "--json", *ws])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["skipped"] == {"below_min_score": 4}  # the 0.9/0.8/0.1/0.9-scored triples
    result = runner.invoke(app, ["graph", "--json", "--about", "三度诱惑", *ws])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["about"]["三度诱惑"][0]["object"] == "何藩"
    missing = runner.invoke(app, ["graph", "--workspace", str(tmp_path / "nothing")])
    assert missing.exit_code == 4
