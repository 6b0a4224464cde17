"""The tiny triple extractor's training data and settings: a synthetic DuIE corpus from four
templates and the CLI options of a model that trains in seconds on the CPU."""

from __future__ import annotations

import random
from pathlib import Path

from typer.testing import CliRunner

from kgqa_cli.cli.main import app

SCHEMA = [
    {"subject_type": "影视作品", "predicate": "导演", "object_type": {"@value": "人物"}},
    {"subject_type": "影视作品", "predicate": "主演", "object_type": {"@value": "人物"}},
    {"subject_type": "人物", "predicate": "妻子", "object_type": {"@value": "人物"}},
    {"subject_type": "娱乐人物", "predicate": "饰演", "object_type": {"@value": "人物", "inWork": "影视作品"}},
]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"
FILM = "星河之夜风云梦归途彼岸花海上传奇长歌行远方故事"

TINY_MODEL = [
    "--kg.model.embedding_dim", "32", "--kg.model.hidden_size", "32", "--kg.model.attention_heads", "2",
    "--kg.model.conv_channels", "64", "--kg.model.dropout", "0.1",
    "--kg.train.batch_size", "8", "--kg.train.lr", "0.005", "--kg.train.patience", "30",
    "--kg.train.threads", "1", "--kg.train.device", "cpu",
]


def triple(subject, predicate, obj, schema=None, **slots):
    """A DuIE 2.0 spo entry, its types from ``schema`` (this module's SCHEMA by default)."""
    types = {s["predicate"]: s for s in (schema or SCHEMA)}[predicate]
    object_type = {k: v for k, v in types["object_type"].items() if k == "@value" or k in slots}
    return {"subject": subject, "subject_type": types["subject_type"], "predicate": predicate,
            "object": {"@value": obj, **slots}, "object_type": object_type}


def synthetic_corpus(count: int, seed: int) -> list[dict]:
    """Sentences from four templates, with invented names: one subject with two predicates,
    two subjects in one sentence, and a complex predicate with an inWork slot."""
    rng = random.Random(seed)

    def person():
        return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))

    def film():
        return "".join(rng.sample(FILM, rng.randint(2, 4)))

    records = []
    for number in range(count):
        kind = number % 4
        f, a, b = film(), person(), person()
        while b == a:
            b = person()
        if kind == 0:
            records.append({"text": f"《{f}》是由{a}执导的电影", "spo_list": [triple(f, "导演", a)]})
        elif kind == 1:
            records.append({"text": f"《{f}》由{a}执导，{b}主演", "spo_list": [triple(f, "导演", a), triple(f, "主演", b)]})
        elif kind == 2:
            records.append({"text": f"{a}的妻子是{b}，{b}的丈夫不是别人", "spo_list": [triple(a, "妻子", b)]})
        else:
            records.append({"text": f"{a}在《{f}》中饰演{b}", "spo_list": [triple(a, "饰演", b, inWork=f)]})
    return records


def invoke(workspace: Path, *args: str):
    return CliRunner().invoke(app, [*args, "--workspace", str(workspace)], catch_exceptions=False)
