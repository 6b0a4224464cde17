"""Output channels of the extractor and turning corpus records into pointer targets.

Each predicate is one object channel. A complex DuIE 2.0 predicate (配音, 饰演, 获奖, ...) also gets
one channel per extra slot (``获奖|inWork``): for a subject, that channel points at the slot's value,
and decoding attaches it to the predicate's main object.
"""

from __future__ import annotations

from dataclasses import dataclass

from kgqa_cli.data.schema import Schema

SLOT_SEPARATOR = "|"


def channels_of(schema: Schema) -> list[str]:
    """Predicates sorted, each followed by its slot channels (``predicate|slot``)."""
    channels = []
    for predicate in schema.predicates:
        channels.append(predicate)
        channels.extend(f"{predicate}{SLOT_SEPARATOR}{slot}" for slot in schema.slots_of(predicate))
    return channels


def channel_subject_types(schema: Schema) -> tuple[list[str], list[int]]:
    """The schema's subject types (sorted) and, per output channel, the index of the subject type
    its predicate takes (the first relation's, as decoding reports)."""
    types = sorted({relation.subject_type for relation in schema.relations})
    index = {name: number for number, name in enumerate(types)}
    return types, [index[schema.relations_of(split_channel(channel)[0])[0].subject_type]
                   for channel in channels_of(schema)]


def split_channel(channel: str) -> tuple[str, str]:
    """``"获奖|inWork"`` -> ``("获奖", "inWork")``; a plain predicate -> ``(predicate, "@value")``."""
    predicate, _, slot = channel.partition(SLOT_SEPARATOR)
    return predicate, slot or "@value"


@dataclass
class Example:
    """One training sentence: character ids and, per subject span, its object spans per channel."""

    ids: list[int]
    subjects: dict[tuple[int, int], set[tuple[int, int, int]]]  # (head, tail) -> {(channel, head, tail)}
    lexicon: tuple | None = None  # the text's word-lexicon features (Lexicon.features), when used
    channel_mask: object = None  # [channels] floats, 0 where this sentence's source teaches nothing
    bigrams: list[int] | None = None  # the text's bigram ids, when the model reads bigrams
    teacher: tuple | None = None  # a teacher's probabilities (Extractor.pointer_probabilities), when distilling


def make_example(record: dict, encode, channel_index: dict[str, int], max_len: int) -> Example:
    """Locate each triple's spans (first occurrence) in the first ``max_len`` characters."""
    text = record["text"][:max_len]
    subjects: dict[tuple[int, int], set[tuple[int, int, int]]] = {}
    for spo in record["spo_list"]:
        subject_span = _span(text, spo["subject"])
        if subject_span is None:
            continue
        targets = subjects.setdefault(subject_span, set())
        for slot, value in spo["object"].items():
            channel = spo["predicate"] if slot == "@value" else f"{spo['predicate']}{SLOT_SEPARATOR}{slot}"
            if channel not in channel_index:
                continue
            object_span = _span(text, value)
            if object_span is not None:
                targets.add((channel_index[channel], *object_span))
    return Example(encode(text), subjects)


def _span(text: str, value: str) -> tuple[int, int] | None:
    if not value:
        return None
    start = text.find(value)
    return None if start < 0 else (start, start + len(value) - 1)
