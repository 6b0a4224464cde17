"""Reading DuIE 1.0/2.0 files, folders and zips; validation with line numbers; splits."""

from __future__ import annotations

import json
import zipfile

import pytest
from conftest import SCHEMA_LINES, film_records, spo, write_lines

from kgqa_cli.data.config import PreprocessConfig
from kgqa_cli.data.corpus import load_corpus
from kgqa_cli.data.preprocess import run_preprocess
from kgqa_cli.errors import InputDataError
from kgqa_cli.workspace import Workspace


def run(tmp_path, input_path, **options):
    workspace = Workspace(tmp_path / "ws")
    return run_preprocess(PreprocessConfig(input=input_path, **options), workspace), workspace


def test_duie2_file_with_complex_slots_is_kept(tmp_path):
    record = {
        "text": "张三在《大话西游》中饰演至尊宝",
        "spo_list": [spo("张三", "饰演", "至尊宝", "娱乐人物", "人物", inWork=("大话西游", "影视作品"))],
    }
    path = write_lines(tmp_path / "train.json", [record, *film_records(20)])
    report, workspace = run(tmp_path, path, dev_ratio=0, test_ratio=0)
    first = report.splits["train"][0].spo_list[0].to_json()
    assert first["object"] == {"@value": "至尊宝", "inWork": "大话西游"}
    assert first["object_type"] == {"@value": "人物", "inWork": "影视作品"}
    schema = [json.loads(line) for line in workspace.schema_file.read_text(encoding="utf-8").splitlines()]
    assert {"subject_type": "娱乐人物", "predicate": "饰演", "object_type": {"@value": "人物", "inWork": "影视作品"}} in schema


def test_duie1_plain_strings_are_normalised(tmp_path):
    record = {
        "postag": [{"word": "x", "pos": "n"}],
        "text": "《霸王别姬》的导演是陈凯歌",
        "spo_list": [{"predicate": "导演", "object_type": "人物", "subject_type": "影视作品",
                      "object": "陈凯歌", "subject": "霸王别姬"}],
    }
    write_lines(tmp_path / "in" / "train_data.json", [record])
    write_lines(tmp_path / "in" / "all_50_schemas", [
        {"object_type": "人物", "predicate": "导演", "subject_type": "影视作品"},
    ])
    report, _ = run(tmp_path, tmp_path / "in", dev_ratio=0, test_ratio=0)
    assert report.splits["train"][0].spo_list[0].object.to_json() == {"@value": "陈凯歌"}
    assert report.schema_source.endswith("all_50_schemas")


def test_folder_keeps_its_dev_file_and_skips_unlabelled_test(tmp_path):
    folder = tmp_path / "duie"
    write_lines(folder / "duie_train.json", film_records(50))
    write_lines(folder / "duie_dev.json", film_records(5, start=100))
    write_lines(folder / "duie_test1.json", [{"text": "只有文本"}])
    write_lines(folder / "duie_schema.json", SCHEMA_LINES)
    report, _ = run(tmp_path, folder, test_ratio=0.2)
    assert [r.text for r in report.splits["dev"]] == [r["text"] for r in film_records(5, start=100)]
    assert len(report.splits["test"]) == 10 and len(report.splits["train"]) == 40
    assert report.skipped_files == [str(folder / "duie_test1.json")]


def test_baidu_zip_layout_is_read(tmp_path):
    archive = tmp_path / "DuIE_2_0.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("DuIE_2_0/duie_train.json", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in film_records(30)))
        zf.writestr("DuIE_2_0/duie_dev.json", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in film_records(3, 50)))
        zf.writestr("DuIE_2_0/duie_schema.json", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in SCHEMA_LINES))
        zf.writestr("__MACOSX/DuIE_2_0/._duie_train.json", "junk")
    report, _ = run(tmp_path, archive)
    assert len(report.splits["dev"]) == 3
    assert sum(len(v) for v in report.splits.values()) == 33
    assert report.schema_source.endswith("!DuIE_2_0/duie_schema.json")


def bad_file(tmp_path):
    good = film_records(8)
    lines = [
        good[0], good[1], good[2], good[3], good[4], good[5],
        '{"text": "broken", "spo_list": [',                                  # line 7: invalid JSON
        {"spo_list": []},                                                     # line 8: no text
        {"text": "这里没有主语", "spo_list": [spo("不存在", "导演", "没有")]},     # line 9
        {"text": "甲乙的导演是丙", "spo_list": [spo("甲乙", "编剧", "丙")]},       # line 10: predicate
        {"text": "甲乙的导演是丙", "spo_list": [spo("甲乙", "导演", "丙", "人物")]},  # line 11: types
        good[6], good[7],
    ]
    path = write_lines(tmp_path / "bad" / "duie_train.json", lines)
    write_lines(tmp_path / "bad" / "duie_schema.json", SCHEMA_LINES)
    return tmp_path / "bad", path


def test_each_bad_line_is_reported_with_its_number_and_nothing_else_is_lost(tmp_path):
    folder, path = bad_file(tmp_path)
    report, workspace = run(tmp_path, folder, dev_ratio=0, test_ratio=0)
    found = {(p.line, p.kind) for p in report.problems}
    assert found == {
        (7, "invalid_json"), (8, "missing_text"), (9, "subject_not_in_text"),
        (10, "unknown_predicate"), (11, "type_mismatch"),
    }
    assert all(str(p).startswith(f"{path}:{p.line}: ") for p in report.problems)
    assert len(report.splits["train"]) == 8
    rejected = [json.loads(line) for line in (workspace.corpus_dir / "rejected.jsonl").read_text().splitlines()]
    assert [r["line"] for r in rejected] == [7, 8, 9, 10, 11]


def test_stop_mode_fails_on_the_first_bad_line(tmp_path):
    folder, path = bad_file(tmp_path)
    with pytest.raises(InputDataError, match=rf"{path}:7: invalid JSON"):
        run(tmp_path, folder, on_error="stop")


def test_exact_duplicates_are_removed(tmp_path):
    records = film_records(10)
    path = write_lines(tmp_path / "train.json", records + records[:3])
    report, _ = run(tmp_path, path)
    assert report.duplicates_removed == 3
    assert sum(len(v) for v in report.splits.values()) == 10


def test_splits_are_deterministic_byte_identical_and_order_independent(tmp_path):
    records = film_records(200)
    forward = write_lines(tmp_path / "a" / "train.json", records)
    backward = write_lines(tmp_path / "b" / "train.json", list(reversed(records)))
    _, ws1 = run(tmp_path / "one", forward)
    first = {split: ws1.split_file(split).read_bytes() for split in ("train", "dev", "test")}
    _, ws1_again = run(tmp_path / "one", forward)
    assert {split: ws1_again.split_file(split).read_bytes() for split in first} == first
    _, ws2 = run(tmp_path / "two", backward)
    for split in ("train", "dev", "test"):
        assert {r.text for r in load_corpus(ws2.split_file(split))} == {
            r.text for r in load_corpus(ws1.split_file(split))
        }
    sizes = {split: len(load_corpus(ws1.split_file(split))) for split in first}
    assert sizes == {"train": 160, "dev": 20, "test": 20}
    _, ws3 = run(tmp_path / "three", forward, seed=99)
    assert ws3.split_file("test").read_bytes() != first["test"]


def test_a_text_never_lands_in_two_splits(tmp_path):
    records = film_records(100)
    # Same text, different labels: not an exact duplicate, but it must stay in one split.
    twins = [{"text": r["text"], "spo_list": []} for r in records]
    path = write_lines(tmp_path / "train.json", records + twins)
    report, _ = run(tmp_path, path)
    texts = [{r.text for r in report.splits[s]} for s in ("train", "dev", "test")]
    assert not (texts[0] & texts[1] or texts[0] & texts[2] or texts[1] & texts[2])


@pytest.mark.skipif(not (__import__("conftest").SHARED_DATA / "duie").is_dir(), reason="../shared/data absent")
def test_real_duie_subset_preprocesses_cleanly(tmp_path):
    from conftest import SHARED_DATA

    report, _ = run(tmp_path, SHARED_DATA / "duie" / "duie_train.first5000.json",
                    schema_file=SHARED_DATA / "duie" / "duie_schema.json")
    assert sum(len(v) for v in report.splits.values()) == 5000
    assert len(report.stats()["predicates"]) == 46
