"""The entity model: corpus-format triples -> deterministic vertices and edges.

One vertex per normalised entity name (label ``entity``, properties ``uid``, ``name`` and the
set of ``types`` it was seen with); one edge per distinct triple, labelled by its predicate, with
``uid``, ``score``, ``source``, ``model_version`` and the extra slots of complex objects
(``inWork``, ``inArea``, ``onDate``, ``period``...) as properties. Ids are hashes of names, so the
same input always yields the same elements and loading it twice adds nothing.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from kgqa_cli.graph.normalize import normalize_name

VERTEX_LABEL = "entity"
GOLD_VERSION = "gold"  # model_version of triples that carry none (a gold corpus)
# Edge property names the model itself uses; a slot with one of these names cannot be stored.
RESERVED_EDGE_KEYS = frozenset({"uid", "score", "source", "model_version"})

SKIP_REASONS = {
    "below_min_score": "score below min_score",
    "empty_name": "subject or object empty after normalisation",
    "empty_predicate": "empty predicate",
    "self_loop": "subject and object are the same entity",
    "bad_score": "score is not a number in [0, 1]",
}


def vertex_uid(name: str) -> str:
    """Deterministic id of the vertex of a normalised name (also its ``~id`` in Neptune CSV)."""
    return "v:" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:20]


def edge_uid(subject_uid: str, predicate: str, object_uid: str, slots: dict[str, str]) -> str:
    """Deterministic id of an edge: its endpoints, predicate and slot values, nothing else."""
    key = "\x1f".join([subject_uid, predicate, object_uid, *(f"{k}={v}" for k, v in sorted(slots.items()))])
    return "e:" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:20]


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

    def properties(self) -> dict[str, object]:
        """The edge's properties as stored in the graph (slots after the fixed ones, sorted)."""
        return {
            "uid": self.uid,
            "score": self.score,
            "source": self.source,
            "model_version": self.model_version,
            **dict(sorted(self.slots.items())),
        }


@dataclass
class GraphData:
    """Everything one input holds for the graph, deduplicated, plus what was skipped and why."""

    vertices: dict[str, VertexRecord] = field(default_factory=dict)
    edges: dict[str, EdgeRecord] = field(default_factory=dict)
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


def build_graph_data(records: Iterable[dict], source: str, min_score: float = 0.0) -> GraphData:
    """Turn normalised corpus records (gold or extraction output) into vertices and edges.

    A triple seen more than once becomes one edge that keeps the highest score (first one on a
    tie), so the result does not depend on how often a fact was extracted. Skipped triples are
    counted by reason (see :data:`SKIP_REASONS`).
    """
    data = GraphData()
    for record in records:
        version = str(record.get("model_version") or GOLD_VERSION)
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
            obj = normalize_name(spo["object"]["@value"])
            if not subject or not obj:
                data.skipped["empty_name"] += 1
                continue
            if subject == obj:
                data.skipped["self_loop"] += 1
                continue
            slots = {
                key: normalize_name(value)
                for key, value in spo["object"].items()
                if key != "@value" and key not in RESERVED_EDGE_KEYS and normalize_name(value)
            }
            subject_vertex = _vertex(data, subject, spo.get("subject_type", ""))
            object_vertex = _vertex(data, obj, spo.get("object_type", {}).get("@value", ""))
            uid = edge_uid(subject_vertex.uid, predicate, object_vertex.uid, slots)
            known = data.edges.get(uid)
            if known is not None:
                data.duplicates += 1
                if score <= known.score:
                    continue
            data.edges[uid] = EdgeRecord(
                uid, subject_vertex.uid, object_vertex.uid, predicate, score, source, version, slots
            )
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
