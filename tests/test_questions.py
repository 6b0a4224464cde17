"""Question generation: tags line up with characters, test names never reach train, output is stable."""

from __future__ import annotations

import json

import pytest
from qa_fixtures import tiny_settings, write_corpus

from kgqa_cli.data.preprocess import run_preprocess
from kgqa_cli.errors import ConfigError, InputDataError, MissingArtifactError
from kgqa_cli.understanding.questions import generate_questions, read_questions, tag_question
from kgqa_cli.understanding.templates import load_templates


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("questions")
    write_corpus(root / "raw")
    settings = tiny_settings(root)
    run_preprocess(settings.preprocess, settings.paths)
    sets = generate_questions(settings.qa.questions, settings.paths)
    return settings, sets


def _slot_names(example: dict) -> list[str]:
    names, current = [], None
    for char, tag in zip(example["text"], example["slots"], strict=True):
        if tag.startswith("B-"):
            current = char
            names.append(current)
        elif tag.startswith("I-"):
            names[-1] += char
    return names


def test_every_tag_lines_up_with_a_character(generated):
    settings, _ = generated
    for split in ("train", "dev", "test"):
        examples = read_questions(settings.paths.questions_dir / f"{split}.jsonl")
        assert examples
        for example in examples:
            assert len(example["slots"]) == len(example["text"])
            for previous, tag in zip(["O", *example["slots"]], example["slots"], strict=False):
                assert tag == "O" or tag.startswith("B-") or previous[2:] == tag[2:]


def test_no_test_name_occurs_in_train(generated):
    settings, _ = generated
    names = {split: {n for e in read_questions(settings.paths.questions_dir / f"{split}.jsonl") for n in _slot_names(e)}
             for split in ("train", "dev", "test")}
    assert names["test"] and names["train"]
    assert not names["test"] & names["train"]
    assert not names["dev"] & names["train"]


def test_only_schema_intents_and_none(generated):
    _, sets = generated
    assert {intent.name for intent in sets.intents} == {"ask_director", "ask_films", "ask_wife", "ask_husband", "none"}
    counts = sets.stats()["per_intent"]
    assert all(c["train"] > 0 and c["test"] > 0 for c in counts.values())


def test_generation_is_deterministic(generated):
    settings, _ = generated
    before = (settings.paths.questions_dir / "train.jsonl").read_bytes()
    generate_questions(settings.qa.questions, settings.paths)
    assert (settings.paths.questions_dir / "train.jsonl").read_bytes() == before


def test_quoted_names_leave_the_brackets_untagged():
    example = tag_question("{entity}的导演是谁", "请问{q}", "风云", "subject", quoted=True)
    assert example["text"] == "请问《风云》的导演是谁"
    assert example["slots"][2:6] == ["O", "B-subject", "I-subject", "O"]


def test_a_torn_line_in_a_split_is_named_with_its_line(tmp_path):
    """A split cut short (a full disk while preprocess wrote it) stops generation at its line."""
    write_corpus(tmp_path / "raw")
    settings = tiny_settings(tmp_path)
    run_preprocess(settings.preprocess, settings.paths)
    dev = settings.paths.corpus_dir / "dev.jsonl"
    lines = dev.read_text(encoding="utf-8").splitlines()
    dev.write_text("\n".join(lines) + "\n" + lines[0][: len(lines[0]) // 2], encoding="utf-8")
    with pytest.raises(InputDataError, match=rf"dev.jsonl:{len(lines) + 1}: invalid JSON"):
        generate_questions(settings.qa.questions, settings.paths)


def test_missing_preprocess_and_bad_templates(tmp_path):
    settings = tiny_settings(tmp_path)
    with pytest.raises(MissingArtifactError):
        generate_questions(settings.qa.questions, settings.paths)
    bad = tmp_path / "q.yaml"
    bad.write_text(json.dumps({"intents": [{"name": "ask_x", "predicate": "导演", "templates": ["no slot"]}]}))
    with pytest.raises(ConfigError, match="q.yaml"):
        load_templates(bad)
