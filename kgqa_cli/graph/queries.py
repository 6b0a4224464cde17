"""Read traversals the question-answering stage and ``kgqa graph`` use.

Every function takes a traversal source ``g`` from :func:`kgqa_cli.graph.store.open_graph`,
normalises names with :func:`normalize_name`, and passes user text only as a bound value of a
step (never pasted into query text), so the same calls run on gremlite and on any Gremlin server.
Only steps both engines support are used (no dedup, group_count, range or choose).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from kgqa_cli.graph.evidence import edge_defaults, loads_evidence, property_value
from kgqa_cli.graph.model import VERTEX_LABEL
from kgqa_cli.graph.normalize import normalize_name

if TYPE_CHECKING:
    from gremlin_python.process.graph_traversal import GraphTraversal, GraphTraversalSource

# Edge properties that describe where a fact came from rather than the fact itself (its
# sentences, ``evidence``, are kept: answers show them).
_PROVENANCE = ("uid", "source", "model_version", "evidence_ids")


def _by_name(g: GraphTraversalSource, name: str) -> GraphTraversal:
    # The property filter comes before the label filter: gremlite answers has(key, value) from an
    # index and then checks labels, but has(label, key, value) scans every vertex (~200x slower
    # at 10k vertices). Servers reorder filters themselves, so this costs them nothing.
    return g.V().has("name", normalize_name(name)).has_label(VERTEX_LABEL)


def objects_of(g: GraphTraversalSource, subject_name: str, predicate: str) -> GraphTraversal:
    """Traversal (not yet run) to the objects of ``subject -predicate-> ?``, as project rows."""
    from gremlin_python.process.graph_traversal import __

    return (
        _by_name(g, subject_name).out_e(predicate)
        .project("name", "edge").by(__.in_v().values("name")).by(__.value_map())
    )


def subjects_of(g: GraphTraversalSource, object_name: str, predicate: str) -> GraphTraversal:
    """Traversal (not yet run) to the subjects of ``? -predicate-> object``, as project rows."""
    from gremlin_python.process.graph_traversal import __

    return (
        _by_name(g, object_name).in_e(predicate)
        .project("name", "edge").by(__.out_v().values("name")).by(__.value_map())
    )


def run(traversal: GraphTraversal) -> list[dict[str, Any]]:
    """Run an :func:`objects_of`/:func:`subjects_of`/:func:`hop_from` traversal: ``[{"name",
    "score", slots..., "evidence", "evidence_count"}]`` (``from`` too for :func:`hop_from`), the
    evidence as a list of sentences (absent on an edge loaded without evidence).

    Rows come best score first, then by name, whatever order the engine returned them in.
    """
    rows: list[dict[str, Any]] = []
    for row in traversal.to_list():
        edge = {key: property_value(value) for key, value in row["edge"].items() if key not in _PROVENANCE}
        if "evidence" in edge:
            edge["evidence"] = loads_evidence(edge["evidence"], edge_defaults(row["edge"]))
            edge.setdefault("evidence_count", len(edge["evidence"]))  # kept apart only when it is more
        rows.append({key: value for key, value in row.items() if key != "edge"} | edge)
    rows.sort(key=lambda row: (-float(row.get("score", 0.0)), row["name"]))
    return rows


def describe(traversal: GraphTraversal) -> str:
    """A readable Gremlin string of a traversal, e.g. for ``kgqa ask`` to show its query."""
    from gremlin_python.process.translator import Translator

    text: str = Translator("g").translate(traversal.bytecode)
    return text


def entity_exists(g: GraphTraversalSource, name: str) -> bool:
    """Whether a vertex with this (normalised) name exists."""
    return bool(_by_name(g, name).limit(1).count().next())


def entity_profile(g: GraphTraversalSource, name: str) -> dict[str, list[str]] | None:
    """``{"types", "out", "in"}`` of the entity ``name``: its types and the labels of its outgoing
    and incoming edges (each label once); None when there is no such entity. One round trip."""
    from gremlin_python.process.graph_traversal import __

    rows = (
        _by_name(g, name).limit(1)
        .project("types", "out", "in")
        .by(__.values("types").fold()).by(__.out_e().label().fold()).by(__.in_e().label().fold())
        .to_list()
    )
    if not rows:
        return None
    row = rows[0]
    return {"types": sorted(set(row["types"])), "out": sorted(set(row["out"])), "in": sorted(set(row["in"]))}


def entity_names(g: GraphTraversalSource, limit: int | None = None) -> list[str]:
    """Names of entities, sorted (with ``limit``: the first ``limit`` the graph returns, sorted)."""
    traversal = g.V().has_label(VERTEX_LABEL)
    if limit is not None:
        traversal = traversal.limit(limit)
    return sorted(traversal.values("name").to_list())


def entity_aliases(g: GraphTraversalSource, predicates: list[str] | tuple[str, ...]) -> list[tuple[str, str]]:
    """``(entity, alias)`` of every edge labelled one of ``predicates`` (简称, 别名...): the
    object's name is another name of the subject. One traversal for all of them; sorted."""
    from gremlin_python.process.graph_traversal import __

    labels = [label for label in dict.fromkeys(predicates) if label]
    if not labels:
        return []
    rows = (
        g.E().has_label(*labels)
        .project("entity", "alias").by(__.out_v().values("name")).by(__.in_v().values("name"))
        .to_list()
    )
    return sorted({(row["entity"], row["alias"]) for row in rows})


def facts_about(g: GraphTraversalSource, name: str) -> list[dict[str, Any]]:
    """Every fact an entity takes part in, as subject or as object:
    ``[{"subject", "predicate", "object", "score"}]``, its own outgoing facts first."""
    from gremlin_python.process.graph_traversal import __

    entity = normalize_name(name)
    outgoing = (
        _by_name(g, entity).out_e()
        .project("predicate", "object", "score").by(__.label()).by(__.in_v().values("name")).by("score")
        .to_list()
    )
    incoming = (
        _by_name(g, entity).in_e()
        .project("subject", "predicate", "score").by(__.out_v().values("name")).by(__.label()).by("score")
        .to_list()
    )
    facts = sorted(({"subject": entity, **row} for row in outgoing), key=lambda f: (f["predicate"], f["object"]))
    facts += sorted(({**row, "object": entity} for row in incoming), key=lambda f: (f["predicate"], f["subject"]))
    return [{key: fact[key] for key in ("subject", "predicate", "object", "score")} for fact in facts]


def summary(g: GraphTraversalSource, samples: int = 5, about: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """What the graph holds: vertex and edge counts, counts per type and per predicate, a few
    sample facts, and every fact of each entity named in ``about``.

    Counts stream labels and types to this process (no group_count on gremlite), which is fine
    for graphs of a few million elements.
    """
    from gremlin_python.process.graph_traversal import __

    types = Counter(g.V().values("types").to_list())  # every vertex is an entity
    predicates = Counter(g.E().label().to_list())
    vertices = g.V().count().next()
    sample_rows = (
        g.E().limit(samples)
        .project("subject", "predicate", "object", "score")
        .by(__.out_v().values("name")).by(__.label()).by(__.in_v().values("name")).by("score")
        .to_list()
        if samples > 0 else []
    )
    return {
        "vertices": vertices,
        "edges": sum(predicates.values()),
        "types": dict(sorted(types.items(), key=lambda item: (-item[1], item[0]))),
        "predicates": dict(sorted(predicates.items(), key=lambda item: (-item[1], item[0]))),
        "samples": sample_rows,
        "about": {normalize_name(name): facts_about(g, name) for name in about},
    }


def hop_from(g: GraphTraversalSource, names: list[str], predicate: str, direction: str) -> GraphTraversal:
    """Traversal (not yet run) of one hop of a query graph: from the entities ``names`` along
    ``predicate`` (forward: they are its subjects; reverse: its objects), as project rows
    ``{"from", "name", "edge"}``. A hop from several names is one traversal (``within``)."""
    from gremlin_python.process.graph_traversal import __
    from gremlin_python.process.traversal import P

    normalized = sorted({normalize_name(name) for name in names})
    start = (g.V().has("name", normalized[0]) if len(normalized) == 1
             else g.V().has("name", P.within(normalized))).has_label(VERTEX_LABEL)
    if direction == "reverse":
        return start.in_e(predicate).project("from", "name", "edge").by(__.in_v().values("name")).by(
            __.out_v().values("name")).by(__.value_map())
    return start.out_e(predicate).project("from", "name", "edge").by(__.out_v().values("name")).by(
        __.in_v().values("name")).by(__.value_map())
