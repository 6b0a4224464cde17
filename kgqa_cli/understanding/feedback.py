"""The labelled questions of `kgqa label` in the question sets: read back, and merged into the
train split (a question a user asked, labelled, weighs more than a generated one)."""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# A question example as the question files hold it: "text", "intent", "slots" (one BIO tag per
# character), and "source": "feedback" on a labelled one.
Example = dict[str, Any]


def read_feedback(path: Path, intents: set[str]) -> list[Example]:
    """The labelled questions of `kgqa label` (text, intent, one BIO tag per character), latest
    label of a text winning; an unreadable line is skipped with a warning, and intents the
    templates do not know are left out with a warning."""
    from kgqa_cli.understanding.labelled import read_feedback_rows

    latest = {text: {"text": text, "intent": row["intent"], "slots": list(row["slots"])}
              for text, row in read_feedback_rows(path).items()}
    unknown = sorted({e["intent"] for e in latest.values()} - intents)
    if unknown:
        log.warning("%s: intents not in the templates, left out: %s", path, ", ".join(unknown))
    return [example for example in latest.values() if example["intent"] in intents]


def span_texts(example: Example) -> list[str]:
    """The entity texts a BIO-tagged example marks."""
    texts: list[str] = []
    current = ""
    for char, tag in zip(example["text"], example["slots"], strict=True):
        if tag.startswith("B-"):
            if current:
                texts.append(current)
            current = char
        elif tag.startswith("I-") and current:
            current += char
        else:
            if current:
                texts.append(current)
            current = ""
    if current:
        texts.append(current)
    return texts


def merge_feedback(splits: dict[str, list[Example]], feedback: list[Example], repeat: int, max_share: float,
                   seed: int) -> None:
    """Put the feedback questions into train (``repeat`` copies each, at most ``max_share`` of
    it) and take their texts out of dev and test, so that a question sits in one split only."""
    texts = {example["text"] for example in feedback}
    for split in ("dev", "test"):
        splits[split] = [example for example in splits[split] if example["text"] not in texts]
    train = [example for example in splits["train"] if example["text"] not in texts]
    room = int(max_share * len(train) / (1 - max_share)) if max_share < 1 else repeat * len(feedback)
    copies = max(1, min(repeat, room // max(1, len(feedback))))
    added = [dict(example, source="feedback") for example in feedback for _ in range(copies)]
    train.extend(added)
    random.Random(seed).shuffle(train)
    splits["train"] = train
    log.info("merged %d feedback questions (%d copies each) into the train split", len(feedback), copies)
