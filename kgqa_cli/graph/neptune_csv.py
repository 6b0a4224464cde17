"""Neptune bulk-load files in the Gremlin load format (a contract: Neptune's loader reads them).

Two files, UTF-8, RFC 4180 (CRLF line ends; a field holding a comma, a quote or a line break is
quoted and its quotes doubled):

* ``vertices.csv``: ``~id,~label,name:String(single),uid:String(single),types:String[]``.
  ``types`` is an array column: on a vertex the loader gives array values set cardinality, the
  same as the embedded graph's ``types`` set property. Array values are ``;``-separated, so a ``;``
  inside a type is escaped as ``\\;``.
* ``edges.csv``: ``~id,~from,~to,~label,uid:String,score:Double,source:String,model_version:String``
  and one ``<slot>:String`` column per slot name present. Edge properties are single-valued in
  Neptune, so they carry no cardinality; an empty cell means the edge lacks that slot.

``~id`` equals the ``uid`` property, so a graph loaded by Neptune and one loaded through
traversals answer the same ``has('uid', ...)`` lookups. Rows are sorted by id: the same input
gives byte-identical files.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from kgqa_cli.graph.model import VERTEX_LABEL, GraphData
from kgqa_cli.io import write_text_atomic

VERTEX_HEADER = ["~id", "~label", "name:String(single)", "uid:String(single)", "types:String[]"]
EDGE_HEADER = ["~id", "~from", "~to", "~label", "uid:String", "score:Double", "source:String", "model_version:String"]


def _writer(buffer: io.StringIO) -> csv.writer:
    # RFC 4180: CRLF between records, quotes only where needed, embedded quotes doubled.
    return csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n", doublequote=True)


def _array_cell(values: set[str]) -> str:
    return ";".join(value.replace(";", "\\;") for value in sorted(values))


def vertices_csv(data: GraphData) -> str:
    """The vertices file as text."""
    buffer = io.StringIO()
    writer = _writer(buffer)
    writer.writerow(VERTEX_HEADER)
    for vertex in data.sorted_vertices():
        writer.writerow([vertex.uid, VERTEX_LABEL, vertex.name, vertex.uid, _array_cell(vertex.types)])
    return buffer.getvalue()


def edges_csv(data: GraphData) -> str:
    """The edges file as text; one extra ``:String`` column per slot name in the data."""
    slots = data.slot_names()
    buffer = io.StringIO()
    writer = _writer(buffer)
    writer.writerow(EDGE_HEADER + [f"{slot}:String" for slot in slots])
    for edge in data.sorted_edges():
        writer.writerow([
            edge.uid, edge.source_uid, edge.target_uid, edge.predicate, edge.uid,
            repr(edge.score), edge.source, edge.model_version,
            *(edge.slots.get(slot, "") for slot in slots),
        ])
    return buffer.getvalue()


def write_neptune_csv(data: GraphData, folder: Path) -> dict[str, Path]:
    """Write ``vertices.csv`` and ``edges.csv`` under ``folder`` atomically; returns their paths."""
    paths = {"vertices": folder / "vertices.csv", "edges": folder / "edges.csv"}
    write_text_atomic(paths["vertices"], vertices_csv(data))
    write_text_atomic(paths["edges"], edges_csv(data))
    return paths
