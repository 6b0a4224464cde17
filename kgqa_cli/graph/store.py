"""Opening the configured graph: an embedded gremlite file or a Gremlin server, same API.

Everything above this module works with ``store.g`` (a gremlinpython traversal source) and
``store.commit()``; only this module knows which engine is behind them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kgqa_cli.errors import GraphError, MissingArtifactError
from kgqa_cli.graph.config import GraphConfig
from kgqa_cli.workspace import Workspace

log = logging.getLogger(__name__)

GRAPH_FILE_NAME = "kgqa.db"


def graph_file(config: GraphConfig, workspace: Workspace) -> Path:
    """Where the embedded graph lives: ``graph.path`` or ``<workspace>/graph/kgqa.db``."""
    return config.path if config.path is not None else workspace.graph_dir / GRAPH_FILE_NAME


class GraphStore:
    """An open graph: ``g`` to traverse it, :meth:`commit` to make writes durable."""

    def __init__(self, config: GraphConfig, workspace: Workspace, create: bool = True) -> None:
        self.config = config
        self.location = config.url or str(graph_file(config, workspace))
        self._path = None if config.url else graph_file(config, workspace)
        self._remote: Any = None
        if self._path is not None and not create and not self._path.exists():
            raise MissingArtifactError(
                f"{self._path}: no graph here yet", hint="run `kgqa bulkload` first, or set graph.url"
            )
        self._connect()

    def _connect(self) -> None:
        from gremlin_python.process.anonymous_traversal import traversal

        try:
            if self._path is not None:
                from gremlite import SQLiteConnection

                self._path.parent.mkdir(parents=True, exist_ok=True)
                self._remote = SQLiteConnection(str(self._path))
            else:
                from gremlin_python.driver.driver_remote_connection import DriverRemoteConnection

                self._remote = DriverRemoteConnection(self.config.url, self.config.traversal_source)
        except Exception as exc:  # sqlite3, socket and driver errors alike
            raise GraphError(f"{self.location}: cannot open the graph: {exc}") from exc
        self.g = traversal().with_remote(self._remote)

    @property
    def embedded(self) -> bool:
        """True for the embedded file (only the loader's clear() and logs care)."""
        return self._path is not None

    @property
    def sqlite_connection(self) -> Any:
        """The embedded graph's own ``sqlite3`` connection (the direct bulk writer's way in).

        It is the connection the traversals use, so direct writes and traversal reads share one
        transaction and :meth:`commit`/:meth:`rollback` cover both.
        """
        if self._path is None:
            raise GraphError(f"{self.location}: a Gremlin server has no SQLite connection")
        return self._remote.con

    def commit(self) -> None:
        """End the current transaction. On a server each submitted traversal is its own
        transaction (sessionless requests), so there is nothing left to commit."""
        if self._path is not None:
            self._remote.commit()

    def rollback(self) -> None:
        """Drop uncommitted writes of the embedded graph (servers roll back per request)."""
        if self._path is not None:
            self._remote.rollback()

    def clear(self) -> None:
        """Remove every vertex and edge."""
        if self._path is not None:
            # Dropping element by element through a traversal costs as much as loading; the
            # embedded graph is one file that we own, so starting a fresh file is the same result.
            self.close()
            for suffix in ("", "-journal", "-wal", "-shm"):
                Path(str(self._path) + suffix).unlink(missing_ok=True)
            self._connect()
            return
        while self.g.V().limit(1).count().next():
            self.g.V().limit(10000).drop().iterate()

    def close(self) -> None:
        """Close the connection (uncommitted embedded writes are rolled back)."""
        if self._remote is not None:
            try:
                self._remote.close()
            finally:
                self._remote = None


@contextmanager
def open_graph(config: GraphConfig, workspace: Workspace, create: bool = True) -> Iterator[GraphStore]:
    """Open the configured graph for the duration of a ``with`` block, then close it.

    ``create=False`` raises :class:`MissingArtifactError` when the embedded file does not exist
    yet (readers use it; the loader creates the file).
    """
    store = GraphStore(config, workspace, create=create)
    try:
        yield store
    finally:
        store.close()
