"""A replacement of the embedded graph: a new file built beside the live one, checked, and renamed
over it in one atomic step.

A reader sees the old graph or the new one and never a half-built one; a reader that had the old
file open keeps reading it (the inode lives while it is open), and
:meth:`~kgqa_cli.graph.store.GraphStore.refresh` moves a long-lived reader to the new file. A
build that fails or is killed leaves only its building file, which the next writer removes
(:func:`~kgqa_cli.graph.graph_file.writer_lock`).
"""

from __future__ import annotations

import contextlib
import sqlite3

from kgqa_cli.errors import FileSystemError, GraphError, describe_os_error
from kgqa_cli.graph.config import GraphConfig
from kgqa_cli.graph.graph_file import (
    CHANGES_KEY,
    building_path,
    durable_rename,
    graph_counts,
    graph_file,
    graph_problem,
    live_changes,
    remove_leftover,
    write_meta,
)
from kgqa_cli.graph.store import GraphStore
from kgqa_cli.workspace import Workspace

# Page size of a replacement built in one go (SQLite's default is 4 KiB).
BUILD_PAGE_SIZE = 16384


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
        self.building = building_path(self.target)
        self.store: GraphStore | None = None
        self.published = False

    def __enter__(self) -> GraphBuild:
        remove_leftover(self.building)
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
        write_meta(con, complete="1", **meta, **{CHANGES_KEY: str(live_changes(self.target) + 1)})
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
        durable_rename(self.building, self.target)
        self.published = True

    def __exit__(self, *exc_info: object) -> None:
        if self.store is not None:
            self.store.close()
        if not self.published:
            remove_leftover(self.building)
