"""Graph-aware interpretation: the (entity, predicate) pair of a question, chosen jointly.

The question model gives an intent distribution and tagged spans; the graph says which entities
the question names (:mod:`kgqa_cli.answering.candidates`) and which edges each of them has. Every
pair of a candidate entity and an edge it really has is a *reading*, scored by

    intent_weight  x  the probability the model gives the intents whose route is that edge
  + entity_weight  x  how the entity was found (linked slot, dictionary scan, conversation)
  + keyword_weight x  whether a word of the predicate's lexicon occurs outside the entity

and the best reading is answered. A reading needs an edge in the graph, so a confident wrong
intent among close ones (面积/占地面积, 作者/作词) loses to the one the entity actually has, and
a question phrased in words the model never saw is still read from its keywords.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from kgqa_cli.answering.answer import ReadingJson
from kgqa_cli.answering.candidates import EntityCandidate, EntityFinder
from kgqa_cli.answering.phrases import PhraseIndex, normalize_question
from kgqa_cli.answering.profiles import GraphProfiles, Profile
from kgqa_cli.graph.normalize import normalize_name
from kgqa_cli.understanding.templates import NONE_INTENT

if TYPE_CHECKING:
    from gremlin_python.process.graph_traversal import GraphTraversalSource

    from kgqa_cli.answering.config import AskConfig
    from kgqa_cli.answering.conversation import Conversation
    from kgqa_cli.answering.linking import EntityLinker

# intent -> its graph routes, main route first: [{"predicate", "direction"}] (the model's JSON).
Routes = Mapping[str, Sequence[Mapping[str, Any]]]


class Understanding(Protocol):
    """What the question model (or an endpoint that ran it) says about a question."""

    @property
    def intent(self) -> str: ...
    @property
    def confidence(self) -> float: ...
    @property
    def slots(self) -> dict[str, list[str]]: ...
    @property
    def ranked(self) -> list[tuple[str, float]]: ...
    @property
    def tags(self) -> list[str] | None: ...


@dataclass
class Reading:
    """One interpretation: an entity, an edge it has, and the evidence for it."""

    entity: EntityCandidate
    predicate: str
    direction: str  # forward: the entity is the subject; reverse: the object
    intent: str | None
    intent_probability: float
    keyword: str | None
    score: float

    def to_json(self) -> ReadingJson:
        """The fields `kgqa ask -v` and ``--json`` show."""
        return {"entity": self.entity.name, "method": self.entity.method, "entity_score": round(self.entity.score, 4),
                "predicate": self.predicate, "direction": self.direction, "intent": self.intent,
                "intent_probability": round(self.intent_probability, 4), "keyword": self.keyword,
                "score": round(self.score, 4)}


class Interpreter:
    """Chooses the reading of a question; one per graph connection (caches belong to the graph)."""

    def __init__(self, g: GraphTraversalSource, config: AskConfig, linker: EntityLinker, routes: Routes,
                 lexicon: dict[str, list[str]]) -> None:
        self.config = config
        self.graph = GraphProfiles(g, config, linker)
        self.finder = EntityFinder(self.graph, config)
        # predicate -> its keywords (the predicate itself first); one automaton over all of them.
        words: dict[str, set[str]] = {}
        for predicate, synonyms in lexicon.items():
            for word in (predicate, *synonyms):
                words.setdefault(normalize_name(word), set()).add(predicate)
        self._keywords = PhraseIndex(words)
        self.set_routes(routes)

    @property
    def g(self) -> GraphTraversalSource:
        """The graph read."""
        return self.graph.g

    def follow_graph(self, g: GraphTraversalSource, linker: EntityLinker) -> None:
        """Read another graph from now on: its name dictionary and entity profiles are rebuilt
        on demand (a `bulkload --replace` swapped it in)."""
        self.graph.follow_graph(g, linker)

    def set_routes(self, routes: Routes) -> None:
        """The graph routes of the model's intents (intent -> [{"predicate", "direction"}])."""
        self.routes = routes
        # (predicate, direction) -> [(intent, route position)], the routes the model's intents take.
        self._by_route: dict[tuple[str, str], list[tuple[str, int]]] = {}
        for intent, intent_routes in routes.items():
            for position, route in enumerate(intent_routes):
                self._by_route.setdefault((route["predicate"], route["direction"]), []).append((intent, position))

    def warm(self) -> None:
        """Build the name dictionary now (a server does this before it says it is ready)."""
        self.graph.name_index()

    def profile(self, name: str) -> Profile | None:
        """Types and edge labels of the entity ``name`` (None when there is no such entity)."""
        return self.graph.profile(name)

    def kind_of(self, profile: Profile | None) -> set[str]:
        """The reference kinds (person, work, place, organisation) of an entity's types."""
        return self.graph.kind_of(profile)

    def entity_candidates(self, question: str, tags: list[str], slots: dict[str, list[str]],
                          conversation: Conversation | None) -> tuple[list[EntityCandidate], list[str]]:
        """Every candidate entity with its score, best first, and notes on what was tried
        (:meth:`~kgqa_cli.answering.candidates.EntityFinder.find`)."""
        return self.finder.find(question, tags, slots, conversation)

    def keyword_hits(self, norm: str) -> list[tuple[int, int, str, set[str]]]:
        """(start, end, word, predicates) of every lexicon word in a normalised question."""
        return self._keywords.find(norm)

    def readings(self, question: str, prediction: Understanding, candidates: list[EntityCandidate]) -> list[Reading]:
        """The (entity, edge) pairs the graph allows, scored, best first. Entities are read best
        first, and the rest are left out once none of them could beat the best reading."""
        weights = self.config.interpretation
        norm, _ = normalize_question(question)
        probability = dict(prediction.ranked)
        keyword_hits = self._keywords.find(norm)
        top_p = max(probability.values(), default=0.0)
        found: list[Reading] = []
        best = float("-inf")
        for candidate in candidates:  # best entity first
            if best > weights.intent_weight * top_p + weights.entity_weight * candidate.score + weights.keyword_weight:
                break  # no reading of this entity, or of any after it, can beat the best one
            profile = self.profile(candidate.name)
            if profile is None:
                continue
            for reading in self._readings_of(candidate, profile, probability, keyword_hits):
                found.append(reading)
                best = max(best, reading.score)
        found.sort(key=lambda r: (-r.score, -r.entity.score, r.predicate, r.direction))
        return found

    def _readings_of(self, candidate: EntityCandidate, profile: Profile, probability: dict[str, float],
                     keyword_hits: list[tuple[int, int, str, set[str]]]) -> list[Reading]:
        """The readings of one entity: each edge it has, scored."""
        weights = self.config.interpretation
        span = candidate.span or (0, 0)
        keywords: dict[str, str] = {}
        for start, end, word, predicates in keyword_hits:
            if start < span[1] and span[0] < end:
                continue  # a keyword inside the entity's own name says nothing
            for predicate in predicates:
                if len(word) > len(keywords.get(predicate, "")):
                    keywords[predicate] = word
        edges = [(p, "forward") for p in sorted(profile.out_labels)] + [(p, "reverse") for p in sorted(profile.in_labels)]
        found: list[Reading] = []
        for predicate, direction in edges:
            intent, p = self._route_evidence(probability, predicate, direction)
            keyword = keywords.get(predicate)
            score = (weights.intent_weight * p + weights.entity_weight * candidate.score
                     + (weights.keyword_weight * min(1.0, 0.7 + 0.1 * len(keyword)) if keyword else 0.0))
            if direction == "reverse" and p < weights.min_route_probability and not keyword:
                continue  # a reverse edge nobody asked about (every film has in-edges)
            found.append(Reading(candidate, predicate, direction, intent, p, keyword, score))
        return found

    def _route_evidence(self, probability: dict[str, float], predicate: str, direction: str) -> tuple[str | None, float]:
        """The intent that asks for this edge (its main route; else the one that gave the most
        evidence), and the model's probability for reading it: the
        intents with this route (a fallback route counts ``fallback_factor`` per place), and
        ``opposite_factor`` of those with the route the other way round (谁的作品 and 的作品有哪些
        differ only in direction, which the graph settles)."""
        weights = self.config.interpretation
        opposite = "reverse" if direction == "forward" else "forward"
        best_p, best_intent = 0.0, None
        for (pred, way), factor in (((predicate, direction), 1.0), ((predicate, opposite), weights.opposite_factor)):
            for name, position in self._by_route.get((pred, way), ()):
                value = probability.get(name, 0.0) * factor * (weights.fallback_factor ** position)
                if value > best_p:
                    best_p, best_intent = value, name if way == direction else None
        asking = next((name for name, position in self._by_route.get((predicate, direction), ()) if position == 0), None)
        return asking or best_intent, best_p

    def out_of_scope(self, prediction: Understanding, best: Reading | None) -> bool:
        """The model calls it out of scope and nothing in the question says otherwise."""
        p_none = dict(prediction.ranked).get(NONE_INTENT, 0.0)
        return p_none >= self.config.interpretation.none_threshold and (best is None or best.keyword is None)


def reading_summary(readings: list[Reading], limit: int) -> list[ReadingJson]:
    """The best ``limit`` readings as JSON rows."""
    return [reading.to_json() for reading in readings[:limit]]
