"""The entity model: corpus-format triples -> deterministic vertices and edges.

One vertex per normalised entity name (label ``entity``, properties ``uid``, ``name`` and the
set of ``types`` it was seen with); one edge per distinct triple, labelled by its predicate, with
``uid``, ``score``, ``source``, ``model_version`` and the extra slots of complex objects
(``inWork``, ``inArea``, ``onDate``, ``period``...) as properties. Ids are hashes of names, so the
same input always yields the same elements and loading it twice adds nothing.

Every edge also keeps its evidence, the sentences it was read from (:mod:`kgqa_cli.graph.evidence`).
Plain string and integer properties: an embedded graph, a Gremlin server and Neptune's CSV loader
all take them.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from kgqa_cli.data.records import Record, Triple
from kgqa_cli.graph.evidence import (
    EVIDENCE_KEYS,
    EdgeDefaults,
    Evidence,
    EvidencePolicy,
    evidence_entry,
    evidence_properties,
    merge_evidence,
    sentence_id,
)
from kgqa_cli.graph.normalize import normalize_name
from kgqa_cli.graph.reviews import REVIEW_SOURCE

VERTEX_LABEL = "entity"
GOLD_VERSION = "gold"  # model_version of triples that carry none (a gold corpus)
# Edge property names the model itself uses; a slot with one of these names cannot be stored.
RESERVED_EDGE_KEYS = frozenset({"uid", "score", "source", "model_version", *EVIDENCE_KEYS})


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
    evidence: list[Evidence] = field(default_factory=list)  # the best few sentences (EvidencePolicy.per_edge)
    evidence_ids: list[str] = field(default_factory=list)  # every sentence's id (up to EvidencePolicy.max_ids)
    # The evidence properties once encoded, with the score, version and source they were encoded
    # against: the CSV writer and the loader both ask for them, and take_evidence clears them.
    _encoded: tuple[tuple[float, str, str], dict[str, object]] | None = field(default=None, compare=False, repr=False)

    def evidence_properties(self) -> dict[str, object]:
        """The edge's evidence properties (encoded once, kept until the evidence changes)."""
        key = (self.score, self.model_version, self.source)
        if self._encoded is None or self._encoded[0] != key:
            defaults: EdgeDefaults = {"score": self.score, "model_version": self.model_version, "source": self.source}
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

    def take_evidence(self, more: list[Evidence], more_ids: list[str], policy: EvidencePolicy) -> bool:
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
    skipped: Counter[str] = field(default_factory=Counter)

    def sorted_vertices(self) -> list[VertexRecord]:
        """Vertices in uid order: the load and CSV order, the same on every run."""
        return [self.vertices[uid] for uid in sorted(self.vertices)]

    def sorted_edges(self) -> list[EdgeRecord]:
        """Edges in uid order."""
        return [self.edges[uid] for uid in sorted(self.edges)]

    def slot_names(self) -> list[str]:
        """Every slot name that occurs on some edge, sorted."""
        return sorted({key for edge in self.edges.values() for key in edge.slots})


def _score_of(spo: Triple) -> float | None:
    raw = spo.given_score
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        return None
    score = float(raw)
    return score if 0.0 <= score <= 1.0 else None


def build_graph_data(records: Iterable[Record], source: str, min_score: float = 0.0,
                     evidence: EvidencePolicy | None = None, reviewed_out: set[str] | frozenset[str] = frozenset(),
                     corrections: Iterable[Record] = ()) -> GraphData:
    """Turn corpus records (gold or extraction output) read from ``source`` into vertices and
    edges, then ``corrections``, the triples reviewers wrote, under their own source.

    A triple seen more than once becomes one edge that keeps the highest score (first one on a
    tie), so the result does not depend on how often a fact was extracted; its evidence gathers
    the sentences that state it (``evidence``; the defaults of :class:`EvidencePolicy` when
    None). Edges whose uid is in ``reviewed_out`` (rejected by a reviewer) are left out. Skipped
    triples are counted by reason (see :data:`SKIP_REASONS`).
    """
    policy = evidence if evidence is not None else EvidencePolicy()
    data = GraphData(evidence_policy=policy)
    for record_source, batch in ((source, records), (REVIEW_SOURCE, corrections)):
        for record in batch:
            version = str(record.model_version or GOLD_VERSION)
            text = record.text
            sid = sentence_id(text) if policy.per_edge and text else None  # once for all its triples
            sentence = _Sentence(text, sid, version, record_source)
            for spo in record.spo_list:
                data.triples_read += 1
                _add_triple(data, spo, sentence, min_score, reviewed_out)
    for edge in data.edges.values():  # encoded once, here, for the CSV writer and the loader
        edge.evidence_properties()
    return data


@dataclass(frozen=True)
class _Sentence:
    """Where a record's triples come from: its text, the text's id (None: no evidence is kept),
    the model version and the source."""

    text: str
    sid: str | None
    version: str
    source: str


def _add_triple(data: GraphData, spo: Triple, sentence: _Sentence, min_score: float,
                reviewed_out: set[str] | frozenset[str]) -> None:
    """Add one triple of a record to ``data``, or count why it is skipped."""
    score = _score_of(spo)
    if score is None:
        data.skipped["bad_score"] += 1
        return
    if score < min_score:
        data.skipped["below_min_score"] += 1
        return
    predicate = spo.predicate.strip()
    if not predicate:
        data.skipped["empty_predicate"] += 1
        return
    subject = normalize_name(spo.subject)
    objects = spo.object
    obj = normalize_name(objects.value)
    if not subject or not obj:
        data.skipped["empty_name"] += 1
        return
    if subject == obj:
        data.skipped["self_loop"] += 1
        return
    slots = {
        key: normalize_name(value)
        for key, value in objects.slots.items()
        if key not in RESERVED_EDGE_KEYS and normalize_name(value)
    }
    subject_vertex = _vertex(data, subject, spo.subject_type)
    object_vertex = _vertex(data, obj, spo.object_type.value)
    uid = edge_uid(subject_vertex.uid, predicate, object_vertex.uid, slots)
    if uid in reviewed_out:
        data.skipped["reviewed_out"] += 1
        return
    policy = data.evidence_policy
    found = ([evidence_entry(sentence.text, spo, score, sentence.version, sentence.source, policy.max_chars,
                             sentence.sid)] if sentence.sid else [])
    known = data.edges.get(uid)
    if known is not None:
        data.duplicates += 1
        known.take_evidence(found, [entry["id"] for entry in found], policy)
        if score <= known.score:
            return
        known.score, known.source, known.model_version = score, sentence.source, sentence.version
        return
    edge = data.edges[uid] = EdgeRecord(
        uid, subject_vertex.uid, object_vertex.uid, predicate, score, sentence.source, sentence.version, slots
    )
    edge.take_evidence(found, [entry["id"] for entry in found], policy)


def _vertex(data: GraphData, name: str, type_name: str) -> VertexRecord:
    uid = vertex_uid(name)
    vertex = data.vertices.get(uid)
    if vertex is None:
        vertex = data.vertices[uid] = VertexRecord(uid, name)
    type_name = normalize_name(type_name)
    if type_name:
        vertex.types.add(type_name)
    return vertex
