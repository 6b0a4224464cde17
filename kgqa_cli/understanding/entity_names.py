"""The entity names questions are made with: gathered per predicate and role from the labelled
corpus (plus untyped names of the graph and of feedback), and split between train, dev and test
before any question is made, so no name of a test question occurs in a training question."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from kgqa_cli.data.records import Record
from kgqa_cli.data.schema import Schema

OPEN_QUOTE, CLOSE_QUOTE = "《", "》"


@dataclass
class NamePools:
    """Entity names by (predicate, role) and the types each name was seen with."""

    by_role: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    types: dict[str, set[str]] = field(default_factory=dict)
    other: set[str] = field(default_factory=set)

    def add(self, predicate: str, role: str, name: str, type_name: str | None) -> None:
        """Count ``name`` as a ``role`` (subject or object) of ``predicate``, seen as ``type_name``."""
        self.by_role.setdefault((predicate, role), set()).add(name)
        if type_name:
            self.types.setdefault(name, set()).add(type_name)

    @property
    def all_names(self) -> set[str]:
        """Every name of every pool, the untyped ones included."""
        names = set(self.other)
        for pool in self.by_role.values():
            names |= pool
        return names


def _clean_name(name: str, max_length: int) -> str | None:
    """The name on one line without its 《》, or None when it cannot fill a template."""
    name = " ".join(str(name).split())
    name = name.strip(OPEN_QUOTE + CLOSE_QUOTE)
    if not name or len(name) > max_length or "{" in name or "}" in name:
        return None
    return name


def collect_names(
    schema: Schema, records: Iterable[Record], extra_names: Iterable[str], max_length: int
) -> NamePools:
    """Names of subjects and objects per predicate from labelled records, plus untyped extra names."""
    pools = NamePools()
    predicates = set(schema.predicates)
    for record in records:
        for spo in record.spo_list:
            if spo.predicate not in predicates:
                continue
            subject = _clean_name(spo.subject, max_length)
            if subject:
                pools.add(spo.predicate, "subject", subject, spo.subject_type)
            obj = _clean_name(spo.object.value, max_length)
            if obj:
                pools.add(spo.predicate, "object", obj, spo.object_type.value)
    for name in extra_names:
        cleaned = _clean_name(name, max_length)
        if cleaned:
            pools.other.add(cleaned)
    return pools


def split_names(names: set[str], ratios: dict[str, float], seed: int) -> dict[str, str]:
    """Assign every distinct name to exactly one split, reproducibly."""
    ordered = sorted(names)
    random.Random(seed).shuffle(ordered)
    total = sum(ratios.values())
    cut_train = round(len(ordered) * ratios["train"] / total)
    cut_dev = cut_train + round(len(ordered) * ratios["dev"] / total)
    assignment = {}
    for index, name in enumerate(ordered):
        assignment[name] = "train" if index < cut_train else "dev" if index < cut_dev else "test"
    return assignment
