"""The label queue: the captured questions still without ground truth, and the tags a label gives.

Items whose key already has ground truth are done; the others are grouped by question text, in
the order of their first capture, and each group is labelled once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from kgqa_cli.errors import InputDataError
from kgqa_cli.io import BadLines
from kgqa_cli.labeling.captures import Group, read_items
from kgqa_cli.labeling.store import read_ground_truth


def label_queue(capture_root: Path, ground_truth_root: Path, bad: BadLines | None = None) -> list[Group]:
    """The questions still to label, grouped by text, in the order of their first capture."""
    done = set(read_ground_truth(ground_truth_root, bad))
    groups: dict[str, Group] = {}
    for item, _ in read_items(capture_root, bad=bad):
        if item.key not in done and item.question.strip():
            groups.setdefault(item.question, Group(item.question)).items.append(item)
    return list(groups.values())


def bio_tags(question: str, spans: dict[str, Iterable[str]]) -> list[str]:
    """One BIO tag per character: each span text tagged at its first untagged occurrence."""
    tags = ["O"] * len(question)
    for name, texts in spans.items():
        for text in texts:
            if not text:
                continue
            start = question.find(text)
            while start != -1 and any(tag != "O" for tag in tags[start:start + len(text)]):
                start = question.find(text, start + 1)
            if start == -1:
                continue
            tags[start] = f"B-{name}"
            for index in range(start + 1, start + len(text)):
                tags[index] = f"I-{name}"
    return tags


def intent_slots(model_folder: Path) -> dict[str, str | None]:
    """Every intent of a question model and the slot its entity fills: ``subject`` when the
    question asks for the object of an entity, ``object`` for a reverse question, None for
    ``none``. Read from the model's ``config.json`` (no weights are loaded)."""
    try:
        meta = json.loads((Path(model_folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputDataError(f"{model_folder}: cannot read the question model's intents ({exc})") from exc
    slots: dict[str, str | None] = {}
    for intent in meta["intents"]:
        routes = meta["routes"].get(intent) or []
        slots[intent] = None if not routes else ("object" if routes[0]["direction"] == "reverse" else "subject")
    return slots


def predicted_entity(group: Group) -> str | None:
    """The entity text the answer was read with (when it is a text of the question, not one taken
    from the conversation), else the first tagged slot; None when there is neither."""
    used = group.prediction.get("entity") or {}
    mention = used.get("mention") if used.get("method") != "context" else None
    if mention and mention in group.question:
        return mention
    slots = group.prediction.get("slots") or {}
    texts = [text for values in slots.values() for text in values]
    return texts[0] if texts else None


def tags_for(group: Group, intent: str, slots_of: dict[str, str | None], entity: str | None = None) -> list[str]:
    """The BIO tags of a decision: the ``entity`` text (or else the predicted entity: the mention
    the answer was read with, else the first tagged slot) tagged as the slot the intent fills; all
    ``O`` for an intent without one (``none``)."""
    slot = slots_of.get(intent)
    if slot is None:
        return ["O"] * len(group.question)
    if entity is None:
        entity = predicted_entity(group)
    if entity is None:
        return ["O"] * len(group.question)
    if entity not in group.question:
        raise InputDataError(f"{entity!r} does not occur in the question {group.question!r}")
    return bio_tags(group.question, {slot: [entity]})
