"""Opening the configured graph: an embedded gremlite file or a Gremlin server, same API.

Everything above this module works with ``store.g`` (a gremlinpython traversal source) and
``store.commit()``; only this module knows which engine is behind them.

The embedded graph is one SQLite file, and three rules keep it trustworthy:

* **Readers never write.** A reader opens the file only after :func:`check_graph_file` found a
  complete kgqa graph there, and its connection is ``query_only``: ``kgqa ask`` or ``kgqa graph``
  never create, initialise or repair a file.
* **A replacement is built beside the live file and renamed over it** (:class:`GraphBuild`). The
  rename is atomic, so a reader sees the old graph or the new one and never a half-built one; a
  reader that had the old file open keeps reading it (the inode lives while it is open), and
  :meth:`GraphStore.refresh` moves a long-lived reader to the new file.
* **One writer at a time**, under an exclusive lock on ``.<name>.lock`` beside the graph. A
  ``.<name>.building-<pid>`` file seen while holding that lock was left by a load that died; it
  is named in a warning and removed.
* **Every write counts.** The metadata's ``changes`` counter goes up with each load (a merge in
  place, a replacement), so a long-lived reader that keeps caches of the graph's names (the
  endpoint, `kgqa chat`) sees with one tiny query (:meth:`GraphStore.changes`) that they are stale.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kgqa_cli.errors import FileSystemError, GraphError, MissingArtifactError, describe_os_error
from kgqa_cli.graph.config import GraphConfig
from kgqa_cli.workspace import Workspace

log = logging.getLogger(__name__)

GRAPH_FILE_NAME = "kgqa.db"

# Our own table beside gremlite's: what wrote the file, and whether its build completed.
META_TABLE = "kgqa_meta"
GRAPH_FORMAT = "kgqa-graph/1"

_SQLITE_HEADER = b"SQLite format 3\x00"
_GREMLITE_TABLES = ("quads", "strings", "graphelts")
_GREMLITE_INDEXES = ("ops", "sp", "pg", "g", "sqlite_autoindex_strings_1")

# How long a writer waits for SQLite's lock (a reader mid-query, another writer's commit).
_BUSY_SECONDS = 30.0
# Page size of a replacement built in one go (SQLite's default is 4 KiB).
BUILD_PAGE_SIZE = 16384


def graph_file(config: GraphConfig, workspace: Workspace) -> Path:
    """Where the embedded graph lives: ``graph.path`` or ``<workspace>/graph/kgqa.db``."""
    return config.path if config.path is not None else workspace.graph_dir / GRAPH_FILE_NAME


def rebuild_hint(path: Path) -> str:
    """The command that rebuilds the embedded graph at ``path`` (the message names the path)."""
    return "rebuild it with `kgqa bulkload FILE --replace`"


def _read_only_uri(path: Path) -> str:
    return path.resolve().as_uri() + "?mode=ro"


def graph_problem(path: Path) -> str | None:
    """What is wrong with the graph file at ``path`` (which exists), or None when it is a complete
    kgqa graph. Opens the file read-only and changes nothing."""
    try:
        with path.open("rb") as handle:
            header = handle.read(len(_SQLITE_HEADER))
    except IsADirectoryError:
        return "is a folder, not a graph file"
    except OSError as exc:
        raise FileSystemError(describe_os_error(exc, "cannot read the graph")) from exc
    if not header:
        return "is an empty file, not a kgqa graph"
    if header != _SQLITE_HEADER:
        return "is not a kgqa graph (not an SQLite database)"
    try:
        con = sqlite3.connect(_read_only_uri(path), uri=True, timeout=_BUSY_SECONDS)
    except sqlite3.Error as exc:
        return f"cannot be opened as a graph: {exc}"
    try:
        names = {(kind, name) for kind, name in con.execute("SELECT type, name FROM sqlite_master")}
        missing = [f"table {t}" for t in _GREMLITE_TABLES if ("table", t) not in names]
        missing += [f"index {i}" for i in _GREMLITE_INDEXES if ("index", i) not in names]
        if missing:
            return f"is an incomplete graph (no {', '.join(missing)}): a load stopped part-way"
        if con.execute("SELECT rowid FROM strings WHERE rowid <= 3").fetchall() != [(3,)]:
            return "is not a kgqa graph (its strings table was not made by gremlite)"
        if ("table", META_TABLE) in names:
            meta = dict(con.execute(f"SELECT key, value FROM {META_TABLE}").fetchall())
            if meta.get("format") != GRAPH_FORMAT:
                return f"has graph format {meta.get('format')!r}, this kgqa reads {GRAPH_FORMAT!r}"
            if meta.get("complete") != "1":
                return "is an incomplete graph: its build did not finish"
        con.execute("SELECT 1 FROM quads LIMIT 1").fetchall()  # reads a page: catches a truncated file
    except sqlite3.DatabaseError as exc:
        return f"is damaged or not a kgqa graph ({exc})"
    finally:
        con.close()
    return None


def check_graph_file(path: Path) -> None:
    """Raise unless ``path`` holds a complete kgqa graph: :class:`MissingArtifactError` (exit 4)
    when there is no file, :class:`GraphError` (exit 6) naming what is wrong otherwise."""
    if not path.exists():
        raise MissingArtifactError(
            f"{path}: no graph here yet", hint="run `kgqa bulkload` first (`make all` does), or set graph.url"
        )
    problem = graph_problem(path)
    if problem is not None:
        raise GraphError(f"{path}: {problem}", hint=rebuild_hint(path))


def graph_holds_data(path: Path) -> bool:
    """Whether a (possibly incomplete) graph file holds any element: such a file is never
    silently recreated. A file with no quads table, or an empty one, holds nothing."""
    try:
        con = sqlite3.connect(_read_only_uri(path), uri=True)
    except sqlite3.Error:
        return path.stat().st_size > 0
    try:
        return bool(con.execute("SELECT 1 FROM quads LIMIT 1").fetchall())
    except sqlite3.OperationalError:  # no such table
        return False
    except sqlite3.DatabaseError:
        return path.stat().st_size > 0
    finally:
        con.close()


def graph_counts(con: sqlite3.Connection) -> tuple[int, int]:
    """(vertices, edges) of an embedded graph, counted from gremlite's quads (see direct.py)."""
    vertices = con.execute("SELECT count(*) FROM quads WHERE p = 0").fetchone()[0]
    edges = con.execute("SELECT count(*) FROM quads WHERE p < 0").fetchone()[0]
    return vertices, edges


def write_meta(con: sqlite3.Connection, **values: str) -> None:
    """Set keys of the graph's metadata table (created on first use); not committed."""
    con.execute(f"CREATE TABLE IF NOT EXISTS {META_TABLE} (key TEXT PRIMARY KEY, value TEXT)")
    con.executemany(f"INSERT OR REPLACE INTO {META_TABLE} (key, value) VALUES (?, ?)",
                    [("format", GRAPH_FORMAT), *sorted(values.items())])


CHANGES_KEY = "changes"


def count_change(con: sqlite3.Connection) -> None:
    """Add one to the graph's ``changes`` counter (not committed). A file made before the metadata
    table existed was a complete graph; it gains the table, marked complete."""
    names = {name for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()}
    if META_TABLE not in names:
        write_meta(con, complete="1")
    con.execute(f"INSERT INTO {META_TABLE} (key, value) VALUES (?, '1') "
                "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1", (CHANGES_KEY,))


def read_changes(con: sqlite3.Connection) -> int:
    """The graph's ``changes`` counter (0 for a file that never counted one)."""
    try:
        rows = con.execute(f"SELECT value FROM {META_TABLE} WHERE key = ?", (CHANGES_KEY,)).fetchall()
    except sqlite3.OperationalError:  # no metadata table: a graph from before the counter
        return 0
    try:
        return int(rows[0][0]) if rows else 0
    except (TypeError, ValueError):
        return 0


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class GraphStore:
    """An open graph: ``g`` to traverse it, :meth:`commit` to make writes durable.

    ``create=False`` opens a reader: the file must be a complete kgqa graph and is never written.
    ``create=True`` opens the writer of a merge: a missing file is created (atomically), a file
    left half-initialised by an interrupted load with no element in it is recreated, and any other
    damaged file is refused. ``path`` overrides the configured file (the build of a replacement).
    """

    def __init__(
        self, config: GraphConfig, workspace: Workspace, create: bool = True, *, path: Path | None = None,
        _fresh: bool = False,
    ) -> None:
        self.config = config
        self._path = None if config.url else Path(path) if path is not None else graph_file(config, workspace)
        self.location = config.url or str(self._path)
        self.read_only = not create
        self._remote: Any = None
        self._identity: tuple[int, int] | None = None
        if self._path is not None and not _fresh:
            if create:
                _prepare_for_merge(self._path)
            else:
                check_graph_file(self._path)
        self._connect()

    def _connect(self) -> None:
        from gremlin_python.process.anonymous_traversal import traversal

        if self._path is not None:
            self._remote = self._open_file()
        else:
            self._remote = self._open_server()
        self.g = traversal().with_remote(self._remote)
        if self._path is None:
            self._probe_server()

    def _open_file(self) -> Any:
        from gremlite import SQLiteConnection

        try:
            # The file's identity is taken before and after connecting: when a replacement lands
            # in between, we cannot tell which file the connection holds, so connect again.
            for _ in range(5):
                before = self._file_identity()
                remote = SQLiteConnection(str(self._path), timeout=_BUSY_SECONDS)
                if self._file_identity() == before:
                    break
                remote.close()
            self._identity = before
            if self.read_only:
                remote.con.execute("PRAGMA query_only = 1")
            return remote
        except PermissionError as exc:
            raise FileSystemError(describe_os_error(exc, "cannot open the graph")) from exc
        except Exception as exc:  # sqlite3 and gremlite's BadDatabase alike
            reason = str(exc) or exc.__class__.__name__
            raise GraphError(f"{self._path}: cannot open the graph: {reason}", hint=rebuild_hint(self._path)) from exc

    def _file_identity(self) -> tuple[int, int] | None:
        try:
            stat = self._path.stat()
        except FileNotFoundError:
            return None
        return stat.st_dev, stat.st_ino

    def _open_server(self) -> Any:
        from gremlin_python.driver.driver_remote_connection import DriverRemoteConnection

        headers = None
        if self.config.sigv4:
            from kgqa_cli.graph.sigv4 import gremlin_headers  # the AWS path only

            headers = gremlin_headers(self.config.url)
        try:
            return DriverRemoteConnection(self.config.url, self.config.traversal_source, headers=headers)
        except Exception as exc:  # socket, TLS and driver errors alike
            raise GraphError(f"{self.config.url}: cannot reach the graph server: {exc or exc.__class__.__name__}") from exc

    def _probe_server(self) -> None:
        """One tiny traversal, so an unreachable server is reported here, naming its URL."""
        try:
            self.g.V().limit(1).count().next()
        except Exception as exc:
            self.close()
            reason = str(exc) or exc.__class__.__name__
            raise GraphError(f"{self.config.url}: cannot reach the graph server: {reason}",
                             hint="check graph.url and that the server is running") from exc

    @property
    def embedded(self) -> bool:
        """True for the embedded file (only the loader and logs care)."""
        return self._path is not None

    @property
    def path(self) -> Path | None:
        """The embedded graph file, or None for a server."""
        return self._path

    @property
    def sqlite_connection(self) -> Any:
        """The embedded graph's own ``sqlite3`` connection (the direct bulk writer's way in).

        It is the connection the traversals use, so direct writes and traversal reads share one
        transaction and :meth:`commit`/:meth:`rollback` cover both.
        """
        if self._path is None:
            raise GraphError(f"{self.location}: a Gremlin server has no SQLite connection")
        return self._remote.con

    @property
    def identity(self) -> tuple[int, int] | None:
        """(device, inode) of the embedded file this store reads; None for a server."""
        return self._identity

    def changes(self) -> int | None:
        """The embedded graph's ``changes`` counter, read now (one indexed row); None for a
        server, or when the file cannot be read for a moment."""
        if self._path is None or self._remote is None:
            return None
        try:
            return read_changes(self._remote.con)
        except sqlite3.Error:
            return None

    def count_change(self) -> None:
        """Record that this writer changed the graph (bumps and commits the counter); nothing
        for a server."""
        if self._path is None or self._remote is None:
            return
        count_change(self._remote.con)
        self._remote.commit()

    def replaced(self) -> bool:
        """Whether the embedded file was swapped for another (a ``bulkload --replace``) since we
        opened it. A cheap ``stat``; always False for a server."""
        if self._path is None:
            return False
        try:
            identity = self._file_identity()
        except OSError:
            return False  # unreadable for a moment: keep the graph we have
        # An inode number is reused only once no one holds the file open, and we hold ours.
        return identity is not None and identity != self._identity

    def refresh(self) -> bool:
        """Move a reader to the current file when it was replaced; returns True when it did.

        The new file is checked before the old connection is dropped, so a reader always has a
        complete graph; ``g`` is a new traversal source afterwards.
        """
        if not self.replaced():
            return False
        try:
            check_graph_file(self._path)
            old = self._remote
            self._connect()
        except (GraphError, MissingArtifactError, FileSystemError) as exc:
            log.warning("%s changed but cannot be opened (%s); still reading the graph opened before", self._path, exc)
            return False
        old.close()
        log.info("%s was replaced: reading the new graph", self._path)
        return True

    def commit(self) -> None:
        """End the current transaction. On a server each submitted traversal is its own
        transaction (sessionless requests), so there is nothing left to commit."""
        if self._path is not None:
            self._remote.commit()

    def rollback(self) -> None:
        """Drop uncommitted writes of the embedded graph (servers roll back per request)."""
        if self._path is not None and self._remote is not None:
            self._remote.rollback()

    def clear(self) -> None:
        """Remove every vertex and edge of a server graph (an embedded replacement is built in a
        new file instead, see :class:`GraphBuild`)."""
        if self._path is not None:
            raise GraphError(f"{self._path}: the embedded graph is replaced by building a new file, not cleared")
        while self.g.V().limit(1).count().next():
            self.g.V().limit(10000).drop().iterate()

    def close(self) -> None:
        """Close the connection (uncommitted embedded writes are rolled back)."""
        if self._remote is not None:
            try:
                self._remote.close()
            finally:
                self._remote = None


def _create_empty_graph(path: Path) -> None:
    """Put an empty, complete kgqa graph at ``path`` in one atomic rename (for a first merge)."""
    from gremlite import SQLiteConnection

    building = _building_path(path)
    _remove_leftover(building)
    try:
        remote = SQLiteConnection(str(building))
        try:
            write_meta(remote.con, complete="1", created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            remote.con.commit()
        finally:
            remote.close()
        _durable_rename(building, path)
    except BaseException:
        _remove_leftover(building)
        raise


def _prepare_for_merge(path: Path) -> None:
    """Make sure a merge has a complete graph to write into (see :class:`GraphStore`)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        _create_empty_graph(path)
        return
    problem = graph_problem(path)
    if problem is None:
        return
    if not graph_holds_data(path):
        log.warning("%s %s and holds no element: recreating it", path, problem)
        _create_empty_graph(path)
        return
    raise GraphError(f"{path}: {problem}; a merge would build on it", hint=rebuild_hint(path))


def _building_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.building-{os.getpid()}")


def _remove_leftover(path: Path) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def _durable_rename(source: Path, target: Path) -> None:
    """fsync ``source``, rename it over ``target`` atomically, fsync the folder."""
    fd = os.open(source, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    from kgqa_cli import faults

    faults.point("graph.before_rename")
    os.replace(source, target)
    faults.point("graph.after_rename")
    _fsync_dir(target.parent)


@contextmanager
def writer_lock(path: Path) -> Iterator[None]:
    """Hold the exclusive writer lock of the graph at ``path``; removes what dead writers left.

    The lock is an ``flock`` on ``.<name>.lock``: the kernel drops it when its holder dies, so a
    ``kill -9`` never leaves the graph locked.
    """
    from kgqa_cli.io import exclusive_lock

    with exclusive_lock(path.with_name(f".{path.name}.lock"), wait=True, what=f"a load of {path}",
                        on_wait=lambda: log.info("waiting for another load of %s to finish", path)):
        for leftover in sorted(path.parent.glob(f".{path.name}.building-*")):
            if leftover.name.endswith(("-journal", "-wal", "-shm")):
                continue
            log.warning("removing %s: a partial graph left by an interrupted load", leftover)
            _remove_leftover(leftover)
        yield


class GraphBuild:
    """A replacement of the embedded graph, built in a new file beside the live one.

    Use as a context manager around the load into :attr:`store`; :meth:`publish` then checks the
    new file (complete tables, the expected counts, a sample traversal) and renames it over the
    live graph. Leaving the block without publishing removes the new file and leaves the live
    graph as it was.
    """

    def __init__(self, config: GraphConfig, workspace: Workspace) -> None:
        self.target = graph_file(config, workspace)
        self.config = config
        self.workspace = workspace
        self.building = _building_path(self.target)
        self.store: GraphStore | None = None
        self.published = False

    def __enter__(self) -> GraphBuild:
        _remove_leftover(self.building)
        try:
            # 16 KiB pages before gremlite makes its tables: a large load and its index builds
            # touch a quarter as many pages (the page size is fixed once a table exists).
            with contextlib.closing(sqlite3.connect(self.building)) as con:
                con.execute(f"PRAGMA page_size = {BUILD_PAGE_SIZE}")
                con.execute("VACUUM")
        except OSError as exc:
            raise FileSystemError(describe_os_error(exc, "cannot write the graph")) from exc
        except sqlite3.Error as exc:
            raise FileSystemError(f"{self.building}: cannot create the graph file: {exc}") from exc
        try:
            self.store = GraphStore(self.config, self.workspace, create=True, path=self.building, _fresh=True)
        except GraphError as exc:
            if isinstance(exc.__cause__, OSError):
                raise FileSystemError(describe_os_error(exc.__cause__, "cannot write the graph")) from exc
            raise
        con = self.store.sqlite_connection
        # The new file is thrown away if anything goes wrong before publish(), so it needs no
        # rollback journal and no fsync per commit; publish() fsyncs it once before the rename.
        con.execute("PRAGMA journal_mode = OFF")
        con.execute("PRAGMA synchronous = OFF")
        return self

    def publish(self, expected_vertices: int, expected_edges: int, sample: tuple[str, str, str] | None,
                **meta: str) -> None:
        """Check the new graph and swap it in for the live one (atomic rename)."""
        from kgqa_cli import faults
        from kgqa_cli.graph import queries

        assert self.store is not None
        con = self.store.sqlite_connection
        # The counter goes on from the live graph's, so a reader comparing it sees a change too.
        write_meta(con, complete="1", **meta, **{CHANGES_KEY: str(_live_changes(self.target) + 1)})
        self.store.commit()
        faults.point("graph.built")
        vertices, edges = graph_counts(con)
        if (vertices, edges) != (expected_vertices, expected_edges):
            raise GraphError(
                f"{self.building}: the new graph holds {vertices} vertices and {edges} edges, "
                f"expected {expected_vertices} and {expected_edges}; the live graph was left as it was"
            )
        if sample is not None:
            subject, predicate, obj = sample
            found = [row["name"] for row in queries.run(queries.objects_of(self.store.g, subject, predicate))]
            if obj not in found:
                raise GraphError(
                    f"{self.building}: the sample fact {subject} -{predicate}-> {obj} is not found in the new graph; "
                    "the live graph was left as it was"
                )
        self.store.close()
        problem = graph_problem(self.building)
        if problem is not None:
            raise GraphError(f"{self.building}: {problem}; the live graph was left as it was")
        _durable_rename(self.building, self.target)
        self.published = True

    def __exit__(self, *exc_info: object) -> None:
        if self.store is not None:
            self.store.close()
        if not self.published:
            _remove_leftover(self.building)


def _live_changes(path: Path) -> int:
    """The ``changes`` counter of the graph file at ``path`` (0 when there is none or it cannot
    be read: a replacement is about to take its place anyway)."""
    if not path.exists():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(_read_only_uri(path), uri=True, timeout=_BUSY_SECONDS)) as con:
            return read_changes(con)
    except sqlite3.Error:
        return 0


@contextmanager
def open_graph(config: GraphConfig, workspace: Workspace, create: bool = True) -> Iterator[GraphStore]:
    """Open the configured graph for the duration of a ``with`` block, then close it.

    ``create=False`` opens a checked, read-only reader (:class:`MissingArtifactError` when the
    embedded file does not exist, :class:`GraphError` when it is not a complete graph).
    """
    store = GraphStore(config, workspace, create=create)
    try:
        yield store
    finally:
        store.close()
