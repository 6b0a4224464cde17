"""A small DuIE graph corpus (normalisation cases, a self-loop, low scores) and a snapshot of a
loaded graph, shared by the graph, evidence, direct-load and reliability tests."""

from __future__ import annotations

import json
from pathlib import Path

from kgqa_cli.graph.config import GraphConfig
from kgqa_cli.workspace import Workspace


def spo(subject, predicate, obj, subject_type="人物", object_type="人物", score=None, **slots):
    triple = {
        "subject": subject, "subject_type": subject_type, "predicate": predicate,
        "object": {"@value": obj, **slots}, "object_type": {"@value": object_type},
    }
    if score is not None:
        triple["score"] = score
    return triple


RECORDS = [
    {"text": "《三度诱惑》是何藩执导的电影", "spo_list": [spo("三度诱惑", "导演", "何藩", subject_type="影视作品")]},
    {"text": "许晋亨的妻子李嘉欣", "spo_list": [
        spo("许晋亨", "妻子", "李嘉欣"), spo("李嘉欣", "丈夫", "许晋亨"),
    ]},
    {"text": "何藩还导演了《 长 短 脚 》", "spo_list": [spo("《长 短 脚》", "导演", "何藩", subject_type="影视作品")]},
    {"text": "周星驰在大话西游中饰演至尊宝", "spo_list": [
        spo("周星驰", "饰演", "至尊宝", object_type="人物", inWork="大话西游"),
    ]},
    {"text": "ＡＢＣ　公司的董事长是张三", "spo_list": [
        spo("ＡＢＣ　公司", "董事长", "张三", subject_type="企业", score=0.9),
        spo("张三", "父亲", "张三", score=0.8),           # self-loop
        spo("李四", "母亲", "王五", score=0.1),           # below min_score in one test
        spo("《》", "作者", "某人", score=0.9),            # nothing left after normalisation
    ]},
]


def write_corpus(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def snapshot(config: GraphConfig, workspace: Workspace) -> tuple[dict, dict]:
    """Vertices and edges of a graph keyed by uid, with every property (ids left out)."""
    from gremlin_python.process.graph_traversal import __

    from kgqa_cli.graph.store import open_graph

    def plain(value_map):
        return {k: sorted(v) if k == "types" else (v[0] if isinstance(v, list) else v) for k, v in value_map.items()}

    with open_graph(config, workspace) as store:
        vertices = {row["uid"][0]: plain(row) for row in store.g.V().value_map().to_list()}
        edges = {}
        for row in store.g.E().project("label", "from", "to", "props").by(__.label()).by(
                __.out_v().values("uid")).by(__.in_v().values("uid")).by(__.value_map()).to_list():
            props = plain(row["props"])
            edges[props["uid"]] = {**props, "label": row["label"], "from": row["from"], "to": row["to"]}
    return vertices, edges
