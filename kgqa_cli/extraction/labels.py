"""Output channels of the extractor and turning corpus records into pointer targets.

Each predicate is one object channel. A complex DuIE 2.0 predicate (配音, 饰演, 获奖, ...) also gets
one channel per extra slot (``获奖|inWork``): for a subject, that channel points at the slot's value,
and decoding attaches it to the predicate's main object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kgqa_cli.data.records import VALUE, Record
from kgqa_cli.data.schema import Schema

if TYPE_CHECKING:
    from kgqa_cli.extraction.tokens import TokenizedText

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
    return predicate, slot or VALUE


@dataclass
class Example:
    """One training sentence: character ids (or a pretrained encoder's token ids, shifted by one)
    and, per subject span, its object spans per channel, in the same positions."""

    ids: list[int]
    subjects: dict[tuple[int, int], set[tuple[int, int, int]]]  # (head, tail) -> {(channel, head, tail)}
    lexicon: tuple | None = None  # the text's word-lexicon features (Lexicon.features), when used
    channel_mask: object = None  # [channels] floats, 0 where this sentence's source teaches nothing
    bigrams: list[int] | None = None  # the text's bigram ids, when the model reads bigrams
    teacher: tuple | None = None  # a teacher's probabilities (Extractor.pointer_probabilities), when distilling


def make_example(record: Record, encode: Callable[[str], list[int]], channel_index: dict[str, int],
                 max_len: int) -> Example:
    """Locate each triple's spans (first occurrence) in the first ``max_len`` characters."""
    text = record.text[:max_len]
    return Example(encode(text), _targets(record, text, channel_index, lambda span: span))


def make_token_example(record: Record, tokenized: TokenizedText, channel_index: dict[str, int],
                       max_len: int) -> tuple[Example, int]:
    """As :func:`make_example`, on a pretrained encoder's tokens (``tokenized``: the
    :class:`~kgqa_cli.extraction.tokens.TokenizedText` of the first ``max_len`` characters);
    also the number of labelled spans left out because they cannot be placed on the tokens (a
    border inside a token, or past the truncated end)."""
    text = record.text[:max_len]
    unaligned = 0

    def to_tokens(span: tuple[int, int]) -> tuple[int, int] | None:
        nonlocal unaligned
        found = tokenized.token_span(*span)
        unaligned += found is None
        return found

    return Example(tokenized.ids, _targets(record, text, channel_index, to_tokens)), unaligned


def _targets(record: Record, text: str, channel_index: dict[str, int],
             position: Callable[[tuple[int, int]], tuple[int, int] | None]
             ) -> dict[tuple[int, int], set[tuple[int, int, int]]]:
    """Subject span -> {(channel, object head, object tail)}; ``position`` turns a character span
    into the model's positions (None: the span cannot be tagged)."""
    subjects: dict[tuple[int, int], set[tuple[int, int, int]]] = {}
    for spo in record.spo_list:
        subject_span = _span(text, spo.subject)
        subject_span = position(subject_span) if subject_span is not None else None
        if subject_span is None:
            continue
        targets = subjects.setdefault(subject_span, set())
        for slot, value in spo.object.items():
            channel = spo.predicate if slot == VALUE else f"{spo.predicate}{SLOT_SEPARATOR}{slot}"
            if channel not in channel_index:
                continue
            object_span = _span(text, value)
            object_span = position(object_span) if object_span is not None else None
            if object_span is not None:
                targets.add((channel_index[channel], *object_span))
    return subjects


def _span(text: str, value: str) -> tuple[int, int] | None:
    if not value:
        return None
    start = text.find(value)
    return None if start < 0 else (start, start + len(value) - 1)
