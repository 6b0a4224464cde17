"""Opening the configured graph: an embedded gremlite file or a Gremlin server, same API.

Everything above this module works with ``store.g`` (a gremlinpython traversal source) and
``store.commit()``; only this module knows which engine is behind them. What keeps the embedded
file trustworthy (checked before reading, created and replaced atomically, one writer at a time)
lives in :mod:`kgqa_cli.graph.graph_file` and :mod:`kgqa_cli.graph.build`.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from kgqa_cli.errors import FileSystemError, GraphError, MissingArtifactError, describe_os_error
from kgqa_cli.graph.config import GraphConfig
from kgqa_cli.graph.graph_file import (
    BUSY_SECONDS,
    check_graph_file,
    count_change,
    graph_file,
    prepare_for_merge,
    read_changes,
    rebuild_hint,
)
from kgqa_cli.workspace import Workspace

if TYPE_CHECKING:
    from gremlin_python.driver.driver_remote_connection import DriverRemoteConnection
    from gremlin_python.process.graph_traversal import GraphTraversalSource
    from gremlite import SQLiteConnection

log = logging.getLogger(__name__)


class GraphStore:
    """An open graph: ``g`` to traverse it, :meth:`commit` to make writes durable.

    ``create=False`` opens a reader: the file must be a complete kgqa graph and is never written.
    ``create=True`` opens the writer of a merge: a missing file is created (atomically), a file
    left half-initialised by an interrupted load with no element in it is recreated, and any other
    damaged file is refused. ``path`` overrides the configured file (the build of a replacement).
    """

    g: GraphTraversalSource

    def __init__(
        self, config: GraphConfig, workspace: Workspace, create: bool = True, *, path: Path | None = None,
        _fresh: bool = False,
    ) -> None:
        self.config = config
        self._path = None if config.url else Path(path) if path is not None else graph_file(config, workspace)
        self.location = config.url or str(self._path)
        self.read_only = not create
        self._remote: SQLiteConnection | DriverRemoteConnection | None = None
        self._identity: tuple[int, int] | None = None
        if self._path is not None and not _fresh:
            if create:
                prepare_for_merge(self._path)
            else:
                check_graph_file(self._path)
        self._connect()

    def _connect(self) -> None:
        from gremlin_python.process.anonymous_traversal import traversal

        if self._path is not None:
            self._remote = self._open_file(self._path)
            self.g = traversal().with_remote(self._remote)
        else:
            self._remote = self._open_server(self.location)
            self.g = traversal().with_remote(self._remote)
            self._probe_server()

    def _open_file(self, path: Path) -> SQLiteConnection:
        from gremlite import SQLiteConnection

        try:
            # The file's identity is taken before and after connecting: when a replacement lands
            # in between, we cannot tell which file the connection holds, so connect again.
            for _ in range(5):
                before = _file_identity(path)
                remote = SQLiteConnection(str(path), timeout=BUSY_SECONDS)
                if _file_identity(path) == before:
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
            raise GraphError(f"{path}: cannot open the graph: {reason}", hint=rebuild_hint(path)) from exc

    def _open_server(self, url: str) -> DriverRemoteConnection:
        from gremlin_python.driver.driver_remote_connection import DriverRemoteConnection

        headers = None
        if self.config.sigv4:
            from kgqa_cli.graph.sigv4 import gremlin_headers  # the AWS path only

            headers = gremlin_headers(url)
        try:
            return DriverRemoteConnection(url, self.config.traversal_source, headers=headers)
        except Exception as exc:  # socket, TLS and driver errors alike
            raise GraphError(f"{url}: cannot reach the graph server: {exc or exc.__class__.__name__}") from exc

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
    def sqlite_connection(self) -> sqlite3.Connection:
        """The embedded graph's own ``sqlite3`` connection (the direct bulk writer's way in).

        It is the connection the traversals use, so direct writes and traversal reads share one
        transaction and :meth:`commit`/:meth:`rollback` cover both.
        """
        if self._path is None:
            raise GraphError(f"{self.location}: a Gremlin server has no SQLite connection")
        con: sqlite3.Connection = self._open_remote().con
        return con

    def _open_remote(self) -> SQLiteConnection | DriverRemoteConnection:
        """The connection, which a closed store no longer has."""
        if self._remote is None:
            raise GraphError(f"{self.location}: the graph was closed")
        return self._remote

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
            identity = _file_identity(self._path)
        except OSError:
            return False  # unreadable for a moment: keep the graph we have
        # An inode number is reused only once no one holds the file open, and we hold ours.
        return identity is not None and identity != self._identity

    def refresh(self) -> bool:
        """Move a reader to the current file when it was replaced; returns True when it did.

        The new file is checked before the old connection is dropped, so a reader always has a
        complete graph; ``g`` is a new traversal source afterwards.
        """
        if self._path is None or not self.replaced():
            return False
        try:
            check_graph_file(self._path)
            old = self._remote
            self._connect()
        except (GraphError, MissingArtifactError, FileSystemError) as exc:
            log.warning("%s changed but cannot be opened (%s); still reading the graph opened before", self._path, exc)
            return False
        if old is not None:
            old.close()
        log.info("%s was replaced: reading the new graph", self._path)
        return True

    def commit(self) -> None:
        """End the current transaction. On a server each submitted traversal is its own
        transaction (sessionless requests), so there is nothing left to commit."""
        if self._path is not None:
            self._open_remote().commit()

    def rollback(self) -> None:
        """Drop uncommitted writes of the embedded graph (servers roll back per request)."""
        if self._path is not None and self._remote is not None:
            self._remote.rollback()

    def clear(self) -> None:
        """Remove every vertex and edge of a server graph (an embedded replacement is built in a
        new file instead, see :class:`~kgqa_cli.graph.build.GraphBuild`)."""
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


def _file_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file at ``path``, None when there is none."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


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
