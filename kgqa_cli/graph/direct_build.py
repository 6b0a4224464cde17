"""A whole new embedded graph written in one go: the direct writer's rows without its lookups.

With nothing in the graph there is nothing to look up: every string and element id is assigned
in memory, in the order the batched writers (:class:`~kgqa_cli.graph.direct.DirectWriter`, and
the traversal loader before it) would take them, so the file holds the same rows with the same
ids. gremlite's quads indexes are dropped first and built again after the rows are in (SQLite
sorts once instead of updating four B-trees per row), and rows go in by large ``executemany``
calls in one transaction. The file is a replacement being built
(:class:`~kgqa_cli.graph.build.GraphBuild`): a crash leaves only the unpublished building file,
which the next run discards.
"""

from __future__ import annotations

import itertools
import logging
import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from kgqa_cli.errors import GraphError
from kgqa_cli.graph.direct import encode_value
from kgqa_cli.graph.model import VERTEX_LABEL, EdgeRecord, VertexRecord

if TYPE_CHECKING:
    from kgqa_cli.graph.store import GraphStore

log = logging.getLogger(__name__)

# A quads row: (s, p, o, g), see :mod:`kgqa_cli.graph.direct`.
Row = tuple[int, int, int, int]


class _FreshRows:
    """Every row of a new graph, built in memory, and the strings and element ids they take."""

    def __init__(self, con: sqlite3.Connection) -> None:
        self.first_string = (con.execute("SELECT max(id) FROM strings").fetchone()[0] or 0) + 1
        existing: dict[str, int] = dict(con.execute("SELECT v, id FROM strings"))
        self.known_strings = len(existing)
        # A string's id is taken the first time it is met (dict lookups in C, no Python call per
        # string); new ids continue from the table's and keep the dict's insertion order.
        self.sid: defaultdict[str, int] = defaultdict(itertools.count(self.first_string).__next__, existing)
        self.first_element = self.next_element = (con.execute(
            "SELECT seq FROM sqlite_sequence WHERE name = 'graphelts'").fetchone() or (0,))[0] + 1
        self.vertex_ids: dict[str, int] = {}
        self.rows: list[Row] = []
        self.ends: list[int] = []  # the row count after each element: progress in elements, not rows

    # Strings are met in the batched writers' order: per vertex its label, "uid", the uid, "name",
    # the name, then "types" and each type; per edge its label, then each property's name and value.

    def add_vertices(self, vertices: Sequence[VertexRecord]) -> None:
        """The rows of every vertex: the vertex and its label, its uid, name and each type."""
        sid, vertex_ids, next_element = self.sid, self.vertex_ids, self.next_element
        add_row, add_end, rows = self.rows.append, self.ends.append, self.rows
        label = sid[VERTEX_LABEL]
        for vertex in vertices:
            uid_key, uid, name_key, name = sid["uid"], sid[vertex.uid], sid["name"], sid[vertex.name]
            vertex_id = next_element
            vertex_ids[vertex.uid] = vertex_id
            add_row((vertex_id, 0, label, 0))
            add_row((vertex_id, uid_key, uid, vertex_id + 1))
            add_row((vertex_id, name_key, name, vertex_id + 2))
            next_element += 3
            for type_name in sorted(vertex.types):
                add_row((vertex_id, sid["types"], sid[type_name], next_element))
                next_element += 1
            add_end(len(rows))
        self.next_element = next_element

    def add_edges(self, con: sqlite3.Connection, edges: Sequence[EdgeRecord]) -> None:
        """The rows of every edge: the edge between its vertices, then each of its properties."""
        import gremlite.querytools as qt

        sid, vertex_ids, next_element = self.sid, self.vertex_ids, self.next_element
        add_row, add_end, rows = self.rows.append, self.ends.append, self.rows
        non_id = qt.Constants.NON_ID_G_VALUE
        for edge in edges:
            edge_id = next_element
            next_element += 1
            add_row((vertex_ids[edge.source_uid], -sid[edge.predicate], vertex_ids[edge.target_uid], -edge_id))
            for key, value in edge.properties().items():
                key_id = sid[key]  # the name before the value: the order the batched writer meets them
                add_row((-edge_id, key_id, sid[value] if type(value) is str
                         else encode_value(con, value, sid.__getitem__), non_id))
            add_end(len(rows))
        self.next_element = next_element

    def insert_strings(self, con: sqlite3.Connection) -> None:
        """Insert the strings the rows added to the table's, with the ids they were given."""
        new_strings = itertools.islice(self.sid, self.known_strings, None)  # in id order from first_string
        con.executemany("INSERT INTO strings (id, v) VALUES (?, ?)", enumerate(new_strings, self.first_string))

    def insert_elements(self, con: sqlite3.Connection) -> None:
        """Insert the element ids the rows took into ``graphelts``."""
        if self.next_element > self.first_element:
            # Explicit ids into an AUTOINCREMENT table move sqlite_sequence past them, as gremlite's inserts do.
            con.execute("WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
                        "INSERT INTO graphelts (id) SELECT i FROM n", (self.first_element, self.next_element - 1))

    def insert_quads(self, con: sqlite3.Connection, on_progress: Callable[[str, int], None] | None,
                     chunk: int) -> None:
        """Insert the rows element by element in chunks of ``chunk`` (progress and the crash
        test's kill points come between them); each chunk's rows in one executemany."""
        rows, ends, vertex_count = self.rows, self.ends, len(self.vertex_ids)
        for first in range(0, len(ends), chunk):
            last = min(first + chunk, len(ends))
            con.executemany("INSERT INTO quads VALUES (?, ?, ?, ?)", rows[ends[first - 1] if first else 0:ends[last - 1]])
            if on_progress:
                if first < vertex_count:
                    on_progress("vertices", min(last, vertex_count) - first)
                if last > vertex_count:
                    on_progress("edges", last - max(first, vertex_count))


def _drop_quads_indexes(con: sqlite3.Connection) -> list[tuple[str, str]]:
    """Drop gremlite's indexes of quads (after setting up SQLite for building them again fast);
    returns their names and SQL."""
    indexes: list[tuple[str, str]] = con.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'quads' "
        "AND sql IS NOT NULL ORDER BY rowid").fetchall()
    # 256 MiB of page cache, sorts in memory and on two threads for building the indexes.
    for pragma in ("cache_size = -262144", "temp_store = MEMORY", "threads = 2"):
        con.execute(f"PRAGMA {pragma}")
    for index, _ in indexes:
        con.execute(f'DROP INDEX "{index}"')
    return indexes


def build_fresh(store: GraphStore, vertices: Sequence[VertexRecord], edges: Sequence[EdgeRecord],
                on_progress: Callable[[str, int], None] | None = None, chunk: int = 10_000) -> tuple[int, int]:
    """Write a whole graph into an empty store (a new file that :class:`~kgqa_cli.graph.build.GraphBuild`
    checks and renames into place): the same rows, ids and order as
    :class:`~kgqa_cli.graph.direct.DirectWriter`'s batches, at a fraction of the cost.

    Returns (vertices, edges) written; ``on_progress(phase, count)`` is called after each chunk
    of ``chunk`` elements.
    """
    from kgqa_cli import faults

    started = time.perf_counter()
    con = store.sqlite_connection
    if con.execute("SELECT 1 FROM quads LIMIT 1").fetchone() or con.execute("SELECT 1 FROM graphelts LIMIT 1").fetchone():
        raise GraphError("build_fresh writes an empty graph only")
    fresh = _FreshRows(con)
    fresh.add_vertices(vertices)
    fresh.add_edges(con, edges)
    rows_built = time.perf_counter()
    indexes = _drop_quads_indexes(con)
    fresh.insert_strings(con)
    strings_done = time.perf_counter()
    fresh.insert_elements(con)
    elements_done = time.perf_counter()
    fresh.insert_quads(con, on_progress, chunk)
    inserted = time.perf_counter()
    for _, sql in indexes:
        con.execute(sql)
    faults.point("bulkload.build_indexes")
    log.debug("built %d quads rows: %.2f s in Python; inserting %.2f s strings, %.2f s element ids, %.2f s rows; "
              "%.2f s indexing", len(fresh.rows), rows_built - started, strings_done - rows_built,
              elements_done - strings_done, inserted - elements_done, time.perf_counter() - inserted)
    return len(fresh.vertex_ids), len(edges)
