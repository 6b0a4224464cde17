"""From decoded pointer spans to corpus triples: a subject's objects, their slots and types."""

from __future__ import annotations

from kgqa_cli.data.records import VALUE, SlotValues, Triple
from kgqa_cli.data.schema import Schema
from kgqa_cli.extraction.labels import split_channel

# A decoded object span: (output channel, first character, last character, score).
ObjectSpan = tuple[int, int, int, float]


class TripleMaker:
    """Turns one subject's object spans into triples, with the types the schema gives its
    predicates (the first relation of each)."""

    def __init__(self, schema: Schema, channels: list[str]) -> None:
        self.channels = channels
        self._subject_type = {predicate: schema.relations_of(predicate)[0].subject_type
                              for predicate in schema.predicates}
        self._object_type = {predicate: dict(schema.relations_of(predicate)[0].object_type)
                             for predicate in schema.predicates}

    def triples(self, subject_span: tuple[int, int], subject_score: float, spans: list[ObjectSpan],
                text: str) -> list[Triple]:
        """Corpus-format triples of one subject (its first and last character in ``text``); slot
        channels fill the nearest main object. Each triple carries the character offsets of its
        subject and object in ``text`` (``subject_span``, ``object_span``: start, end exclusive)."""
        subject_head, subject_tail = subject_span
        subject = text[subject_head: subject_tail + 1]
        values: dict[str, list[tuple[int, int, str, float]]] = {}
        slots: dict[tuple[str, str], list[tuple[int, int, str, float]]] = {}
        for channel, head, tail, score in spans:
            predicate, slot = split_channel(self.channels[channel])
            entry = (head, tail, text[head: tail + 1], score)
            if slot == VALUE:
                values.setdefault(predicate, []).append(entry)
            else:
                slots.setdefault((predicate, slot), []).append(entry)
        triples = []
        for predicate, objects in values.items():
            types = self._object_type[predicate]
            for position, end, value, score in objects:
                found: dict[str, str] = {}
                for (slot_predicate, slot), candidates in slots.items():
                    if slot_predicate == predicate and slot in types:
                        found[slot] = _nearest(candidates, position)
                triples.append(Triple(
                    subject=subject, subject_type=self._subject_type[predicate], predicate=predicate,
                    object=SlotValues.of(value, found),
                    object_type=SlotValues.of(types[VALUE], {slot: types[slot] for slot in found}),
                    score=round(subject_score * score, 4),
                    subject_span=[subject_head, subject_tail + 1], object_span=[position, end + 1],
                ))
        return triples


def _nearest(candidates: list[tuple[int, int, str, float]], position: int) -> str:
    """The text of the candidate starting nearest ``position``, the better-scored of two as near."""
    return min(candidates, key=lambda candidate: (abs(candidate[0] - position), -candidate[3]))[2]


def dedupe(triples: list[Triple]) -> list[Triple]:
    """One triple per (subject, predicate, object), the best-scored kept, in a stable order."""
    best: dict[tuple[str, str, str], Triple] = {}
    for triple in triples:
        if triple.key not in best or triple.score > best[triple.key].score:
            best[triple.key] = triple
    return sorted(best.values(), key=lambda t: t.key)


def shift(triples: list[Triple], offset: int) -> None:
    """Move the triples' spans ``offset`` characters on: from a piece of a text to the whole text."""
    for triple in triples:
        if triple.subject_span is not None:
            triple.subject_span = [triple.subject_span[0] + offset, triple.subject_span[1] + offset]
        if triple.object_span is not None:
            triple.object_span = [triple.object_span[0] + offset, triple.object_span[1] + offset]
