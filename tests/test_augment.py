"""Mention replacement (kg.train.augment): swapped names keep the triples pointing at the text."""

from __future__ import annotations

from kgqa_cli.data.records import Record, SlotValues, Triple
from kgqa_cli.extraction.augment import augment_records, person_names
from kgqa_cli.extraction.config import AugmentConfig
from kgqa_cli.extraction.lexicon import jieba_dictionary


def _record(text: str, *triples: tuple[str, str, str, str, str]) -> Record:
    return Record(text=text, spo_list=[
        Triple(subject=s, subject_type=st, predicate=p, object=SlotValues.of(o), object_type=SlotValues.of(ot))
        for s, st, p, o, ot in triples])


RECORDS = [
    _record("《星光》是张三导演的电影，2001年上映", ("星光", "影视作品", "导演", "张三", "人物"),
            ("星光", "影视作品", "上映时间", "2001年", "Date")),
    _record("《山海》由李四执导，李四也是编剧", ("山海", "影视作品", "导演", "李四", "人物"),
            ("山海", "影视作品", "编剧", "李四", "人物")),
    _record("王五是《河流》的导演", ("河流", "影视作品", "导演", "王五", "娱乐人物")),
    # Nested names: 北京 lies inside 北京大学, so neither may be swapped.
    _record("北京大学位于北京", ("北京大学", "学校", "所在城市", "北京", "城市")),
]


def test_swapped_names_stay_in_the_text_with_their_types_and_the_copies_repeat():
    config = AugmentConfig(copies=3, replace_probability=1.0, outside_names=0.0)
    made = augment_records(RECORDS, config, seed=5)
    assert made and made == augment_records(RECORDS, config, seed=5)  # seeded: the same copies again
    assert made != augment_records(RECORDS, config, seed=6)
    films = {"星光", "山海", "河流"}
    people = {"张三", "李四", "王五"}
    for copy in made:
        assert copy.text not in {record.text for record in RECORDS}
        for triple in copy.spo_list:
            assert triple.subject in copy.text and triple.object.value in copy.text
            assert triple.subject in films  # works are swapped for works only
            if triple.predicate == "上映时间":
                assert triple.object.value == "2001年"  # a date is kept
            else:
                assert triple.object.value in people  # 人物 and 娱乐人物 share one pool
        assert "北京大学" not in copy.text  # the nested pair has no copy at all
    # Every occurrence of a swapped name changes: 李四 directs and writes in each copy of record 2.
    second = [copy for copy in made if "执导" in copy.text]
    assert second and all(len({t.object.value for t in copy.spo_list}) == 1 for copy in second)


def test_outside_person_names_come_from_jieba_and_copies_zero_is_off():
    names = person_names(jieba_dictionary())
    assert len(names) > 50_000 and all(2 <= len(name) <= 4 for name in names[:1000])
    config = AugmentConfig(copies=2, replace_probability=1.0, outside_names=1.0)
    made = augment_records(RECORDS, config, seed=1, names=names)
    people = {triple.object.value for copy in made for triple in copy.spo_list
              if triple.predicate in ("导演", "编剧")}
    assert people and people <= set(names)
    assert augment_records(RECORDS, AugmentConfig(copies=0), seed=1, names=names) == []
