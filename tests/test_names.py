"""Names as people write them: homonyms by their descriptor, transliterated names by their last
part, quoted nicknames, and aliases from the graph's own 简称/别名 edges.

The tiny question model (导演/妻子/丈夫) asks a graph of its own, loaded with kgqa's bulkload.
"""

from __future__ import annotations

import pytest

from kgqa_cli.answering.candidates import SkippedQuoteNote
from kgqa_cli.answering.names import build_name_index, name_variants
from kgqa_cli.answering.pipeline import Answerer
from kgqa_cli.settings import KgqaConfig

FACTS = [
    # Homonyms: two of them married (brackets written three ways), one a director.
    ("张伟(演员)", "妻子", "刘芳", "人物", "人物"),
    ("张伟（歌手）", "妻子", "陈静", "人物", "人物"),
    ("风云再起", "导演", "张伟_（导演）", "影视作品", "人物"),
    # Homonyms told apart by their types only (disambiguated by birth year).
    ("李娜(1962年)", "丈夫", "王刚", "歌手", "人物"),
    ("李娜(1982年)", "丈夫", "姜山", "运动员", "人物"),
    # Transliterated names; two share the last part 贝克汉姆, one of them married.
    ("大卫·贝克汉姆", "妻子", "维多利亚·亚当斯", "人物", "人物"),
    ("维多利亚·贝克汉姆", "丈夫", "大卫·贝克汉姆", "人物", "人物"),
    ("海上钢琴", "导演", "莱昂纳多·迪卡普里奥", "影视作品", "人物"),
    ("莱昂纳多·迪卡普里奥", "别名", "小李子", "人物", "人物"),
    # Aliases from the graph's own edges.
    ("终结者2：审判日", "导演", "詹姆斯·卡梅隆", "影视作品", "人物"),
    ("终结者2：审判日", "简称", "T2", "影视作品", "影视作品"),
    ("北京大学", "校长", "王恩哥", "机构", "人物"),
    ("北京大学", "简称", "北大", "机构", "机构"),
]


@pytest.fixture(scope="module")
def answerer(tiny_qa, tmp_path_factory):
    """The tiny question model asking a graph of the FACTS."""
    from kgqa_cli.graph.bulkload import run_bulkload
    from kgqa_cli.io import write_jsonl

    root = tmp_path_factory.mktemp("names")
    corpus = root / "names.jsonl"
    write_jsonl(corpus, [
        {"text": f"{s}{p}{o}", "spo_list": [{"subject": s, "subject_type": st, "predicate": p,
                                              "object": {"@value": o}, "object_type": {"@value": ot}}]}
        for s, p, o, st, ot in FACTS
    ])
    loading = KgqaConfig.model_validate({"workspace": str(root / "ws"),
                                         "graph": {"path": str(root / "names.db"), "mode": "replace"}})
    run_bulkload(loading.graph, loading.paths, corpus, show_progress=False)
    with Answerer(tiny_qa.model_copy(update={"graph": loading.graph})) as warm:
        yield warm


def candidates(answerer, question):
    """The interpreter's entity candidates and notes for a question, the model's tags included."""
    from kgqa_cli.understanding.runtime import predict_batch

    prediction = predict_batch(answerer.model, [question], top=None)[0]
    return answerer.interpreter.entity_candidates(question, prediction.tags, prediction.slots, None)


def test_brackets_of_every_kind_give_the_base_name_and_its_descriptor():
    assert [(phrase, v.name, v.method, v.descriptor) for phrase, v in name_variants("张伟(演员)")] == [
        ("张伟", "张伟(演员)", "homonym", "演员")]
    assert name_variants("张伟_(导演)")[0][0] == "张伟" and name_variants("张伟【歌手】")[0][1].descriptor == "歌手"
    # Questions are read without spaces: so are the phrases. A version number is no transliteration.
    assert [(phrase, v.method) for phrase, v in name_variants("三星galaxy mega 5.8")] == [
        ("三星galaxymega5.8", "spelling")]
    assert ("hppaviliondv2304tx", "homonym") in [(p, v.method) for p, v in name_variants("hp pavilion dv2304tx(gc)")]


def test_a_descriptor_picks_the_homonym(answerer):
    assert answerer.answer("演员张伟的妻子是谁").answers == ["刘芳"]
    assert answerer.answer("歌手张伟的妻子是谁").answers == ["陈静"]
    found, _ = candidates(answerer, "歌手张伟的妻子是谁")
    assert (found[0].name, found[0].method, found[0].descriptor, found[0].mention) == (
        "张伟(歌手)", "homonym", "歌手", "歌手张伟")
    assert found[0].score > next(c.score for c in found if c.name == "张伟(演员)")


def test_a_descriptor_may_name_a_type_of_the_homonym(answerer):
    assert answerer.answer("歌手李娜的丈夫是谁").answers == ["王刚"]
    assert answerer.answer("运动员李娜的丈夫是谁").answers == ["姜山"]


def test_a_bare_name_offers_every_homonym_alike(answerer):
    found, _ = candidates(answerer, "张伟的妻子是谁")
    homonyms = {c.name: c for c in found if c.method == "homonym"}
    assert set(homonyms) == {"张伟(演员)", "张伟(歌手)", "张伟_(导演)"}
    assert len({round(c.score, 9) for c in homonyms.values()}) == 1
    assert {c.descriptor for c in homonyms.values()} == {"演员", "歌手", "导演"}
    # Both married ones read the asked edge equally; the director is not read as married.
    answer = answerer.answer("张伟的妻子是谁")
    tied = [r for r in answer.readings if r["score"] == answer.readings[0]["score"]]
    assert {r["entity"] for r in tied} == {"张伟(演员)", "张伟(歌手)"}
    # The edge asked settles it when only one homonym has it.
    assert answerer.answer("张伟导演了哪些电影").answers == ["风云再起"]


def test_a_transliterated_name_by_its_last_part(answerer):
    assert answerer.answer("贝克汉姆的妻子是谁").answers == ["维多利亚·亚当斯"]  # the married 贝克汉姆
    assert answerer.answer("贝克汉姆的丈夫是谁").answers == ["大卫·贝克汉姆"]
    assert answerer.answer("大卫贝克汉姆的妻子是谁").answers == ["维多利亚·亚当斯"]  # no dot
    found, _ = candidates(answerer, "迪卡普里奥导演了哪些电影")
    assert (found[0].name, found[0].method) == ("莱昂纳多·迪卡普里奥", "transliteration")
    exact, _ = candidates(answerer, "莱昂纳多·迪卡普里奥导演了哪些电影")
    assert exact[0].name == "莱昂纳多·迪卡普里奥" and exact[0].score > found[0].score


def test_a_quoted_nickname_is_used_when_an_alias_and_skipped_when_not(answerer):
    found, notes = candidates(answerer, "“小李子”导演了哪些电影")
    # The alias vertex 小李子 itself is a candidate too; only the one it names directs films.
    assert ("莱昂纳多·迪卡普里奥", "alias") in [(c.name, c.method) for c in found]
    assert not [n for n in notes if isinstance(n, SkippedQuoteNote)]
    question = "“老李”迪卡普里奥导演了哪些电影"
    found, notes = candidates(answerer, question)
    skipped = [n for n in notes if isinstance(n, SkippedQuoteNote)]
    assert [(n.phrase, n.span) for n in skipped] == [("老李", (0, 4))]
    assert found[0].name == "莱昂纳多·迪卡普里奥" and all(c.span[0] >= 4 for c in found)
    assert answerer.answer(question).answers == ["海上钢琴"]
    assert answerer.answer("「小李子」导演了哪些电影").answers == ["海上钢琴"]


def test_aliases_come_from_the_graphs_own_edges(answerer):
    found, _ = candidates(answerer, "北大的校长是谁")
    assert ("北京大学", "alias") in [(c.name, c.method) for c in found]
    assert answerer.answer("T2的导演是谁").answers == ["詹姆斯·卡梅隆"]


def test_the_alias_predicates_are_configurable():
    index = build_name_index(["北京大学", "北大"], 2, [("北京大学", "北大")])
    (_, _, phrase, (is_name, variants)), = index.find("北大在哪")
    assert phrase == "北大" and is_name and [v.name for v in variants] == ["北京大学"]
    from kgqa_cli.answering.config import InterpretationConfig

    assert "简称" in InterpretationConfig().alias_predicates
    assert InterpretationConfig(alias_predicates=["外号"]).alias_predicates == ["外号"]
