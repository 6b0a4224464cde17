"""The evidence of a fact: the sentences an edge was read from, kept on the edge.

An edge keeps ``evidence``, a JSON list of its best few sentences (:class:`EvidencePolicy`), each
with a stable sentence id (a hash of the text), the text (a window around the two names when the
text is long), the character offsets of the subject and the object in it, the score, the model
version and the source file; and, only on an edge stated by more sentences than it keeps in
full, ``evidence_count``, how many distinct sentences state the fact, and ``evidence_ids``, their
ids (bounded), so that loading a sentence again never counts it twice (elsewhere the count and
the ids are those of ``evidence``: most edges carry one property more, not three).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kgqa_cli.data.records import Triple

# One sentence of an edge's evidence, a JSON object: "id", "text", "subject" and "object" (their
# [start, end) offsets in the text, or None), "score", "model_version", "source", and "offset"
# (where the text starts in its sentence) when the text is a window of a longer sentence.
Evidence = dict[str, Any]
# An edge's properties as an engine returns them (gremlite wraps each value in a list).
Properties = dict[str, Any]
# An edge's own score, model version and source, which its evidence's sentences fall back on.
EdgeDefaults = dict[str, float | str]

# The edge properties that hold a fact's evidence.
EVIDENCE_KEYS = ("evidence", "evidence_count", "evidence_ids")


@dataclass(frozen=True)
class EvidencePolicy:
    """How much evidence an edge keeps: ``per_edge`` sentences in full (0: none, and no evidence
    properties at all), each text cut to a window of ``max_chars`` around its two names, and the
    ids of at most ``max_ids`` sentences for the count."""

    per_edge: int = 3
    max_chars: int = 200
    max_ids: int = 1000


def sentence_id(text: str) -> str:
    """The stable id of a sentence: a hash of its text, the same in every file and every load."""
    return "s:" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def _locate(text: str, name: str, span: list[int] | None, near: int = 0) -> list[int] | None:
    """[start, end) of ``name`` in ``text``: the given span when it holds the name, else the
    occurrence nearest ``near``; None when the text does not contain it."""
    if span is not None and text[span[0]:span[1]].strip() == name.strip():
        return list(span)
    found: list[int] = []
    start = text.find(name)
    while start >= 0 and name:
        found.append(start)
        start = text.find(name, start + 1)
    if not found:
        return None
    start = min(found, key=lambda position: abs(position - near))
    return [start, start + len(name)]


def evidence_entry(text: str, spo: Triple, score: float, version: str, source: str, max_chars: int,
                   sid: str | None = None) -> Evidence:
    """The evidence of one triple in one sentence: id (``sid``, the text's :func:`sentence_id`,
    computed when not given), text (a window of at most ``max_chars`` characters around the
    subject and object when longer, with ``offset``, where it starts in the sentence), the
    subject and object offsets in that text, score, model version and source."""
    subject = _locate(text, spo.subject, spo.subject_span)
    obj = _locate(text, spo.object.value, spo.object_span,
                  near=subject[0] if subject else 0)
    entry: Evidence = {"id": sid or sentence_id(text), "text": text, "subject": subject, "object": obj,
                   "score": score, "model_version": version, "source": source}
    if len(text) > max_chars:
        marked = [span for span in (subject, obj) if span]
        low = min((span[0] for span in marked), default=0)
        high = max((span[1] for span in marked), default=0)
        start = max(0, min(low - (max_chars - (high - low)) // 2, len(text) - max_chars))
        if high - start > max_chars:  # the names lie further apart than a window: keep the subject's side
            start = low
        end = start + max_chars
        entry["text"], entry["offset"] = text[start:end], start
        for key, span in (("subject", subject), ("object", obj)):
            entry[key] = [span[0] - start, span[1] - start] if span and start <= span[0] and span[1] <= end else None
    return entry


def merge_evidence(entries: list[Evidence], ids: list[str], more: list[Evidence], more_ids: list[str],
                   policy: EvidencePolicy) -> tuple[list[Evidence], list[str], bool]:
    """``entries``/``ids`` with ``more``/``more_ids`` added: the best ``policy.per_edge`` entries
    (score, then id) and the union of the ids (at most ``policy.max_ids``); and whether anything
    changed. Adding a sentence already known changes nothing."""
    known = set(ids)
    new_ids = [sid for sid in dict.fromkeys(more_ids) if sid not in known]
    merged_ids = (ids + new_ids)[:policy.max_ids]
    by_id = {entry["id"]: entry for entry in entries}
    for entry in more:
        held = by_id.get(entry["id"])
        if held is None or entry["score"] > held["score"]:
            by_id[entry["id"]] = entry
    best = sorted(by_id.values(), key=lambda entry: (-entry["score"], entry["id"]))[:policy.per_edge]
    changed = merged_ids != ids or [e["id"] for e in best] != [e["id"] for e in entries] or any(
        new["score"] != old["score"] for new, old in zip(best, entries, strict=False))
    return best, merged_ids, changed


# What an edge states itself (its score, model version and source): a sentence of its evidence
# leaves these out where they are the edge's own, and its id where it is the hash of its text.
EDGE_DEFAULTS = ("score", "model_version", "source")


def property_value(value: Any) -> Any:
    """An edge property's value as a Gremlin server gives it: gremlite's value_map wraps each
    value in a one-element list, TinkerPop servers do not."""
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def edge_defaults(properties: Properties) -> EdgeDefaults:
    """The values an edge's evidence falls back on, from its properties (gremlite's lists undone)."""
    found: EdgeDefaults = {}
    for key in EDGE_DEFAULTS:
        value = property_value(properties.get(key))
        if value is not None:
            found[key] = float(value) if key == "score" else str(value)
    return found


def evidence_properties(entries: list[Evidence], ids: list[str], defaults: EdgeDefaults) -> dict[str, object]:
    """The evidence properties of an edge whose own score, model version and source are
    ``defaults``: ``evidence``, and the count and ids only where more sentences state it than it
    keeps (else they are those of ``evidence``); none without evidence."""
    if not ids:
        return {}
    if len(ids) == len(entries):
        return {"evidence": dumps_evidence(entries, defaults)}
    return {"evidence": dumps_evidence(entries, defaults), "evidence_count": len(ids), "evidence_ids": " ".join(ids)}


def evidence_ids_of(ids_property: object, entries: list[Evidence]) -> list[str]:
    """The sentence ids an edge counts: its ``evidence_ids`` property, else its evidence's."""
    ids_property = property_value(ids_property)
    if isinstance(ids_property, str) and ids_property.strip():
        return ids_property.split()
    return [entry["id"] for entry in entries if isinstance(entry.get("id"), str)]


def dumps_evidence(entries: list[Evidence], defaults: EdgeDefaults | None = None) -> str:
    """The ``evidence`` property's text: compact JSON, Chinese kept as it is, without what
    :func:`loads_evidence` can tell again (the edge's own ``defaults``, an id that is the hash of
    the text): a third smaller, which is most of what evidence costs a load."""
    defaults = defaults or {}
    # An entry without an offset holds its whole sentence, whose hash its id is (evidence_entry).
    compact = [{key: value for key, value in entry.items()
                if not (key in defaults and defaults[key] == value) and not (key == "id" and "offset" not in entry)}
               for entry in entries]
    return json.dumps(compact, ensure_ascii=False, separators=(",", ":"))


def loads_evidence(value: object, defaults: EdgeDefaults | None = None) -> list[Evidence]:
    """The ``evidence`` property read back, whole again (an empty list when absent or
    unreadable); ``defaults``: the edge's own score, model version and source."""
    value = property_value(value)
    if not isinstance(value, str) or not value:
        return []
    try:
        entries = json.loads(value)
    except ValueError:
        return []
    if not isinstance(entries, list):
        return []
    whole = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        entry = {**(defaults or {}), **entry}
        entry.setdefault("id", sentence_id(str(entry.get("text") or "")))
        whole.append({key: entry[key] for key in ("id", "text", "subject", "object", "score", "model_version",
                                                   "source", "offset") if key in entry})
    return whole
