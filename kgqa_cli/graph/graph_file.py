"""The embedded graph's file: where it lives, whether it is a complete kgqa graph, its metadata,
and the atomic ways it is created and written.

The embedded graph is one SQLite file, and three rules keep it trustworthy:

* **Readers never write.** A reader opens the file only after :func:`check_graph_file` found a
  complete kgqa graph there (:class:`~kgqa_cli.graph.store.GraphStore` opens it ``query_only``):
  ``kgqa ask`` or ``kgqa graph`` never create, initialise or repair a file.
* **A file appears whole or not at all.** A new file is built beside the live one under a
  ``.<name>.building-<pid>`` name and renamed over it (:func:`durable_rename`; a replacement is
  :class:`~kgqa_cli.graph.build.GraphBuild`): a reader sees the old graph or the new one and
  never a half-built one.
* **One writer at a time**, under an exclusive lock on ``.<name>.lock`` beside the graph
  (:func:`writer_lock`). A building file seen while holding that lock was left by a load that
  died; it is named in a warning and removed.

The metadata table also counts changes: its ``changes`` counter goes up with each load (a merge
in place, a replacement), so a long-lived reader that keeps caches of the graph's names (the
endpoint, `kgqa chat`) sees with one tiny query that they are stale.
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
BUSY_SECONDS = 30.0


def graph_file(config: GraphConfig, workspace: Workspace) -> Path:
    """Where the embedded graph lives: ``graph.path`` or ``<workspace>/graph/kgqa.db``."""
    return config.path if config.path is not None else workspace.graph_dir / GRAPH_FILE_NAME


def rebuild_hint(path: Path) -> str:
    """The command that rebuilds the embedded graph at ``path`` (the message names the path)."""
    return "rebuild it with `kgqa bulkload FILE --replace`"


def read_only_uri(path: Path) -> str:
    """The SQLite URI that opens ``path`` read-only."""
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
        con = sqlite3.connect(read_only_uri(path), uri=True, timeout=BUSY_SECONDS)
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
        con = sqlite3.connect(read_only_uri(path), uri=True)
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


def live_changes(path: Path) -> int:
    """The ``changes`` counter of the graph file at ``path`` (0 when there is none or it cannot
    be read: a replacement is about to take its place anyway)."""
    if not path.exists():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(read_only_uri(path), uri=True, timeout=BUSY_SECONDS)) as con:
            return read_changes(con)
    except sqlite3.Error:
        return 0


def create_empty_graph(path: Path) -> None:
    """Put an empty, complete kgqa graph at ``path`` in one atomic rename (for a first merge)."""
    from gremlite import SQLiteConnection

    building = building_path(path)
    remove_leftover(building)
    try:
        remote = SQLiteConnection(str(building))
        try:
            write_meta(remote.con, complete="1", created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            remote.con.commit()
        finally:
            remote.close()
        durable_rename(building, path)
    except BaseException:
        remove_leftover(building)
        raise


def prepare_for_merge(path: Path) -> None:
    """Make sure a merge has a complete graph to write into (a merge's writer opens it):
    a missing file is created, one left half-initialised with no element in it is recreated, any
    other damaged file is refused."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        create_empty_graph(path)
        return
    problem = graph_problem(path)
    if problem is None:
        return
    if not graph_holds_data(path):
        log.warning("%s %s and holds no element: recreating it", path, problem)
        create_empty_graph(path)
        return
    raise GraphError(f"{path}: {problem}; a merge would build on it", hint=rebuild_hint(path))


def building_path(path: Path) -> Path:
    """Where this process builds a new file for the graph at ``path``, beside it."""
    return path.with_name(f".{path.name}.building-{os.getpid()}")


def remove_leftover(path: Path) -> None:
    """Remove a building file and the journals SQLite may have left beside it."""
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def durable_rename(source: Path, target: Path) -> None:
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
            remove_leftover(leftover)
        yield
