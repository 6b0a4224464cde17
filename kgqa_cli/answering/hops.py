"""Running a composition: each hop of its query graph one traversal from the names the hop before
it reached, and the answer filled from where the hops led (answers, count, evidence, the queries)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kgqa_cli.answering.candidates import candidate_json
from kgqa_cli.answering.reasons import NO_RELATION, PARTIAL

if TYPE_CHECKING:
    from kgqa_cli.answering.answer import Answer, EvidenceJson, FactJson, HopJson
    from kgqa_cli.answering.compose import Composer, Composition
    from kgqa_cli.answering.interpret import Reading
    from kgqa_cli.answering.relation_words import RelationGroup


@dataclass
class Hop:
    """One step of a query graph: from some names along an edge, and where it led."""

    sources: list[str]
    predicate: str
    direction: str  # forward: the sources are subjects; reverse: objects
    word: str | None
    targets: list[str] = field(default_factory=list)
    query: str = ""
    # target -> the edge's properties (best score), "from": a row of the graph's query
    edges: dict[str, dict[str, Any]] = field(default_factory=dict)
    truncated: bool = False  # it started from the first max_fanout names only

    def to_json(self) -> HopJson:
        """The hop as the answer's ``hops`` show it."""
        return {"from": self.sources, "predicate": self.predicate, "direction": self.direction,
                "word": self.word, "to": self.targets, "truncated": self.truncated}


def run_hop(composer: Composer, sources: list[str], predicate: str, direction: str, word: str | None) -> Hop:
    """One traversal from ``sources`` along ``predicate``; targets best score first."""
    from kgqa_cli.graph import queries

    fanout = composer.max_fanout
    hop = Hop(sources[:fanout], predicate, direction, word, truncated=len(sources) > fanout)
    traversal = queries.hop_from(composer.interpreter.g, hop.sources, predicate, direction)
    hop.query = queries.describe(traversal)
    for row in queries.run(traversal):
        name = row.pop("name")  # row keeps "from": where the edge starts, for the evidence
        if name not in hop.edges:
            hop.targets.append(name)
            hop.edges[name] = row
    return hop


def next_route(composer: Composer, sources: list[str], group: RelationGroup) -> tuple[str, str] | None:
    """The route of a hop from ``sources``: the first of the group's routes that one of them has."""
    for name in sources[: composer.max_fanout]:
        route = composer.edge_route(name, group.predicates)
        if route is not None:
            return route
    return None


def run_composition(composer: Composer, composition: Composition, result: Answer, max_answers: int) -> None:
    """Fill ``result`` by running the query graph: its hops, the query of each, the answers or
    the reason there are none."""
    best = composition.reading
    result.shape = composition.shape
    result.entity = candidate_json(composition.entities[0] if composition.entities else best.entity)
    if best.intent:
        result.intent, result.confidence = best.intent, round(best.intent_probability, 4)
    if composition.unexplained:
        result.reason = PARTIAL
        result.unexplained = composition.unexplained
        result.detail = ("the reading " f"{best.entity.name} -{best.predicate}- ({best.direction}) leaves "
                         + "、".join(repr(word) for word in composition.unexplained) + " unexplained")
        return
    if composition.shape == "intersection":
        hops = _run_intersection(composer, composition)
        targets = [t for t in hops[0].targets if all(t in hop.edges for hop in hops[1:])]
        if not targets:
            result.reason = NO_RELATION
            result.detail = "nothing in the graph is " + " and ".join(
                f"{hop.predicate} ({hop.direction}) of {hop.sources[0]}" for hop in hops)
    else:
        hops = _run_chain(composer, composition, best, result)
        targets = hops[-1].targets if result.reason is None else []
    result.predicate, result.direction = hops[0].predicate, hops[0].direction
    result.hops = [hop.to_json() for hop in hops]
    result.query = "\n".join(hop.query for hop in hops if hop.query)
    if result.reason is not None:
        return
    if any(hop.truncated for hop in hops):
        result.detail = f"a hop started from the first {composer.max_fanout} names it reached only"
    if composition.count:
        # Distinct answers, not edges: the graph may hold one fact more than once.
        result.count = len(targets)
        result.answers = [str(result.count)]
        result.evidence = answer_evidence(hops, targets[:max_answers], composition.shape)
        return
    result.answers = targets[:max_answers]
    result.evidence = answer_evidence(hops, result.answers, composition.shape)


def _fact(hop: Hop, target: str, edge: dict[str, Any]) -> FactJson:
    """The fact of ``edge``, which ``hop`` took to ``target``."""
    subject, obj = (edge.get("from"), target) if hop.direction == "forward" else (target, edge.get("from"))
    return {"subject": subject, "predicate": hop.predicate, "object": obj, "score": edge.get("score"),
            "evidence_count": edge.get("evidence_count", 0),  # queries.run fills it in
            "sentences": edge.get("evidence", [])}


def answer_evidence(hops: list[Hop], targets: list[str], shape: str) -> list[EvidenceJson]:
    """Why each answer holds: per target ``{"answer", "facts"}``, the facts that lead to it (the
    chain's edges from the question's entity, or each constraint's edge of an intersection), each
    ``{"subject", "predicate", "object", "score", "evidence_count", "sentences"}`` with the
    sentences the graph keeps for it, best first (none on a graph loaded without evidence)."""
    evidence: list[EvidenceJson] = []
    for target in targets:
        facts: list[FactJson] = []
        if shape == "intersection":
            facts = [_fact(hop, target, hop.edges[target]) for hop in hops if target in hop.edges]
        else:
            name: str | None = target
            for hop in reversed(hops):  # back along the chain to the question's entity
                if name is None or (edge := hop.edges.get(name)) is None:
                    break
                facts.insert(0, _fact(hop, name, edge))
                name = edge.get("from")
        evidence.append({"answer": target, "facts": facts})
    return evidence


def _run_chain(composer: Composer, composition: Composition, best: Reading, result: Answer) -> list[Hop]:
    """The reading's hop, then each further hop from where the one before it led."""
    groups = composition.groups[0]
    hop = run_hop(composer, [best.entity.name], best.predicate, best.direction, _word(groups[0]))
    hops = [hop]
    if not hop.targets:  # the edge was there when the profile was read: the graph changed since
        result.reason = NO_RELATION
        result.detail = f"{best.entity.name} has no {best.predicate} ({best.direction}) in the graph"
        return hops
    for group in groups[1:]:
        route = next_route(composer, hop.targets, group)
        if route is None:
            # The graph holds no such fact for what the hop before reached: say so, and never
            # give that hop's answers as if they were the answer.
            wanted = "/".join(sorted(group.predicates))
            hops.append(Hop(hop.targets, wanted, "forward", _word(group)))
            result.reason = NO_RELATION
            result.detail = (f"the graph holds no {wanted} of the {hop.predicate} of {best.entity.name} "
                             f"({len(hop.targets)} reached)")
            return hops
        hop = run_hop(composer, hop.targets, route[0], route[1], _word(group))
        hops.append(hop)
    return hops


def _run_intersection(composer: Composer, composition: Composition) -> list[Hop]:
    """One hop from each constraining entity, toward the answer."""
    hops = []
    for entity, groups in zip(composition.entities, composition.groups, strict=True):
        group = groups[0]
        route = composer.edge_route(entity.name, group.predicates, toward=True)
        assert route is not None  # checked when the constraints were paired
        hops.append(run_hop(composer, [entity.name], route[0], route[1], _word(group)))
    return hops


def _word(group: RelationGroup) -> str | None:
    """The words of a hop's group, as its ``word``."""
    return "".join(group.words) or None
