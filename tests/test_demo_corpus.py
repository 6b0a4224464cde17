"""The synthetic demo corpus generator (scripts/make_demo_corpus.py): format, determinism, content."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "make_demo_corpus.py"
SPO_KEYS = ["predicate", "object_type", "subject_type", "object", "subject"]

# SHA-256 of the files the generator writes: the bytes it wrote while its templates, name pools and
# seed facts were Python literals, before they moved to configs/demo_corpus.yaml. They must not
# change unless the demo corpus is meant to change (then every stage after `make demo` sees a new
# corpus).
SCHEMA_SHA256 = "c01a210f40f91d81635a485bdcba0c08ce774cac749b3989ab06747dc6ee2875"
EXPECTED_SHA256 = {
    # `make demo`: the defaults, 5,000 sentences, seed 13
    "default": {"duie_train.json": "e75373e0513a1dff4afd44fb4bcfb50950df7d2ed72b335a842c661bf7954077",
                "duie_schema.json": SCHEMA_SHA256},
    # --sentences 600 --seed 13 (the `small` fixture)
    "600": {"duie_train.json": "4e96f4d345efd4f08eeab6f9df77c92441caa07976e2cd71c4b20eea3634312b",
            "duie_schema.json": SCHEMA_SHA256},
}


def load_script():
    spec = importlib.util.spec_from_file_location("make_demo_corpus", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def generate(out: Path, sentences: int, seed: int = 13, hash_seed: str = "0") -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out), "--sentences", str(sentences), "--seed", str(seed)],
        capture_output=True, text=True, check=True, env=env, timeout=120,
    )


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo600")
    result = generate(out, 600)
    return out, result, read_lines(out / "duie_train.json"), read_lines(out / "duie_schema.json")


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo5000")
    generate(out, 5000)
    return read_lines(out / "duie_train.json")


def test_same_arguments_give_identical_files(tmp_path, small):
    out, _, _, _ = small
    generate(tmp_path / "again", 600, hash_seed="12345")
    for name in ("duie_train.json", "duie_schema.json"):
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes()
    generate(tmp_path / "other", 600, seed=14)
    assert (tmp_path / "other" / "duie_train.json").read_bytes() != (out / "duie_train.json").read_bytes()


def sha256_of_files(folder: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.iterdir())}


def test_generator_writes_the_pinned_bytes(tmp_path, small):
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path)], capture_output=True, check=True,
                   env=env, timeout=120)
    assert sha256_of_files(tmp_path) == EXPECTED_SHA256["default"]
    assert sha256_of_files(small[0]) == EXPECTED_SHA256["600"]


def test_records_are_duie2_lines(small):
    out, result, records, _ = small
    assert len(records) == 600
    first = (out / "duie_train.json").read_text(encoding="utf-8").splitlines()[0]
    assert "\\u" not in first  # ensure_ascii=False
    for record in records:
        assert list(record) == ["text", "spo_list"]
        assert record["spo_list"]
        for spo in record["spo_list"]:
            assert list(spo) == SPO_KEYS
            assert list(spo["object"])[0] == "@value" and list(spo["object_type"])[0] == "@value"
            assert set(spo["object"]) == set(spo["object_type"])
    assert "600 sentences" in result.stderr and "predicates" in result.stderr


def test_every_value_occurs_in_its_text(small):
    _, _, records, _ = small
    for record in records:
        for spo in record["spo_list"]:
            for value in [spo["subject"], *spo["object"].values()]:
                assert value and value in record["text"], (value, record["text"])
                assert "《" not in value and "》" not in value


def test_titles_are_often_but_not_always_in_book_title_marks(small):
    _, _, records, _ = small
    works = [(spo["subject"], r["text"]) for r in records for spo in r["spo_list"]
             if spo["subject_type"] in ("影视作品", "图书作品", "歌曲")]
    wrapped = sum(f"《{title}》" in text for title, text in works)
    assert 0.5 * len(works) < wrapped < len(works)


def test_every_triple_fits_the_written_schema(small):
    _, _, records, schema = small
    assert all(list(line) == ["subject_type", "predicate", "object_type"] for line in schema)
    by_predicate = {line["predicate"]: line for line in schema}
    assert len(by_predicate) == len(schema)
    used = set()
    for record in records:
        for spo in record["spo_list"]:
            line = by_predicate[spo["predicate"]]
            used.add(spo["predicate"])
            assert spo["subject_type"] == line["subject_type"]
            for slot, slot_type in spo["object_type"].items():
                assert line["object_type"][slot] == slot_type
    assert used == set(by_predicate)  # only the predicates the corpus uses


def test_schema_constant_has_48_duie2_predicates_with_enough_phrasings():
    module = load_script()
    assert len(module.SCHEMA) == 48
    for predicate, templates in module.T.items():
        assert predicate in module.SCHEMA
        assert len(set(templates["head"] + templates["solo"])) >= 4, predicate
        assert templates["cont"], predicate


def test_coverage_and_multi_triple_share(small, full):
    for records in (small[2], full):
        predicates = {spo["predicate"] for r in records for spo in r["spo_list"]}
        assert len(predicates) >= 25
        assert {"导演", "作者", "妻子", "丈夫", "毕业院校", "主演", "饰演", "上映时间", "获奖"} <= predicates
        multi = sum(len(r["spo_list"]) >= 2 for r in records)
        assert multi / len(records) >= 0.4
    assert len(full) == 5000


def test_complex_slots_are_filled(full):
    slots = defaultdict(set)
    for record in full:
        for spo in record["spo_list"]:
            slots[spo["predicate"]].update(k for k in spo["object"] if k != "@value")
    assert "inWork" in slots["饰演"]
    assert "inArea" in slots["上映时间"]
    assert {"inWork", "onDate", "period"} <= slots["获奖"]


def test_seed_facts_are_stated_several_ways(full):
    module = load_script()
    for subject, predicate, obj in module.SEED_FACTS:
        texts = {r["text"].rstrip("。") for r in full for spo in r["spo_list"]
                 if (spo["subject"], spo["predicate"], spo["object"]["@value"]) == (subject, predicate, obj)}
        assert len(texts) >= 5, (subject, predicate, obj)
    directed = {spo["subject"] for r in full for spo in r["spo_list"]
                if spo["predicate"] == "导演" and spo["object"]["@value"] == "何藩"}
    assert len(directed) >= 3


def test_facts_do_not_contradict(full):
    objects = defaultdict(set)
    for record in full:
        for spo in record["spo_list"]:
            objects[(spo["subject"], spo["predicate"])].add(spo["object"]["@value"])
    for predicate in ("导演", "作者", "妻子", "丈夫", "父亲", "母亲", "毕业院校", "国籍", "首都", "上映时间"):
        for (subject, p), values in objects.items():
            if p == predicate:
                assert len(values) == 1, (subject, predicate, values)
    for (husband, p), wives in objects.items():
        if p == "妻子":
            wife = next(iter(wives))
            assert objects.get((wife, "丈夫"), {husband}) == {husband}


def test_entity_names_are_chinese_only(full):
    def chinese(name: str) -> bool:
        return all("\u4e00" <= ch <= "\u9fff" for ch in name)

    for record in full:
        for spo in record["spo_list"]:
            assert chinese(spo["subject"]), spo["subject"]
            if spo["object_type"]["@value"] in ("人物", "影视作品", "图书作品", "歌曲", "音乐专辑", "企业", "学校"):
                assert chinese(spo["object"]["@value"]), spo["object"]["@value"]
