"""The compositional benchmark's parts: the SPARQL shape classifier on hand-written queries, the
question generator on a small graph loaded with kgqa's own bulkload (its gold answers checked by
a direct traversal), the scoring rules, and the CCKS reader on the real file when it is there."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from conftest import SHARED_DATA, spo, write_lines

from kgqa_cli.graph.config import GraphConfig
from kgqa_cli.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
CCKS_FILE = SHARED_DATA / "ccks-kbqa" / "ccks2021_valid.txt"


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_compositional", ROOT / "scripts" / "bench_compositional.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _bench_module()


@pytest.mark.parametrize(("sparql", "shape"), [
    ("select ?x where { <百年孤独> <作者> ?x. }", "one_hop"),
    ("select ?x where { ?x <作者> <马尔克斯>. }", "one_hop"),
    ('select ?x where { ?y\t<公司名称>\t"谷歌". }', "other"),  # answer variable not in the pattern
    ("select ?x where { <新子憧> <配音> ?y. ?y <出道时间> ?x.}", "chain"),
    ("select ?x where { ?y <出道时间> ?x. <新子憧> <配音> ?y. }", "chain"),  # patterns in either order
    ('select ?x where { ?y <别称> "流感". ?y <常见症状> ?x. }', "reverse_chain"),
    ("select ?x where { ?y <导演> <何藩>. ?y <主演> ?x. }", "reverse_chain"),
    ("select ?x where { ?x <主要配音> <洲崎绫>. ?x <主要配音> <西明日香>.}", "intersection"),
    ('select ?x where { ?x <发行时间> "2001-09-27". <滨崎步> <代表作品> ?x. }', "intersection"),
    ("select (count(?x) as ?n) where { ?x <导演> <何藩>. }", "count"),
    ("SELECT (COUNT(DISTINCT ?x) AS ?c) WHERE { ?x <导演> <何藩> . }", "count"),
    ("select ?x where { ?x <职业> <声优>. ?x <国籍> <日本>. ?x <出道时间> \"2007\". }", "other"),
    ("select ?x where { ?x <票价> ?price. ?x <所在地> <京都>. } ORDER BY ASC(?price) LIMIT 1", "other"),
    ("select ?x where { <马里奥> ?x <路易基>. }", "other"),  # a variable predicate
    ('select ?x where { ?x <出生年份> ?y. FILTER(?y > "1990") }', "other"),
    ("select ?x where { <星间飞行> <歌曲原唱> ?y. ?x <代表作品> ?y. }", "other"),  # forward, then backward
    ("select ?x where { <P.A.WORKS> <代表作品> ?x. }", "one_hop"),  # dots inside a name
    ("select ?x where { <甲> <父亲> ?y; <母亲> ?x. }", "other"),
])
def test_sparql_shapes(sparql, shape):
    assert bench.sparql_shape(sparql) == shape


FILMS = {  # film: (director, [actors])
    "三度诱惑": ("何藩", ["李嘉欣"]),
    "浮城往事": ("何藩", ["李嘉欣", "许晋亨"]),
    "长街旧梦": ("何藩", ["苏云帆"]),
    "海上花影": ("钟远山", ["许晋亨"]),
}
SCHEMA = {"导演": ("影视作品", "人物"), "主演": ("影视作品", "人物"), "妻子": ("人物", "人物")}
PHRASINGS = {
    "chain": [{"predicates": ["导演", "妻子"], "phrasings": ["{entity}的导演的妻子是谁"]}],
    "reverse_chain": [{"predicates": ["导演", "主演"], "phrasings": ["{entity}导演的电影都有谁主演"]}],
    "intersection": [{"predicates": ["导演", "主演"], "phrasings": ["{first}导演、{second}主演的电影是哪部"]}],
    "count": [{"predicate": "导演", "direction": "reverse", "phrasings": ["{entity}导演了几部电影"]}],
}


@pytest.fixture(scope="module")
def small_graph(tmp_path_factory):
    """A graph of four films, two directors (one married, one not) and three actors."""
    from kgqa_cli.graph.bulkload import run_bulkload

    folder = tmp_path_factory.mktemp("compositional")
    records = []
    for film, (director, actors) in FILMS.items():
        triples = [spo(film, "导演", director)] + [spo(film, "主演", actor) for actor in actors]
        records.append({"text": f"《{film}》由{director}执导", "spo_list": triples})
    records.append({"text": "钟远山的妻子林晓蔚", "spo_list": [spo("钟远山", "妻子", "林晓蔚", subject_type="人物")]})
    corpus = write_lines(folder / "gold.jsonl", records)
    workspace = Workspace(folder / "ws")
    run_bulkload(GraphConfig(), workspace, corpus, show_progress=False)
    return workspace


def _direct(g, name: str, steps: list[tuple[str, str]]) -> set[str]:
    """Names reached from ``name`` by (predicate, forward|reverse) steps, one lookup at a time."""
    from kgqa_cli.graph import queries

    frontier = {name}
    for predicate, direction in steps:
        lookup = queries.objects_of if direction == "forward" else queries.subjects_of
        frontier = {row["name"] for entity in frontier for row in queries.run(lookup(g, entity, predicate))}
    return frontier


def test_generator_draws_each_kind_with_traversed_gold(small_graph):
    from kgqa_cli.graph.store import open_graph

    with open_graph(GraphConfig(), small_graph, create=False) as store:
        notes: list[str] = []
        questions = bench.generate_questions(store.g, SCHEMA, PHRASINGS, quotas={name: 10 for name in bench.QUOTAS},
                                             notes=notes)
        assert notes == []
        kinds = {(q["kind"], q["no_answer"]) for q in questions}
        assert kinds == {("chain", False), ("chain", True), ("reverse_chain", False), ("intersection", False),
                         ("count", False)}
        for question in questions:
            entities, (p1, *rest) = question["entities"], question["predicates"]
            if question["kind"] == "chain":
                expected = _direct(store.g, entities[0], [(p1, "forward"), (rest[0], "forward")])
            elif question["kind"] == "reverse_chain":
                expected = _direct(store.g, entities[0], [(p1, "reverse"), (rest[0], "forward")])
            elif question["kind"] == "intersection":
                expected = (_direct(store.g, entities[0], [(p1, "reverse")])
                            & _direct(store.g, entities[1], [(rest[0], "reverse")]))
            else:
                assert question["gold_count"] == len(_direct(store.g, entities[0], [(p1, question["direction"])]))
                continue
            assert set(question["gold"]) == expected, question
            assert question["no_answer"] == (not expected)
            assert all(name in question["question"] for name in entities)

    by_text = {q["question"]: q for q in questions}
    assert by_text["海上花影的导演的妻子是谁"]["gold"] == ["林晓蔚"]
    assert by_text["何藩导演了几部电影"]["gold_count"] == 3
    assert set(by_text["何藩导演的电影都有谁主演"]["gold"]) == {"李嘉欣", "许晋亨", "苏云帆"}
    # 何藩 has no wife: his films' chain questions are there to be declined.
    declined = [q for q in questions if q["no_answer"]]
    assert declined and all(FILMS[q["entities"][0]][0] == "何藩" for q in declined)


def test_judging_rules():
    listed = {"kind": "chain", "gold": ["林晓蔚"], "gold_count": None, "no_answer": False}
    declined = {"kind": "chain", "gold": [], "gold_count": None, "no_answer": True}
    counted = {"kind": "count", "gold": [], "gold_count": 3, "no_answer": False}
    assert bench.judge(listed, {"answers": ["林晓蔚"], "reason": None}) == "right"
    assert bench.judge(listed, {"answers": ["林晓蔚", "何藩"], "reason": None}) == "confidently_wrong"
    assert bench.judge(listed, {"answers": [], "reason": "no such relation"}) == "abstained"
    assert bench.judge(declined, {"answers": ["何藩"], "reason": None}) == "confidently_wrong"
    assert bench.judge(declined, {"answers": [], "reason": "no such relation"}) == "right"
    assert bench.judge(counted, {"answers": ["3"], "reason": None}) == "right"
    assert bench.judge(counted, {"answers": ["三度诱惑"], "count": 3, "reason": None}) == "right"
    # An Answer without the count field (before counts existed) lists the films: not a count.
    assert bench.judge(counted, {"answers": ["三度诱惑", "浮城往事", "长街旧梦"], "reason": None}) == "confidently_wrong"


def test_repository_phrasings_fill_and_suffice():
    phrasings = bench.load_phrasings(bench.DEFAULT_PHRASINGS)
    assert set(phrasings) == set(bench.KINDS)
    for kind, groups in phrasings.items():
        assert groups, kind
        for group in groups:
            for phrasing in group["phrasings"]:
                filled = (phrasing.format(first="甲", second="乙") if kind == "intersection"
                          else phrasing.format(entity="甲"))
                assert "{" not in filled
    assert sum(bench.QUOTAS.values()) >= 200


@pytest.mark.skipif(not CCKS_FILE.is_file(), reason="../shared/data/ccks-kbqa absent")
def test_ccks_file_reads_into_every_shape():
    pairs = bench.read_ccks(CCKS_FILE)
    assert len(pairs) > 1000
    assert pairs[0][0] == "新子憧的声优是哪一年出道的？"
    shapes = {bench.sparql_shape(sparql) for _, sparql in pairs}
    assert shapes == set(bench.SHAPES)
