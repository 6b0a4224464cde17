"""Loading vertices and edges into the configured graph, in batches.

Vertices are all loaded before edges, batch by batch, each batch committed. Because ids are
deterministic and every write is "add if missing", loading the same input again adds nothing,
and a load that stopped after any batch converges, when re-run, to the graph an uninterrupted
load builds. The one thing a merge changes on an edge already present is its evidence: sentences
it did not know yet join it (:func:`~kgqa_cli.graph.traversal_load.refresh_evidence`), sentences
it knows change nothing.

The loaders: traversals, batched or naive (:mod:`kgqa_cli.graph.traversal_load`), for any
engine; the direct writer (:mod:`kgqa_cli.graph.direct`), which does the same for the embedded
graph without Gremlin (same batches, same lookups by uid, same commits, rows written straight
into gremlite's tables); and the build of a whole new file (:mod:`kgqa_cli.graph.direct_build`).
``graph.loader`` picks (``auto``: direct for the embedded file, traversal for servers).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from kgqa_cli.errors import GraphError
from kgqa_cli.graph.batches import BatchCallback, LoadCounts, chunks, graph_errors
from kgqa_cli.graph.model import GraphData
from kgqa_cli.graph.store import GraphStore
from kgqa_cli.graph.traversal_load import (
    load_edges_batched,
    load_naive,
    load_vertices_batched,
    refresh_evidence,
)
from kgqa_cli.workspace import Workspace

log = logging.getLogger(__name__)


def load_direct(
    store: GraphStore, data: GraphData, batch_size: int, counts: LoadCounts, on_batch: BatchCallback | None = None
) -> None:
    """The embedded graph's bulk path: the batched loader's batches and rules, written with SQL."""
    from kgqa_cli.graph.direct import DirectWriter

    writer = DirectWriter(store)
    try:
        ids: dict[str, int] = {}
        for vertex_batch in chunks(data.sorted_vertices(), batch_size):
            with graph_errors("writing vertices"):
                batch_ids, added, types_added = writer.write_vertices(vertex_batch)
            store.commit()
            ids.update(batch_ids)
            counts.vertices_added += added
            counts.vertices_existing += len(vertex_batch) - added
            counts.types_added += types_added
            if on_batch:
                on_batch("vertices", len(vertex_batch))
        for edge_batch in chunks(data.sorted_edges(), batch_size):
            with graph_errors("writing edges"):
                present = writer.write_edges(edge_batch, ids)
            # Few edges of a merge gain sentences: their evidence is written through traversals,
            # which update a property the way gremlite itself does.
            counts.evidence_added += refresh_evidence(store.g, [edge for edge in edge_batch if edge.uid in present],
                                                      data.evidence_policy)
            store.commit()
            for edge in edge_batch:
                (counts.edges_existing if edge.uid in present else counts.edges_added)[edge.predicate] += 1
            if on_batch:
                on_batch("edges", len(edge_batch))
    finally:
        writer.close()


def load_build(
    store: GraphStore, data: GraphData, batch_size: int, counts: LoadCounts, on_batch: BatchCallback | None = None
) -> None:
    """A whole new embedded graph in one go (the file of a replacement, published only once
    checked): the direct writer's rows without its lookups, indexes built after the rows."""
    from kgqa_cli.graph.direct_build import build_fresh

    class CallbackFailed(BaseException):
        """The caller's callback raised: its error goes out as it is, not as a graph error."""

    def progress(phase: str, count: int) -> None:
        if on_batch:
            try:
                on_batch(phase, count)
            except Exception as exc:
                raise CallbackFailed(exc) from exc

    try:
        with graph_errors("building the graph"):
            vertices, _ = build_fresh(store, data.sorted_vertices(), data.sorted_edges(), progress, chunk=batch_size)
    except CallbackFailed as failed:
        raise failed.args[0] from None
    store.commit()
    counts.vertices_added += vertices
    for edge in data.edges.values():
        counts.edges_added[edge.predicate] += 1


LOADERS = ("direct", "batched", "naive", "build")


def choose_loader(setting: str, store: GraphStore) -> str:
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
    store: GraphStore, data: GraphData, batch_size: int, on_batch: BatchCallback | None = None, loader: str = "batched"
) -> tuple[LoadCounts, float]:
    """Load ``data`` into an open store with ``loader`` (one of :data:`LOADERS`); returns the
    counts and the seconds the load took.

    An exception mid-load rolls back the unfinished batch; committed batches stay, and running
    the same load again finishes the job. A load in place counts a change in the embedded
    graph's metadata (its committed batches changed the graph, even when a later one failed), so
    long-lived readers rebuild their name caches; a new file ("build") gets its counter when
    :class:`~kgqa_cli.graph.build.GraphBuild` publishes it.
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
        with graph_errors("counting the change"):
            store.count_change()
    return counts, time.perf_counter() - started


def default_input(workspace: Workspace) -> Path:
    """The extraction output that ``kgqa bulkload`` reads when no input is given."""
    return workspace.triples_file
