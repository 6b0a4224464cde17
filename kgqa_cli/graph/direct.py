"""Direct bulk writer for the embedded graph: vertices and edges straight into gremlite's tables.

The embedded counterpart of Neptune's bulk loader, which also skips Gremlin and writes storage
itself. gremlite runs every Gremlin step in Python (tens of microseconds a step), which caps the
traversal loader near a thousand triples a second; this writer builds the same rows and sends
them with ``executemany``, one transaction per batch.

gremlite keeps a graph in three SQLite tables (see ``gremlite/connection.py``, ``initialize_db``):

* ``strings(id, v UNIQUE)``: every label, property name and string or float value, by id;
* ``graphelts(id AUTOINCREMENT)``: the one id space of vertices, edges and vertex properties;
* ``quads(s, p, o, g)``: a vertex is ``(vid, 0, label, 0)``; an edge ``(from, -label, to, -eid)``;
  a vertex property ``(vid, name, value, pid)`` with its own element id ``pid`` (a set-cardinality
  property is one such row per value); an edge property ``(-eid, name, value, 0)``.

Values are encoded by gremlite's rules (``querytools.encode_property_value``): a string is its
string id, a float is the id of ``str(value)`` plus ``2**62 - 1``; booleans, ``None`` and ints are
handed to gremlite's own encoder. Element ids are taken in the order the traversal loader takes
them (per new vertex: the vertex, ``uid``, ``name``, each type in sorted order; then types added
to existing vertices; per edge: the edge), and rows go in the same order, so both loaders build
the same graph. The rules of :mod:`kgqa_cli.graph.load` hold too: a vertex whose ``uid`` exists
is reused and gains the new types, an edge whose ``uid`` exists is left alone, and every batch is
committed, so an interrupted load converges when re-run.

This layout belongs to one gremlite release: :data:`WRITTEN_FOR_GREMLITE` is the version this
writer was written and tested against (pinned in constraints.txt). :func:`direct_writer_problem`
names any other version, and the loader then falls back to traversals (see ``load.py``).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, TypeVar

from kgqa_cli.errors import GraphError
from kgqa_cli.graph.model import VERTEX_LABEL, EdgeRecord, VertexRecord

if TYPE_CHECKING:
    from kgqa_cli.graph.store import GraphStore

log = logging.getLogger(__name__)

# The gremlite release whose storage layout this module writes. A different version may lay out
# its tables differently; writing them blind could corrupt the graph, so the loader refuses.
WRITTEN_FOR_GREMLITE = "0.1.2"

# Bound parameters per SQL statement stay well below SQLite's limit (32766 since 3.32).
_MAX_PARAMS = 10_000

# Strings that repeat across batches (labels, property names, types, scores, sources) are kept
# in memory; per-element strings (uids, names) are looked up each batch and then forgotten.
_CACHE_LIMIT = 200_000

# SQLite page cache for the load, in KiB.
CACHE_KIB = 256 * 1024


def direct_writer_problem() -> str | None:
    """Why the direct writer cannot be used with the installed gremlite, or None when it can."""
    try:
        import gremlite
    except ImportError as exc:  # pragma: no cover - gremlite is a dependency
        return f"gremlite is not importable: {exc}"
    version = getattr(gremlite, "__version__", "unknown")
    if version != WRITTEN_FOR_GREMLITE:
        return f"gremlite {version} is installed but the direct writer was written for {WRITTEN_FOR_GREMLITE}"
    return None


def encode_value(con: sqlite3.Connection, value: object, string_id: Callable[[str], int]) -> int:
    """The ``o`` column code of a property value, exactly as gremlite encodes it (``string_id``
    gives the strings-table id of a string)."""
    import gremlite.querytools as qt

    code: int | None
    if isinstance(value, bool) or value is None or isinstance(value, int):
        code = qt.encode_property_value(con, value)  # no string lookup for these
    elif isinstance(value, float):
        code = string_id(str(value)) + qt.Constants.MAX_INT
    elif isinstance(value, str):
        code = string_id(value)
    else:
        code = None
    if code is None:
        raise GraphError(f"the embedded graph cannot store the property value {value!r}")
    return code


T = TypeVar("T")


def _in_chunks(values: Sequence[T]) -> Iterable[Sequence[T]]:
    for start in range(0, len(values), _MAX_PARAMS):
        yield values[start:start + _MAX_PARAMS]


def _marks(count: int) -> str:
    return ",".join("?" * count)


class DirectWriter:
    """Writes :class:`VertexRecord`/:class:`EdgeRecord` batches into an open embedded store."""

    def __init__(self, store: GraphStore) -> None:
        import gremlite.querytools as qt

        self._qt = qt
        self._store = store
        self._con = store.sqlite_connection
        self._cache: dict[str, int] = {}
        # Every row updates four indexes of quads; with SQLite's default 2 MiB page cache a large
        # load spends its time re-reading index pages. The setting is per connection and undone
        # by close().
        self._old_cache_size = self._con.execute("PRAGMA cache_size").fetchone()[0]
        self._con.execute(f"PRAGMA cache_size = {-CACHE_KIB}")

    def close(self) -> None:
        """Give the connection its page cache size back."""
        self._con.execute(f"PRAGMA cache_size = {int(self._old_cache_size)}")

    # ------------------------------------------------------------------ strings and values

    def _lookup(self, values: Iterable[str]) -> dict[str, int]:
        """Ids of those ``values`` that the strings table already holds (adds nothing)."""
        wanted = dict.fromkeys(values)
        found = {value: self._cache[value] for value in wanted if value in self._cache}
        unknown = [value for value in wanted if value not in found]
        cur = self._con.cursor()
        try:
            for part in _in_chunks(unknown):
                found.update(cur.execute(f"SELECT v, id FROM strings WHERE v IN ({_marks(len(part))})", part))
        finally:
            cur.close()
        return found

    def _string_ids(self, values: Iterable[str], vocabulary: Iterable[str] = ()) -> dict[str, int]:
        """Ids of ``values`` in the strings table, adding the ones it lacks in the order given.

        The order is the order gremlite's ``merge_string`` would meet them in, so a fresh load
        numbers its strings the way the traversal loader does. The ids of the ``vocabulary``
        among them (strings that recur across batches) are kept for later batches.
        """
        ordered = list(dict.fromkeys(values))
        found = self._lookup(ordered)
        missing = [value for value in ordered if value not in found]
        if missing:
            # Looked up first, so that no insert is ignored (an ignored insert still burns an
            # AUTOINCREMENT id); OR IGNORE only covers a string another writer added meanwhile.
            self._con.executemany("INSERT OR IGNORE INTO strings (v) VALUES (?)", [(value,) for value in missing])
            found.update(self._lookup(missing))
        if len(self._cache) > _CACHE_LIMIT:
            self._cache.clear()
        self._cache.update((value, found[value]) for value in vocabulary if value in found)
        return found

    @staticmethod
    def _string_of(value: object) -> str | None:
        """The strings-table entry a property value is stored through, if any (gremlite's rule)."""
        if isinstance(value, bool) or value is None:
            return None
        if isinstance(value, float):
            return str(value)
        if isinstance(value, str):
            return value
        return None

    def _encode(self, value: object, ids: dict[str, int]) -> int:
        return encode_value(self._con, value, ids.__getitem__)

    # ------------------------------------------------------------------ element ids

    def _allocate(self, count: int) -> int:
        """Take ``count`` consecutive element ids from ``graphelts``; returns the first.

        The first id comes the way gremlite takes one (an AUTOINCREMENT insert); that insert
        holds SQLite's write lock until commit, so the following ids cannot be taken by anyone
        else and are inserted explicitly (AUTOINCREMENT then advances past them).
        """
        if count == 0:
            return 0
        cur = self._con.cursor()
        try:
            first: int = cur.execute("INSERT INTO graphelts VALUES (NULL) RETURNING id").fetchone()[0]
            if count > 1:
                cur.executemany("INSERT INTO graphelts (id) VALUES (?)", ((i,) for i in range(first + 1, first + count)))
        finally:
            cur.close()
        return first

    # ------------------------------------------------------------------ vertices

    def _existing_vertices(self, uid_ids: list[int], names: dict[str, int]) -> dict[int, int]:
        """uid string id -> vertex id for the ``entity`` vertices that have one of these uids."""
        found: dict[int, int] = {}
        cur = self._con.cursor()
        # The unary + keeps SQLite off index pg (p, g), which would scan every uid in the graph;
        # without it a load gets slower with every batch. Index ops (o, p, s) finds the few rows.
        try:
            for part in _in_chunks(uid_ids):
                rows = cur.execute(
                    "SELECT q.o, q.s FROM quads q WHERE q.p = ? AND +q.g > 0 AND q.o IN "
                    f"({_marks(len(part))}) AND EXISTS "
                    "(SELECT 1 FROM quads l WHERE l.s = q.s AND l.p = 0 AND l.o = ?)",
                    [names["uid"], *part, names[VERTEX_LABEL]],
                )
                found.update(rows)
        finally:
            cur.close()
        return found

    def _existing_types(self, vertex_ids: list[int], types_id: int) -> dict[int, set[int]]:
        """vertex id -> codes of the ``types`` values it already has."""
        found: dict[int, set[int]] = {}
        cur = self._con.cursor()
        # + as above: index sp (s, p), not a scan of every type in the graph through pg.
        try:
            for part in _in_chunks(vertex_ids):
                rows = cur.execute(
                    f"SELECT s, o FROM quads WHERE p = ? AND +g > 0 AND s IN ({_marks(len(part))})", [types_id, *part]
                )
                for vertex_id, code in rows:
                    found.setdefault(vertex_id, set()).add(code)
        finally:
            cur.close()
        return found

    def write_vertices(self, batch: Sequence[VertexRecord]) -> tuple[dict[str, int], int, int]:
        """Add the batch's missing vertices and the types existing ones lack (not committed).

        Returns uid -> vertex id for the whole batch, how many vertices were added and how many
        types were added to vertices already present.
        """
        uid_ids = self._lookup(vertex.uid for vertex in batch)
        names = self._lookup(("uid", "types", VERTEX_LABEL))
        # No such string yet means no such vertex: nothing to look up.
        known = (
            self._existing_vertices(list(uid_ids.values()), names)
            if uid_ids and "uid" in names and VERTEX_LABEL in names else {}
        )
        ids = {vertex.uid: known[uid_ids[vertex.uid]] for vertex in batch if uid_ids.get(vertex.uid) in known}
        present_types = (
            self._existing_types(sorted(set(ids.values())), names["types"]) if ids and "types" in names else {}
        )
        type_ids = self._lookup(t for vertex in batch if vertex.uid in ids for t in vertex.types)
        missing = [vertex for vertex in batch if vertex.uid not in ids]
        extra = [
            (ids[vertex.uid], type_name)
            for vertex in batch if vertex.uid in ids
            for type_name in sorted(vertex.types)
            if type_ids.get(type_name) not in present_types.get(ids[vertex.uid], set())
        ]
        # Every string the new rows need, in the order the traversal loader would add them.
        strings = [
            text
            for vertex in missing
            for text in (VERTEX_LABEL, "uid", vertex.uid, "name", vertex.name,
                         *(part for t in sorted(vertex.types) for part in ("types", t)))
        ]
        strings += [part for _, type_name in extra for part in ("types", type_name)]
        string_ids = self._string_ids(
            strings, vocabulary=("uid", "name", "types", VERTEX_LABEL, *(t for v in batch for t in v.types))
        )
        count = sum(3 + len(vertex.types) for vertex in missing) + len(extra)
        next_id = self._allocate(count)
        rows: list[tuple[int, int, int, int]] = []
        for vertex in missing:
            vertex_id = next_id
            ids[vertex.uid] = vertex_id
            rows.append((vertex_id, 0, string_ids[VERTEX_LABEL], 0))  # the vertex and its label
            rows.append((vertex_id, string_ids["uid"], string_ids[vertex.uid], vertex_id + 1))
            rows.append((vertex_id, string_ids["name"], string_ids[vertex.name], vertex_id + 2))
            next_id += 3
            for type_name in sorted(vertex.types):
                rows.append((vertex_id, string_ids["types"], string_ids[type_name], next_id))
                next_id += 1
        for vertex_id, type_name in extra:
            rows.append((vertex_id, string_ids["types"], string_ids[type_name], next_id))
            next_id += 1
        if rows:
            self._con.executemany("INSERT INTO quads VALUES (?, ?, ?, ?)", rows)
        return ids, len(missing), len(extra)

    # ------------------------------------------------------------------ edges

    def _present_edges(self, batch: Sequence[EdgeRecord]) -> set[str]:
        """The uids of the batch's edges that the graph already holds."""
        uid_ids = self._lookup(edge.uid for edge in batch)
        uid_name = self._lookup(("uid",)).get("uid")
        present_codes: set[int] = set()
        if uid_ids and uid_name is not None:
            cur = self._con.cursor()
            try:
                for part in _in_chunks(sorted(set(uid_ids.values()))):
                    found = cur.execute(
                        f"SELECT o FROM quads WHERE p = ? AND s < 0 AND o IN ({_marks(len(part))})", [uid_name, *part]
                    )
                    present_codes.update(code for (code,) in found)
            finally:
                cur.close()
        return {edge.uid for edge in batch if uid_ids.get(edge.uid) in present_codes}

    def write_edges(self, batch: Sequence[EdgeRecord], vertex_ids: dict[str, int]) -> set[str]:
        """Add the batch's edges whose uid is not in the graph yet (not committed).

        Returns the uids of the edges that were already present.
        """
        qt = self._qt
        present = self._present_edges(batch)
        missing = [(edge, edge.properties()) for edge in batch if edge.uid not in present]
        # Every string the new rows need, in the order the traversal loader would add them.
        ids = self._string_ids(
            (
                text
                for edge, props in missing
                for text in (edge.predicate, *(
                    part for key, value in props.items() for part in (key, self._string_of(value)) if part is not None
                ))
            ),
            # Labels, property names and the values that recur (scores, sources, model versions).
            vocabulary=(
                text
                for edge, props in missing
                for text in (edge.predicate, *props, self._string_of(edge.score), edge.source, edge.model_version)
                if text is not None
            ),
        )
        next_id = self._allocate(len(missing))
        rows: list[tuple[int, int, int, int]] = []
        for edge, props in missing:
            rows.append((vertex_ids[edge.source_uid], -ids[edge.predicate], vertex_ids[edge.target_uid], -next_id))
            rows.extend((-next_id, ids[key], self._encode(value, ids), qt.Constants.NON_ID_G_VALUE)
                        for key, value in props.items())
            next_id += 1
        if rows:
            self._con.executemany("INSERT INTO quads VALUES (?, ?, ?, ?)", rows)
        return present
