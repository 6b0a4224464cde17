"""Neptune bulk-load files in the Gremlin load format (a contract: Neptune's loader reads them).

Two files, UTF-8, RFC 4180 (CRLF line ends; a field holding a comma, a quote or a line break is
quoted and its quotes doubled):

* ``vertices.csv``: ``~id,~label,name:String(single),uid:String(single),types:String[]``.
  ``types`` is an array column: on a vertex the loader gives array values set cardinality, the
  same as the embedded graph's ``types`` set property. Array values are ``;``-separated, so a ``;``
  inside a type is escaped as ``\\;``.
* ``edges.csv``: ``~id,~from,~to,~label,uid:String,score:Double,source:String,model_version:String``
  and one ``<slot>:String`` column per slot name present. Edge properties are single-valued in
  Neptune, so they carry no cardinality; an empty cell means the edge lacks that slot. Where the
  edges keep evidence, ``evidence:String,evidence_count:Int,evidence_ids:String`` come before the
  slots: the evidence is a JSON list in one string cell (quoted as any other cell); the count and
  ids are empty on an edge that keeps every sentence stating it in full.

``~id`` equals the ``uid`` property, so a graph loaded by Neptune and one loaded through
traversals answer the same ``has('uid', ...)`` lookups. Rows are sorted by id: the same input
gives byte-identical files.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING

from kgqa_cli.graph.evidence import EdgeDefaults, evidence_ids_of, loads_evidence
from kgqa_cli.graph.model import VERTEX_LABEL, EdgeRecord, GraphData, VertexRecord
from kgqa_cli.io import write_text_atomic

if TYPE_CHECKING:
    from _csv import Writer

VERTEX_HEADER = ["~id", "~label", "name:String(single)", "uid:String(single)", "types:String[]"]
EDGE_HEADER = ["~id", "~from", "~to", "~label", "uid:String", "score:Double", "source:String", "model_version:String"]
EVIDENCE_HEADER = ["evidence:String", "evidence_count:Int", "evidence_ids:String"]


def _writer(buffer: io.StringIO) -> Writer:
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
    with_evidence = any(edge.evidence_ids for edge in data.edges.values())
    buffer = io.StringIO()
    writer = _writer(buffer)
    writer.writerow(EDGE_HEADER + (EVIDENCE_HEADER if with_evidence else []) + [f"{slot}:String" for slot in slots])
    for edge in data.sorted_edges():
        props = edge.evidence_properties()
        evidence = [str(props.get(key, "")) for key in ("evidence", "evidence_count", "evidence_ids")
                    ] if with_evidence else []
        writer.writerow([
            edge.uid, edge.source_uid, edge.target_uid, edge.predicate, edge.uid,
            repr(edge.score), edge.source, edge.model_version, *evidence,
            *(edge.slots.get(slot, "") for slot in slots),
        ])
    return buffer.getvalue()


def write_neptune_csv(data: GraphData, folder: Path) -> dict[str, Path]:
    """Write ``vertices.csv`` and ``edges.csv`` under ``folder`` atomically; returns their paths."""
    paths = {"vertices": folder / "vertices.csv", "edges": folder / "edges.csv"}
    write_text_atomic(paths["vertices"], vertices_csv(data))
    write_text_atomic(paths["edges"], edges_csv(data))
    return paths


class CsvRowError(ValueError):
    """A row of a Neptune CSV file that cannot be read; ``line`` is its 1-based line number."""

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(f"{file}:{line}: {message}")
        self.file, self.line = file, line


def _split_array(cell: str) -> set[str]:
    values, current, escaped = [], "", False
    for char in cell:
        if escaped:
            current += char
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ";":
            values.append(current)
            current = ""
        else:
            current += char
    values.append(current)
    return {value for value in values if value}


def read_vertices_csv(text: str, file: str = "vertices.csv") -> list[VertexRecord]:
    """Vertices of a file in the format :func:`vertices_csv` writes (its inverse)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header != VERTEX_HEADER:
        raise CsvRowError(file, 1, f"the header is {header}, not {VERTEX_HEADER}")
    vertices = []
    for number, row in enumerate(reader, start=2):
        if len(row) != len(VERTEX_HEADER) or not row[0] or row[1] != VERTEX_LABEL:
            raise CsvRowError(file, number, f"expected {len(VERTEX_HEADER)} fields with an id and the label "
                              f"{VERTEX_LABEL}, got {row}")
        vertices.append(VertexRecord(uid=row[3], name=row[2], types=_split_array(row[4])))
    return vertices


def read_edges_csv(text: str, file: str = "edges.csv") -> list[EdgeRecord]:
    """Edges of a file in the format :func:`edges_csv` writes (its inverse)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None) or []
    fixed = len(EDGE_HEADER)
    with_evidence = header[fixed:fixed + len(EVIDENCE_HEADER)] == EVIDENCE_HEADER
    first_slot = fixed + (len(EVIDENCE_HEADER) if with_evidence else 0)
    if header[:fixed] != EDGE_HEADER or not all(h.endswith(":String") for h in header[first_slot:]):
        raise CsvRowError(file, 1, f"the header {header} does not start with {EDGE_HEADER}")
    slots = [h.rsplit(":", 1)[0] for h in header[first_slot:]]
    edges = []
    for number, row in enumerate(reader, start=2):
        if len(row) != len(header) or not all(row[:4]):
            raise CsvRowError(file, number, f"expected {len(header)} fields with id, from, to and label, got {row}")
        try:
            score = float(row[5])
        except ValueError:
            raise CsvRowError(file, number, f"score {row[5]!r} is not a Double") from None
        defaults: EdgeDefaults = {"score": score, "model_version": row[7], "source": row[6]}
        evidence = loads_evidence(row[fixed], defaults) if with_evidence else []
        ids = evidence_ids_of(row[fixed + 2], evidence) if with_evidence else []
        edges.append(EdgeRecord(uid=row[4], source_uid=row[1], target_uid=row[2], predicate=row[3], score=score,
                                source=row[6], model_version=row[7],
                                slots={slot: value for slot, value in zip(slots, row[first_slot:], strict=True)
                                       if value},
                                evidence=evidence, evidence_ids=ids))
    return edges
