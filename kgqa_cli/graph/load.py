"""Loading vertices and edges into the configured graph, in batches, through traversals.

The batched loader sends one traversal per batch of ``batch_size`` elements: a lookup of the
batch's uids that already exist (``has('uid', within(...))``), then one ``union()`` of
``add_v``/``add_e`` branches for the missing ones, then a commit. Vertices are all loaded before
edges. Because ids are deterministic and every write is "add if missing", loading the same input
again adds nothing, and a load that stopped after any batch converges, when re-run, to the graph
an uninterrupted load builds. The one thing a merge changes on an edge already present is its
evidence: sentences it did not know yet join it (:func:`refresh_evidence`), sentences it knows
change nothing.

The direct loader (:mod:`kgqa_cli.graph.direct`) does the same for the embedded graph without
Gremlin: same batches, same lookups by uid, same commits, rows written straight into gremlite's
tables. ``graph.loader`` picks it (``auto``: direct for the embedded file, traversal for servers).

The naive loader (one lookup and one write traversal per element) is kept for the benchmark.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kgqa_cli.errors import FileSystemError, GraphError, KgqaError
from kgqa_cli.graph.model import (
    EDGE_DEFAULTS,
    VERTEX_LABEL,
    EdgeRecord,
    EvidencePolicy,
    GraphData,
    VertexRecord,
    edge_defaults,
    evidence_ids_of,
    evidence_properties,
    loads_evidence,
    merge_evidence,
)

log = logging.getLogger(__name__)

# Called after each committed batch with the phase ("vertices" or "edges") and how many
# elements that batch held; the progress bar and the interruption test hook in here.
BatchCallback = Callable[[str, int], None]


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[start:start + size] for start in range(0, len(items), size)]


@contextmanager
def _graph_errors(what: str) -> Iterator[None]:
    """Engine errors inside the block become :class:`GraphError` naming what was attempted."""
    try:
        yield
    except KgqaError:
        raise
    except Exception as exc:
        if any(words in str(exc) for words in ("disk is full", "readonly database", "disk I/O error")):
            raise FileSystemError(f"the graph file cannot be written ({what}): {exc}") from exc
        raise GraphError(f"graph refused {what}: {exc.__class__.__name__}: {exc}") from exc


class LoadCounts:
    """What a load added and found already present."""

    def __init__(self) -> None:
        self.vertices_added = 0
        self.vertices_existing = 0
        self.types_added = 0
        self.edges_added: Counter = Counter()
        self.edges_existing: Counter = Counter()
        self.evidence_added = 0  # edges already present that gained sentences

    @property
    def changed(self) -> bool:
        """Whether the load added anything (a rerun of the same input adds nothing)."""
        return bool(self.vertices_added or self.types_added or sum(self.edges_added.values()) or self.evidence_added)


def _single(value: Any) -> Any:
    # gremlite's value_map wraps property values in lists, TinkerPop servers do not.
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def refresh_evidence(g: Any, edges: Sequence[EdgeRecord], policy: EvidencePolicy) -> int:
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
    with _graph_errors("the evidence lookup"):
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
            for key, value in defaults.items():
                step = step.property(key, value)
        for key, value in evidence_properties(entries, merged_ids, defaults).items():
            step = step.property(key, value)
        updates.append(step)
    if updates:
        with _graph_errors("adding evidence"):
            g.union(*updates).iterate()
    return len(updates)


def _add_vertex(anon: Any, vertex: VertexRecord) -> Any:
    from gremlin_python.process.traversal import Cardinality

    step = anon.add_v(VERTEX_LABEL).property("uid", vertex.uid).property("name", vertex.name)
    for type_name in sorted(vertex.types):
        step = step.property(Cardinality.set_, "types", type_name)
    return step.id_()


def _add_edge(anon: Any, edge: EdgeRecord, vertex_ids: dict[str, Any]) -> Any:
    step = anon.V(vertex_ids[edge.source_uid]).as_("s").V(vertex_ids[edge.target_uid])
    step = step.add_e(edge.predicate).from_("s")
    for key, value in edge.properties().items():
        step = step.property(key, value)
    return step


def load_vertices_batched(
    store: Any, vertices: Sequence[VertexRecord], batch_size: int, counts: LoadCounts,
    on_batch: BatchCallback | None = None,
) -> dict[str, Any]:
    """Upsert vertices batch by batch; returns uid -> graph element id for every vertex."""
    from gremlin_python.process.graph_traversal import __
    from gremlin_python.process.traversal import Cardinality, P

    g = store.g
    ids: dict[str, Any] = {}
    for batch in _chunks(vertices, batch_size):
        uids = [vertex.uid for vertex in batch]
        with _graph_errors("the vertex lookup"):
            found = (
                g.V().has("uid", P.within(uids)).has_label(VERTEX_LABEL)
                .project("uid", "id", "types").by("uid").by(__.id_()).by(__.values("types").fold())
                .to_list()
            )
        known = {row["uid"]: row for row in found}
        missing = [vertex for vertex in batch if vertex.uid not in known]
        if missing:
            with _graph_errors("adding vertices"):
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
            with _graph_errors("adding vertex types"):
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
    store: Any, edges: Sequence[EdgeRecord], vertex_ids: dict[str, Any], batch_size: int,
    counts: LoadCounts, on_batch: BatchCallback | None = None, policy: EvidencePolicy | None = None,
) -> None:
    """Add the edges whose uid is not in the graph yet, and the new evidence of those that are,
    batch by batch."""
    policy = policy or EvidencePolicy()
    from gremlin_python.process.graph_traversal import __
    from gremlin_python.process.traversal import P

    g = store.g
    for batch in _chunks(edges, batch_size):
        uids = [edge.uid for edge in batch]
        with _graph_errors("the edge lookup"):
            present = set(g.E().has("uid", P.within(uids)).values("uid").to_list())
        missing = [edge for edge in batch if edge.uid not in present]
        if missing:
            with _graph_errors("adding edges"):
                g.union(*[_add_edge(__, edge, vertex_ids) for edge in missing]).iterate()
        counts.evidence_added += refresh_evidence(g, [edge for edge in batch if edge.uid in present], policy)
        store.commit()
        for edge in batch:
            (counts.edges_existing if edge.uid in present else counts.edges_added)[edge.predicate] += 1
        if on_batch:
            on_batch("edges", len(batch))


def load_naive(
    store: Any, data: GraphData, batch_size: int, counts: LoadCounts, on_batch: BatchCallback | None = None
) -> None:
    """The straightforward way, for comparison: one lookup and one write traversal per element.

    Commits every ``batch_size`` elements so that only the traversal count differs from the
    batched loader.
    """
    from gremlin_python.process.graph_traversal import __
    from gremlin_python.process.traversal import Cardinality

    g = store.g
    ids: dict[str, Any] = {}
    for batch in _chunks(data.sorted_vertices(), batch_size):
        for vertex in batch:
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
            on_batch("vertices", len(batch))
    for batch in _chunks(data.sorted_edges(), batch_size):
        for edge in batch:
            if g.E().has("uid", edge.uid).limit(1).count().next():
                counts.edges_existing[edge.predicate] += 1
                counts.evidence_added += refresh_evidence(g, [edge], data.evidence_policy)
            else:
                _add_edge(g, edge, ids).iterate()
                counts.edges_added[edge.predicate] += 1
        store.commit()
        if on_batch:
            on_batch("edges", len(batch))


def load_direct(
    store: Any, data: GraphData, batch_size: int, counts: LoadCounts, on_batch: BatchCallback | None = None
) -> None:
    """The embedded graph's bulk path: the batched loader's batches and rules, written with SQL."""
    from kgqa_cli.graph.direct import DirectWriter

    writer = DirectWriter(store)
    try:
        ids: dict[str, Any] = {}
        for batch in _chunks(data.sorted_vertices(), batch_size):
            with _graph_errors("writing vertices"):
                batch_ids, added, types_added = writer.write_vertices(batch)
            store.commit()
            ids.update(batch_ids)
            counts.vertices_added += added
            counts.vertices_existing += len(batch) - added
            counts.types_added += types_added
            if on_batch:
                on_batch("vertices", len(batch))
        for batch in _chunks(data.sorted_edges(), batch_size):
            with _graph_errors("writing edges"):
                present = writer.write_edges(batch, ids)
            # Few edges of a merge gain sentences: their evidence is written through traversals,
            # which update a property the way gremlite itself does.
            counts.evidence_added += refresh_evidence(store.g, [edge for edge in batch if edge.uid in present],
                                                      data.evidence_policy)
            store.commit()
            for edge in batch:
                (counts.edges_existing if edge.uid in present else counts.edges_added)[edge.predicate] += 1
            if on_batch:
                on_batch("edges", len(batch))
    finally:
        writer.close()


def load_build(
    store: Any, data: GraphData, batch_size: int, counts: LoadCounts, on_batch: BatchCallback | None = None
) -> None:
    """A whole new embedded graph in one go (the file of a replacement, published only once
    checked): the direct writer's rows without its lookups, indexes built after the rows."""
    from kgqa_cli.graph.direct import build_fresh

    class CallbackFailed(BaseException):
        """The caller's callback raised: its error goes out as it is, not as a graph error."""

    def progress(phase: str, count: int) -> None:
        if on_batch:
            try:
                on_batch(phase, count)
            except Exception as exc:
                raise CallbackFailed(exc) from exc

    try:
        with _graph_errors("building the graph"):
            vertices, _ = build_fresh(store, data.sorted_vertices(), data.sorted_edges(), progress, chunk=batch_size)
    except CallbackFailed as failed:
        raise failed.args[0] from None
    store.commit()
    counts.vertices_added += vertices
    for edge in data.edges.values():
        counts.edges_added[edge.predicate] += 1


LOADERS = ("direct", "batched", "naive", "build")


def choose_loader(setting: str, store: Any) -> str:
    """The loader for ``graph.loader`` (auto|traversal|direct) on this store: direct or batched.

    ``auto`` is direct for the embedded graph and traversals for a server. The direct writer
    knows the storage layout of one gremlite release only; with any other installed version it
    is refused and the load falls back to traversals, with a warning.
    """
    if setting == "traversal":
        return "batched"
    if not store.embedded:
        if setting == "direct":
            raise GraphError(f"{store.location}: the direct loader writes the embedded graph only")
        return "batched"
    from kgqa_cli.graph.direct import direct_writer_problem

    problem = direct_writer_problem()
    if problem is not None:
        log.warning("direct graph loader refused (%s); loading through traversals instead", problem)
        return "batched"
    return "direct"


def load_graph_data(
    store: Any, data: GraphData, batch_size: int, on_batch: BatchCallback | None = None, loader: str = "batched"
) -> tuple[LoadCounts, float]:
    """Load ``data`` into an open store with ``loader`` (one of :data:`LOADERS`); returns the
    counts and the seconds the load took.

    An exception mid-load rolls back the unfinished batch; committed batches stay, and running
    the same load again finishes the job. A load in place counts a change in the embedded
    graph's metadata (its committed batches changed the graph, even when a later one failed), so
    long-lived readers rebuild their name caches; a new file ("build") gets its counter when
    :class:`~kgqa_cli.graph.store.GraphBuild` publishes it.
    """
    if loader not in LOADERS:
        raise ValueError(f"unknown loader {loader!r}")
    counts = LoadCounts()
    started = time.perf_counter()
    try:
        if loader == "naive":
            load_naive(store, data, batch_size, counts, on_batch)
        elif loader == "direct":
            load_direct(store, data, batch_size, counts, on_batch)
        elif loader == "build":
            load_build(store, data, batch_size, counts, on_batch)
        else:
            ids = load_vertices_batched(store, data.sorted_vertices(), batch_size, counts, on_batch)
            load_edges_batched(store, data.sorted_edges(), ids, batch_size, counts, on_batch, data.evidence_policy)
    except BaseException:
        store.rollback()
        if loader != "build" and counts.changed:
            try:
                store.count_change()
            except Exception as exc:  # the load's own error is the one to report
                log.warning("could not count the change of the graph: %s", exc)
        raise
    if loader != "build" and counts.changed:
        with _graph_errors("counting the change"):
            store.count_change()
    return counts, time.perf_counter() - started


def default_input(workspace: Any) -> Path:
    """The extraction output that ``kgqa bulkload`` reads when no input is given."""
    return workspace.extract_dir / "triples.jsonl"
