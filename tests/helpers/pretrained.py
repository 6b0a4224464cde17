"""The pretrained-encoder extractor's training data and settings: a synthetic corpus whose names
hold digits and Latin words, the tiny BERT's vocabulary, and the CLI options of a model that
trains in seconds on the CPU."""

from __future__ import annotations

import random

from helpers import extractor
from helpers.extractor import invoke  # noqa: F401 - the same CLI runner
from helpers.extractor import triple as extractor_triple

# The extractor tests' schema without 妻子, and the first of their names.
SCHEMA = [relation for relation in extractor.SCHEMA if relation["predicate"] != "妻子"]
SURNAMES = extractor.SURNAMES[:10]
GIVEN = extractor.GIVEN[:10]
FILM = extractor.FILM[:12]
PREFIXES = ["", "", "2019年", "iPhone"]  # names holding digits and a Latin word: several characters per token
TEMPLATE_CHARACTERS = "《》是由执导的电影，主演在中饰演"
WORD_PIECES = ["2019", "20", "##19", "iphone", "ip", "##hone", "##one"]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
MIXED = "2019年iPhone发布会"

TINY = [
    "--kg.model.encoder", "pretrained", "--kg.model.conv_channels", "32", "--kg.model.dropout", "0.0",
    "--kg.train.batch_size", "8", "--kg.train.lr", "0.003", "--kg.train.encoder_lr", "0.001",
    "--kg.train.patience", "30", "--kg.train.threads", "1", "--kg.train.device", "cpu",
]


def triple(subject, predicate, obj, **slots):
    return extractor_triple(subject, predicate, obj, schema=SCHEMA, **slots)


def corpus(count: int, seed: int) -> list[dict]:
    """Three templates with invented names; some films start with 2019年 or iPhone."""
    rng = random.Random(seed)

    def person():
        return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))

    def film():
        return rng.choice(PREFIXES) + "".join(rng.sample(FILM, rng.randint(2, 3)))

    records = []
    for number in range(count):
        f, a, b = film(), person(), person()
        while b == a:
            b = person()
        kind = number % 3
        if kind == 0:
            records.append({"text": f"《{f}》是由{a}执导的电影", "spo_list": [triple(f, "导演", a)]})
        elif kind == 1:
            records.append({"text": f"《{f}》由{a}执导，{b}主演", "spo_list": [triple(f, "导演", a), triple(f, "主演", b)]})
        else:
            records.append({"text": f"{a}在《{f}》中饰演{b}", "spo_list": [triple(a, "饰演", b, inWork=f)]})
    return records
