"""The loaders that write through Gremlin traversals, for any engine (a server, or the embedded
file when the direct writer cannot be used).

The batched loader sends one traversal per batch of ``batch_size`` elements: a lookup of the
batch's uids that already exist (``has('uid', within(...))``), then one ``union()`` of
``add_v``/``add_e`` branches for the missing ones, then a commit. The naive loader (one lookup
and one write traversal per element) is kept for the benchmark. Edges already in the graph gain
the sentences of their evidence they did not know yet (:func:`refresh_evidence`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from kgqa_cli.errors import GraphError
from kgqa_cli.graph.batches import BatchCallback, LoadCounts, chunks, graph_errors
from kgqa_cli.graph.evidence import (
    EDGE_DEFAULTS,
    EvidencePolicy,
    edge_defaults,
    evidence_ids_of,
    evidence_properties,
    loads_evidence,
    merge_evidence,
)
from kgqa_cli.graph.model import VERTEX_LABEL, EdgeRecord, GraphData, VertexRecord

if TYPE_CHECKING:
    from gremlin_python.process.graph_traversal import GraphTraversal, GraphTraversalSource, __

    from kgqa_cli.graph.store import GraphStore

# uid -> the engine's id of that element (an int in gremlite, whatever a server assigns).
ElementIds = dict[str, object]


def refresh_evidence(g: GraphTraversalSource, edges: Sequence[EdgeRecord], policy: EvidencePolicy) -> int:
    """Add the evidence of ``edges`` (already in the graph) to what the graph's edges hold: one
    lookup and, where a sentence is new, one write traversal for the batch. Sentences an edge
    already counts change nothing, so loading the same input again writes nothing. An edge whose
    new best sentence scores higher takes its score, source and model version. Returns how many
    edges changed (not committed)."""
    from gremlin_python.process.graph_traversal import __
    from gremlin_python.process.traversal import P

    wanted = {edge.uid: edge for edge in edges if edge.evidence_ids}
    if not wanted:
        return 0
    with graph_errors("the evidence lookup"):
        rows = (
            g.E().has("uid", P.within(sorted(wanted)))
            .project("uid", "id", "props").by("uid").by(__.id_())
            .by(__.value_map("evidence", "evidence_ids", *EDGE_DEFAULTS))
            .to_list()
        )
    updates = []
    for row in rows:
        edge, held = wanted[row["uid"]], row["props"]
        defaults = edge_defaults(held)
        known = loads_evidence(held.get("evidence"), defaults)
        entries, merged_ids, changed = merge_evidence(known, evidence_ids_of(held.get("evidence_ids"), known),
                                                      edge.evidence, edge.evidence_ids, policy)
        if not changed:
            continue
        step = __.E(row["id"])
        if entries and entries[0]["score"] > defaults.get("score", -1.0):
            best = entries[0]
            defaults = {"score": float(best["score"]), "model_version": best["model_version"], "source": best["source"]}
            for key, own in defaults.items():
                step = step.property(key, own)
        for key, value in evidence_properties(entries, merged_ids, defaults).items():
            step = step.property(key, value)
        updates.append(step)
    if updates:
        with graph_errors("adding evidence"):
            g.union(*updates).iterate()
    return len(updates)


def _add_vertex(anon: GraphTraversalSource | type[__], vertex: VertexRecord) -> GraphTraversal:
    from gremlin_python.process.traversal import Cardinality

    step = anon.add_v(VERTEX_LABEL).property("uid", vertex.uid).property("name", vertex.name)
    for type_name in sorted(vertex.types):
        step = step.property(Cardinality.set_, "types", type_name)
    return step.id_()


def _add_edge(anon: GraphTraversalSource | type[__], edge: EdgeRecord, vertex_ids: ElementIds) -> GraphTraversal:
    step = anon.V(vertex_ids[edge.source_uid]).as_("s").V(vertex_ids[edge.target_uid])
    step = step.add_e(edge.predicate).from_("s")
    for key, value in edge.properties().items():
        step = step.property(key, value)
    return step


def load_vertices_batched(
    store: GraphStore, vertices: Sequence[VertexRecord], batch_size: int, counts: LoadCounts,
    on_batch: BatchCallback | None = None,
) -> ElementIds:
    """Upsert vertices batch by batch; returns uid -> graph element id for every vertex."""
    from gremlin_python.process.graph_traversal import __
    from gremlin_python.process.traversal import Cardinality, P

    g = store.g
    ids: ElementIds = {}
    for batch in chunks(vertices, batch_size):
        uids = [vertex.uid for vertex in batch]
        with graph_errors("the vertex lookup"):
            found = (
                g.V().has("uid", P.within(uids)).has_label(VERTEX_LABEL)
                .project("uid", "id", "types").by("uid").by(__.id_()).by(__.values("types").fold())
                .to_list()
            )
        known = {row["uid"]: row for row in found}
        missing = [vertex for vertex in batch if vertex.uid not in known]
        if missing:
            with graph_errors("adding vertices"):
                new_ids = g.union(*[_add_vertex(__, vertex) for vertex in missing]).to_list()
            if len(new_ids) != len(missing):
                raise GraphError(f"adding {len(missing)} vertices returned {len(new_ids)} ids")
            ids.update(zip((vertex.uid for vertex in missing), new_ids, strict=True))
        # Merging: a vertex already in the graph gains the types this input adds.
        extra_types = [
            (known[vertex.uid]["id"], type_name)
            for vertex in batch if vertex.uid in known
            for type_name in sorted(vertex.types - set(known[vertex.uid]["types"]))
        ]
        if extra_types:
            with graph_errors("adding vertex types"):
                g.union(*[
                    __.V(vid).property(Cardinality.set_, "types", type_name) for vid, type_name in extra_types
                ]).iterate()
        store.commit()
        ids.update((uid, row["id"]) for uid, row in known.items())
        counts.vertices_added += len(missing)
        counts.vertices_existing += len(batch) - len(missing)
        counts.types_added += len(extra_types)
        if on_batch:
            on_batch("vertices", len(batch))
    return ids


def load_edges_batched(
    store: GraphStore, edges: Sequence[EdgeRecord], vertex_ids: ElementIds, batch_size: int,
    counts: LoadCounts, on_batch: BatchCallback | None = None, policy: EvidencePolicy | None = None,
) -> None:
    """Add the edges whose uid is not in the graph yet, and the new evidence of those that are,
    batch by batch."""
    policy = policy or EvidencePolicy()
    from gremlin_python.process.graph_traversal import __
    from gremlin_python.process.traversal import P

    g = store.g
    for batch in chunks(edges, batch_size):
        uids = [edge.uid for edge in batch]
        with graph_errors("the edge lookup"):
            present = set(g.E().has("uid", P.within(uids)).values("uid").to_list())
        missing = [edge for edge in batch if edge.uid not in present]
        if missing:
            with graph_errors("adding edges"):
                g.union(*[_add_edge(__, edge, vertex_ids) for edge in missing]).iterate()
        counts.evidence_added += refresh_evidence(g, [edge for edge in batch if edge.uid in present], policy)
        store.commit()
        for edge in batch:
            (counts.edges_existing if edge.uid in present else counts.edges_added)[edge.predicate] += 1
        if on_batch:
            on_batch("edges", len(batch))


def load_naive(
    store: GraphStore, data: GraphData, batch_size: int, counts: LoadCounts, on_batch: BatchCallback | None = None
) -> None:
    """The straightforward way, for comparison: one lookup and one write traversal per element.

    Commits every ``batch_size`` elements so that only the traversal count differs from the
    batched loader.
    """
    from gremlin_python.process.graph_traversal import __
    from gremlin_python.process.traversal import Cardinality

    g = store.g
    ids: ElementIds = {}
    for vertex_batch in chunks(data.sorted_vertices(), batch_size):
        for vertex in vertex_batch:
            found = g.V().has("uid", vertex.uid).has_label(VERTEX_LABEL).project("id", "types").by(__.id_()).by(
                __.values("types").fold()).to_list()
            if found:
                ids[vertex.uid] = found[0]["id"]
                counts.vertices_existing += 1
                for type_name in sorted(vertex.types - set(found[0]["types"])):
                    g.V(ids[vertex.uid]).property(Cardinality.set_, "types", type_name).iterate()
                    counts.types_added += 1
            else:
                ids[vertex.uid] = _add_vertex(g, vertex).next()
                counts.vertices_added += 1
        store.commit()
        if on_batch:
            on_batch("vertices", len(vertex_batch))
    for edge_batch in chunks(data.sorted_edges(), batch_size):
        for edge in edge_batch:
            if g.E().has("uid", edge.uid).limit(1).count().next():
                counts.edges_existing[edge.predicate] += 1
                counts.evidence_added += refresh_evidence(g, [edge], data.evidence_policy)
            else:
                _add_edge(g, edge, ids).iterate()
                counts.edges_added[edge.predicate] += 1
        store.commit()
        if on_batch:
            on_batch("edges", len(edge_batch))
