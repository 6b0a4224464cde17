"""Mention replacement: more training sentences made from the training split's own.

Each copy of a sentence swaps some of its labelled names for other names of the same type (taken
from the training split, and for persons partly from jieba's dictionary of person names), in
the text and in its triples alike. The sentence's context stays and its names change, so the
model cannot lean on having seen a name before: most names of a new sentence are new to it.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

from kgqa_cli.data.records import Record, SlotValues
from kgqa_cli.extraction.config import AugmentConfig
from kgqa_cli.extraction.lexicon import dictionary_lines


def person_names(dictionary: Path, max_length: int = 4) -> list[str]:
    """jieba's person names (tag ``nr``) of 2 to ``max_length`` characters, in file order."""
    return [word for word, _, tag in dictionary_lines(dictionary, max_length) if tag == "nr"]


def augment_records(records: Sequence[Record], config: AugmentConfig, seed: int,
                    names: Sequence[str] = ()) -> list[Record]:
    """``config.copies`` new records per record of ``records`` (``kg.train.augment``), fewer
    where no name can be swapped; ``names`` are the outside person names to draw from.

    A name is swapped (with probability ``config.replace_probability``) when its type is not in
    ``config.keep_types``, it has one type in the sentence, and it neither holds nor sits inside
    another of the sentence's names; every occurrence changes, so the triples still point at the
    text. The same records, config and seed give the same copies.
    """
    if not config.copies:
        return []
    persons = set(config.person_types)

    def pool_of(name_type: str) -> str:  # the three person types share one pool
        return "@person" if name_type in persons else name_type

    named = [_names(record) for record in records]
    pools: dict[str, set[str]] = defaultdict(set)
    for names_of_record in named:
        for name, name_type in names_of_record:
            if name_type not in config.keep_types:
                pools[pool_of(name_type)].add(name)
    ordered = {key: sorted(values) for key, values in pools.items()}
    rng = random.Random(seed)
    made = []
    for record, names_of_record in zip(records, named, strict=True):
        swappable = _swappable(names_of_record, config.keep_types, pool_of)
        for _ in range(config.copies):
            swaps = _choose_swaps(record.text, swappable, ordered, config, rng, names)
            copy = _swapped(record, swaps) if swaps else None
            if copy is not None:
                made.append(copy)
    return made


def _names(record: Record) -> list[tuple[str, str]]:
    """(name, type) of every subject and object value of a record's triples."""
    found = []
    for triple in record.spo_list:
        found.append((triple.subject, triple.subject_type))
        types = triple.object_type.to_json()
        found.extend((value, types.get(slot, "")) for slot, value in triple.object.items())
    return [(name, name_type) for name, name_type in found if name]


def _swappable(names: list[tuple[str, str]], keep_types: list[str],
               pool_of: Callable[[str], str]) -> dict[str, str | None]:
    """Each of a record's (name, type) -> the pool its swap draws from; None for a name that stays
    (a kept type, two types in the sentence, or nested in or holding another of its names)."""
    types: dict[str, set[str]] = defaultdict(set)
    for name, name_type in names:
        types[name].add(name_type)
    swappable: dict[str, str | None] = {}
    for name in sorted(types, key=lambda n: (-len(n), n)):
        (only, *more) = types[name]
        nested = any(other != name and (other in name or name in other) for other in types)
        swappable[name] = None if more or only in keep_types or nested else pool_of(only)
    return swappable


def _choose_swaps(text: str, swappable: dict[str, str | None], pools: dict[str, list[str]], config: AugmentConfig,
                  rng: random.Random, outside: Sequence[str]) -> dict[str, str]:
    swaps: dict[str, str] = {}
    for name, key in swappable.items():
        if key is None or rng.random() >= config.replace_probability:
            continue
        pool = outside if key == "@person" and outside and rng.random() < config.outside_names else pools[key]
        for _ in range(5):  # a few tries at a name that cannot clash with the sentence
            candidate = rng.choice(pool)
            if (candidate != name and candidate not in text
                    and not any(candidate in other or other in candidate for other in swappable)
                    and not any(candidate in taken or taken in candidate for taken in swaps.values())):
                swaps[name] = candidate
                break
    return swaps


def _swapped(record: Record, swaps: dict[str, str]) -> Record | None:
    """The record with its names swapped; None where a name of its triples is no longer in the
    text (a new name that happens to form another with the characters beside it)."""
    text = record.text
    for name, replacement in swaps.items():
        text = text.replace(name, replacement)
    triples = [triple.model_copy(update={
        "subject": swaps.get(triple.subject, triple.subject),
        "object": SlotValues.of(swaps.get(triple.object.value, triple.object.value),
                                {slot: swaps.get(value, value) for slot, value in triple.object.slots.items()}),
    }) for triple in record.spo_list]
    if not all(triple.subject in text and all(value in text for _, value in triple.object.items())
               for triple in triples):
        return None
    return Record(text=text, spo_list=triples)
