"""The graph layer: an entity graph reached only through gremlinpython traversals.

By default the graph is an embedded SQLite file (gremlite); a ``ws://``/``wss://`` URL in the
config points it at any TinkerPop server instead (Neptune, JanusGraph, Gremlin Server). Callers
get a :class:`~kgqa_cli.graph.store.GraphStore` from :func:`open_graph` and never learn which of
the two they talk to. Heavy imports (gremlin_python, gremlite) happen inside these modules, which
the CLI imports only inside command functions.
"""

from __future__ import annotations

from kgqa_cli.graph.config import GraphConfig

__all__ = ["GraphConfig"]
