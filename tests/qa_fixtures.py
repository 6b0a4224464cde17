"""Tiny corpus, graph and question model shared by the question-model and ask tests."""

from __future__ import annotations

import json
import random
from pathlib import Path

from kgqa_cli.settings import KgqaConfig

FAMILY = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰"
TITLE = "风云山河月光海天梦城春秋星火雪夜歌剑心门"

SCHEMA = [
    {"subject_type": "影视作品", "predicate": "导演", "object_type": {"@value": "人物"}},
    {"subject_type": "人物", "predicate": "妻子", "object_type": {"@value": "人物"}},
    {"subject_type": "人物", "predicate": "丈夫", "object_type": {"@value": "人物"}},
]
# Facts the ask tests query (they are also in the corpus, hence in the graph and the questions).
FACTS = [("三度诱惑", "导演", "何藩"), ("许晋亨", "妻子", "李嘉欣"), ("李嘉欣", "丈夫", "许晋亨")]


def _names(rng: random.Random, alphabet_a: str, alphabet_b: str, count: int, length: tuple[int, int]) -> list[str]:
    names: set[str] = set()
    while len(names) < count:
        size = rng.randint(*length)
        names.add(rng.choice(alphabet_a) + "".join(rng.choice(alphabet_b) for _ in range(size - 1)))
    return sorted(names)


def write_corpus(folder: Path, films: int = 60, couples: int = 40, seed: int = 3) -> Path:
    """A DuIE 2.0 corpus of films and marriages, with the FACTS in it."""
    rng = random.Random(seed)
    people = _names(rng, FAMILY, GIVEN, films + 2 * couples, (2, 3))
    titles = _names(rng, TITLE, TITLE + GIVEN, films, (2, 5))
    records = []

    def spo(subject, predicate, obj, subject_type, object_type="人物"):
        return {"subject": subject, "subject_type": subject_type, "predicate": predicate,
                "object": {"@value": obj}, "object_type": {"@value": object_type}}

    for index, title in enumerate(titles):
        director = people[index % 30]  # directors make several films each
        records.append({"text": f"《{title}》是{director}执导的电影", "spo_list": [spo(title, "导演", director, "影视作品")]})
    for index in range(couples):
        husband, wife = people[films + 2 * index], people[films + 2 * index + 1]
        records.append({"text": f"{husband}的妻子是{wife}", "spo_list": [
            spo(husband, "妻子", wife, "人物"), spo(wife, "丈夫", husband, "人物")]})
    records.append({"text": "三度诱惑是何藩导演的电影", "spo_list": [spo("三度诱惑", "导演", "何藩", "影视作品")]})
    records.append({"text": "许晋亨与李嘉欣结婚", "spo_list": [
        spo("许晋亨", "妻子", "李嘉欣", "人物"), spo("李嘉欣", "丈夫", "许晋亨", "人物")]})
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "duie_train.json").open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    with (folder / "duie_schema.json").open("w", encoding="utf-8") as handle:
        for line in SCHEMA:
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    return folder / "duie_train.json"


def tiny_settings(root: Path) -> KgqaConfig:
    """A config whose workspace is ``root`` and whose question model trains in seconds."""
    return KgqaConfig.model_validate({
        "workspace": str(root / "ws"),
        "preprocess": {"input": str(root / "raw"), "dev_ratio": 0.1, "test_ratio": 0.1},
        "qa": {
            "questions": {"per_intent": {"train": 70, "dev": 10, "test": 20}},
            "model": {"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 2,
                      "intermediate_size": 128, "max_length": 48},
            "train": {"epochs": 12, "batch_size": 16, "learning_rate": 0.003, "patience": 4},
        },
    })


def build_workspace(root: Path, train: bool = True, graph: bool = True) -> KgqaConfig:
    """Corpus -> preprocess -> graph (gold triples) -> questions -> trained, registered model."""
    from kgqa_cli.data.preprocess import run_preprocess
    from kgqa_cli.understanding.questions import generate_questions

    corpus = write_corpus(root / "raw")
    settings = tiny_settings(root)
    run_preprocess(settings.preprocess, settings.paths)
    if graph:
        from kgqa_cli.graph.bulkload import run_bulkload

        run_bulkload(settings.graph, settings.paths, corpus, show_progress=False)
    generate_questions(settings.qa.questions, settings.paths, context=settings.ask.context)
    if train:
        from kgqa_cli.understanding.training import train_question_model

        train_question_model(settings.qa, settings.paths)
    return settings


def copy_workspace(settings: KgqaConfig, root: Path) -> KgqaConfig:
    """A private copy of a built workspace (tests that write into it use one)."""
    import shutil

    shutil.copytree(settings.paths.root, root / "ws")
    return settings.model_copy(update={"workspace": root / "ws"})
