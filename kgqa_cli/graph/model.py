"""The entity model: corpus-format triples -> deterministic vertices and edges.

One vertex per normalised entity name (label ``entity``, properties ``uid``, ``name`` and the
set of ``types`` it was seen with); one edge per distinct triple, labelled by its predicate, with
``uid``, ``score``, ``source``, ``model_version`` and the extra slots of complex objects
(``inWork``, ``inArea``, ``onDate``, ``period``...) as properties. Ids are hashes of names, so the
same input always yields the same elements and loading it twice adds nothing.

Every edge also keeps its evidence, the sentences it was read from (:class:`EvidencePolicy`):
``evidence``, a JSON list of the best few, each with a stable sentence id (a hash of the text),
the text (a window around the two names when the text is long), the character offsets of the
subject and the object in it, the score, the model version and the source file;
and, only on an edge stated by more sentences than it keeps in full, ``evidence_count``, how many
distinct sentences state the fact, and ``evidence_ids``, their ids (bounded), so that loading a
sentence again never counts it twice (elsewhere the count and the ids are those of ``evidence``:
most edges carry one property more, not three). Plain string and integer properties: an embedded
graph, a Gremlin server and Neptune's CSV loader all take them.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from kgqa_cli.data.records import VALUE, SlotValues
from kgqa_cli.graph.normalize import normalize_name

VERTEX_LABEL = "entity"
GOLD_VERSION = "gold"  # model_version of triples that carry none (a gold corpus)
# The edge properties that hold a fact's evidence.
EVIDENCE_KEYS = ("evidence", "evidence_count", "evidence_ids")
# Edge property names the model itself uses; a slot with one of these names cannot be stored.
RESERVED_EDGE_KEYS = frozenset({"uid", "score", "source", "model_version", *EVIDENCE_KEYS})


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
    found, start = [], text.find(name)
    while start >= 0 and name:
        found.append(start)
        start = text.find(name, start + 1)
    if not found:
        return None
    start = min(found, key=lambda position: abs(position - near))
    return [start, start + len(name)]


def evidence_entry(text: str, spo: dict, score: float, version: str, source: str, max_chars: int,
                   sid: str | None = None) -> dict:
    """The evidence of one triple in one sentence: id (``sid``, the text's :func:`sentence_id`,
    computed when not given), text (a window of at most ``max_chars`` characters around the
    subject and object when longer, with ``offset``, where it starts in the sentence), the
    subject and object offsets in that text, score, model version and source."""
    subject = _locate(text, spo["subject"], spo.get("subject_span"))
    obj = _locate(text, SlotValues.model_validate(spo["object"]).value, spo.get("object_span"),
                  near=subject[0] if subject else 0)
    entry: dict = {"id": sid or sentence_id(text), "text": text, "subject": subject, "object": obj,
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


def merge_evidence(entries: list[dict], ids: list[str], more: list[dict], more_ids: list[str],
                   policy: EvidencePolicy) -> tuple[list[dict], list[str], bool]:
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


def edge_defaults(properties: dict) -> dict:
    """The values an edge's evidence falls back on, from its properties (gremlite's lists undone)."""
    found = {}
    for key in EDGE_DEFAULTS:
        value = properties.get(key)
        value = value[0] if isinstance(value, list) and len(value) == 1 else value
        if value is not None:
            found[key] = float(value) if key == "score" else str(value)
    return found


def evidence_properties(entries: list[dict], ids: list[str], defaults: dict) -> dict[str, object]:
    """The evidence properties of an edge whose own score, model version and source are
    ``defaults``: ``evidence``, and the count and ids only where more sentences state it than it
    keeps (else they are those of ``evidence``); none without evidence."""
    if not ids:
        return {}
    if len(ids) == len(entries):
        return {"evidence": dumps_evidence(entries, defaults)}
    return {"evidence": dumps_evidence(entries, defaults), "evidence_count": len(ids), "evidence_ids": " ".join(ids)}


def evidence_ids_of(ids_property: object, entries: list[dict]) -> list[str]:
    """The sentence ids an edge counts: its ``evidence_ids`` property, else its evidence's."""
    if isinstance(ids_property, list) and len(ids_property) == 1:  # gremlite wraps values in lists
        ids_property = ids_property[0]
    if isinstance(ids_property, str) and ids_property.strip():
        return ids_property.split()
    return [entry["id"] for entry in entries if isinstance(entry.get("id"), str)]


def dumps_evidence(entries: list[dict], defaults: dict | None = None) -> str:
    """The ``evidence`` property's text: compact JSON, Chinese kept as it is, without what
    :func:`loads_evidence` can tell again (the edge's own ``defaults``, an id that is the hash of
    the text): a third smaller, which is most of what evidence costs a load."""
    defaults = defaults or {}
    # An entry without an offset holds its whole sentence, whose hash its id is (evidence_entry).
    compact = [{key: value for key, value in entry.items()
                if not (key in defaults and defaults[key] == value) and not (key == "id" and "offset" not in entry)}
               for entry in entries]
    return json.dumps(compact, ensure_ascii=False, separators=(",", ":"))


def loads_evidence(value: object, defaults: dict | None = None) -> list[dict]:
    """The ``evidence`` property read back, whole again (an empty list when absent or
    unreadable); ``defaults``: the edge's own score, model version and source."""
    if isinstance(value, list) and len(value) == 1:  # gremlite wraps values in lists
        value = value[0]
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

SKIP_REASONS = {
    "below_min_score": "score below min_score",
    "empty_name": "subject or object empty after normalisation",
    "empty_predicate": "empty predicate",
    "self_loop": "subject and object are the same entity",
    "bad_score": "score is not a number in [0, 1]",
    "reviewed_out": "rejected by a reviewer (kgqa label triples)",
}


def vertex_uid(name: str) -> str:
    """Deterministic id of the vertex of a normalised name (also its ``~id`` in Neptune CSV)."""
    return "v:" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:20]


def edge_uid(subject_uid: str, predicate: str, object_uid: str, slots: dict[str, str]) -> str:
    """Deterministic id of an edge: its endpoints, predicate and slot values, nothing else."""
    key = "\x1f".join([subject_uid, predicate, object_uid, *(f"{k}={v}" for k, v in sorted(slots.items()))])
    return "e:" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:20]


def triple_uid(subject: str, predicate: str, obj: str, slots: dict[str, str] | None = None) -> str:
    """The uid of the edge a triple becomes (names normalised as a load normalises them)."""
    kept = {key: normalize_name(value) for key, value in (slots or {}).items() if normalize_name(value)}
    return edge_uid(vertex_uid(normalize_name(subject)), predicate.strip(), vertex_uid(normalize_name(obj)), kept)


@dataclass
class VertexRecord:
    """One entity: its id, normalised name and every type it was seen with."""

    uid: str
    name: str
    types: set[str] = field(default_factory=set)


@dataclass
class EdgeRecord:
    """One triple as an edge between two vertex uids."""

    uid: str
    source_uid: str
    target_uid: str
    predicate: str
    score: float
    source: str
    model_version: str
    slots: dict[str, str]
    evidence: list[dict] = field(default_factory=list)  # the best few sentences (EvidencePolicy.per_edge)
    evidence_ids: list[str] = field(default_factory=list)  # every sentence's id (up to EvidencePolicy.max_ids)
    # The evidence properties once encoded, with the score, version and source they were encoded
    # against: the CSV writer and the loader both ask for them, and take_evidence clears them.
    _encoded: tuple | None = field(default=None, compare=False, repr=False)

    def evidence_properties(self) -> dict[str, object]:
        """The edge's evidence properties (encoded once, kept until the evidence changes)."""
        key = (self.score, self.model_version, self.source)
        if self._encoded is None or self._encoded[0] != key:
            defaults = dict(zip(EDGE_DEFAULTS, key, strict=True))
            self._encoded = (key, evidence_properties(self.evidence, self.evidence_ids, defaults))
        return self._encoded[1]

    def properties(self) -> dict[str, object]:
        """The edge's properties as stored in the graph (evidence, when kept, after the fixed
        ones; slots last, sorted)."""
        evidence = self.evidence_properties()
        return {
            "uid": self.uid,
            "score": self.score,
            "source": self.source,
            "model_version": self.model_version,
            **evidence,
            **dict(sorted(self.slots.items())),
        }

    def take_evidence(self, more: list[dict], more_ids: list[str], policy: EvidencePolicy) -> bool:
        """Add evidence (another sentence stating the same fact); the edge's score, source and
        model version become its best sentence's. Returns whether anything changed."""
        self._encoded = None
        if not self.evidence_ids and len(more) == 1 and more_ids == [more[0]["id"]] and policy.per_edge:
            self.evidence, self.evidence_ids, changed = list(more), list(more_ids), True  # a new edge's first sentence
        else:
            self.evidence, self.evidence_ids, changed = merge_evidence(self.evidence, self.evidence_ids, more,
                                                                       more_ids, policy)
        if self.evidence and self.evidence[0]["score"] > self.score:
            best = self.evidence[0]
            self.score, self.source, self.model_version = best["score"], best["source"], best["model_version"]
        return changed


@dataclass
class GraphData:
    """Everything one input holds for the graph, deduplicated, plus what was skipped and why."""

    vertices: dict[str, VertexRecord] = field(default_factory=dict)
    edges: dict[str, EdgeRecord] = field(default_factory=dict)
    evidence_policy: EvidencePolicy = field(default_factory=EvidencePolicy)
    triples_read: int = 0
    duplicates: int = 0
    skipped: Counter = field(default_factory=Counter)

    def sorted_vertices(self) -> list[VertexRecord]:
        """Vertices in uid order: the load and CSV order, the same on every run."""
        return [self.vertices[uid] for uid in sorted(self.vertices)]

    def sorted_edges(self) -> list[EdgeRecord]:
        """Edges in uid order."""
        return [self.edges[uid] for uid in sorted(self.edges)]

    def slot_names(self) -> list[str]:
        """Every slot name that occurs on some edge, sorted."""
        return sorted({key for edge in self.edges.values() for key in edge.slots})


def _score_of(spo: dict) -> float | None:
    raw = spo.get("score", 1.0)
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        return None
    score = float(raw)
    return score if 0.0 <= score <= 1.0 else None


def build_graph_data(records: Iterable[dict], source: str, min_score: float = 0.0,
                     evidence: EvidencePolicy | None = None, reviewed_out: set[str] | frozenset = frozenset()
                     ) -> GraphData:
    """Turn normalised corpus records (gold or extraction output) into vertices and edges.

    A triple seen more than once becomes one edge that keeps the highest score (first one on a
    tie), so the result does not depend on how often a fact was extracted; its evidence gathers
    the sentences that state it (``evidence``; the defaults of :class:`EvidencePolicy` when
    None). Edges whose uid is in ``reviewed_out`` (rejected by a reviewer) are left out. Skipped
    triples are counted by reason (see :data:`SKIP_REASONS`).
    """
    policy = evidence if evidence is not None else EvidencePolicy()
    data = GraphData(evidence_policy=policy)
    for record in records:
        version = str(record.get("model_version") or GOLD_VERSION)
        text = record.get("text") or ""
        record_source = str(record.get("source") or source)  # reviewers' triples name their own
        sid = sentence_id(text) if policy.per_edge and text else None  # once for all its triples
        for spo in record["spo_list"]:
            data.triples_read += 1
            score = _score_of(spo)
            if score is None:
                data.skipped["bad_score"] += 1
                continue
            if score < min_score:
                data.skipped["below_min_score"] += 1
                continue
            predicate = spo["predicate"].strip()
            if not predicate:
                data.skipped["empty_predicate"] += 1
                continue
            subject = normalize_name(spo["subject"])
            objects = SlotValues.model_validate(spo["object"])
            obj = normalize_name(objects.value)
            if not subject or not obj:
                data.skipped["empty_name"] += 1
                continue
            if subject == obj:
                data.skipped["self_loop"] += 1
                continue
            slots = {
                key: normalize_name(value)
                for key, value in objects.slots.items()
                if key not in RESERVED_EDGE_KEYS and normalize_name(value)
            }
            subject_vertex = _vertex(data, subject, spo.get("subject_type", ""))
            object_vertex = _vertex(data, obj, spo.get("object_type", {}).get(VALUE, ""))
            uid = edge_uid(subject_vertex.uid, predicate, object_vertex.uid, slots)
            if uid in reviewed_out:
                data.skipped["reviewed_out"] += 1
                continue
            found = [evidence_entry(text, spo, score, version, record_source, policy.max_chars, sid)] if sid else []
            known = data.edges.get(uid)
            if known is not None:
                data.duplicates += 1
                known.take_evidence(found, [entry["id"] for entry in found], policy)
                if score <= known.score:
                    continue
                known.score, known.source, known.model_version = score, record_source, version
                continue
            edge = data.edges[uid] = EdgeRecord(
                uid, subject_vertex.uid, object_vertex.uid, predicate, score, record_source, version, slots
            )
            edge.take_evidence(found, [entry["id"] for entry in found], policy)
    for edge in data.edges.values():  # encoded once, here, for the CSV writer and the loader
        edge.evidence_properties()
    return data


def _vertex(data: GraphData, name: str, type_name: str) -> VertexRecord:
    uid = vertex_uid(name)
    vertex = data.vertices.get(uid)
    if vertex is None:
        vertex = data.vertices[uid] = VertexRecord(uid, name)
    type_name = normalize_name(type_name)
    if type_name:
        vertex.types.add(type_name)
    return vertex
