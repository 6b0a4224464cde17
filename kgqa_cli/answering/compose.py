"""Compositional reading: a question as a small query graph, explained span by span.

The single-hop reading (:mod:`kgqa_cli.answering.interpret`) chooses the entity and the edge a
question is most likely about. A :class:`Composer` then checks that this reading explains the
whole question, and extends it where the rest of the question asks for more:

* **chain**: relation words after the first hop are further hops from its answers
  (三度诱惑的导演的妻子, 唱X的歌手的祖籍, 写X的人是哪个学校毕业的, 执导X的那位导演，他老婆是谁);
* **reverse chain**: the same when the first hop runs against its edge
  (何藩导演的电影都有谁主演: the films 何藩 directed, then their actors);
* **intersection**: two entities, each with its own relation word, constrain one answer
  (A导演、B主演的电影; 哪部电影是A执导并且由B主演的; A和B主演的电影);
* **count**: 几部, 多少个... count the answers of the reading, in the graph.

A relation word that no hop explains, or a second entity name that nothing connects, leaves the
question partly understood: it is then not answered as if it were complete. The words come from
:mod:`kgqa_cli.answering.relation_words`; :mod:`kgqa_cli.answering.hops` runs the query graph,
each hop one traversal from the names the hop before it reached (bound values only, steps that
gremlite and Neptune both run), so the answer carries every hop and the queries that produced them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kgqa_cli.answering.phrases import normalize_question
from kgqa_cli.answering.relation_words import (
    CONJUNCTIONS,
    RelationGroup,
    RelationMention,
    RelationWords,
    Span,
    asks_for_a_kind,
    count_word_spans,
    kind_word_spans,
)

if TYPE_CHECKING:
    from kgqa_cli.answering.candidates import EntityCandidate
    from kgqa_cli.answering.interpret import Interpreter, Reading

# Graph names that are generic words rather than entities when they turn up beside the entity
# a question is about (何藩导演了哪些电影: 电影 is the kind of answer, not a second entity).
LITERAL_TYPES = frozenset({"Text", "Date", "Number", "文本", "日期", "数字"})
GENERIC_NOUNS = ("电影", "电视剧", "影视作品", "作品", "歌曲", "歌", "图书", "书", "小说", "学校", "大学", "公司",
                 "企业", "演员", "导演", "歌手", "作家", "人", "国家", "城市", "地点", "节目", "专辑", "角色")
# predicate -> (its subject types, its object types, its slots' types), from the schema.
SchemaTypes = dict[str, tuple[set[str], set[str], set[str]]]
_NO_TYPES: tuple[set[str], set[str], set[str]] = (set(), set(), set())


@dataclass
class Composition:
    """What a question asks, beyond or instead of its single-hop reading."""

    shape: str  # one_hop, chain, reverse_chain, intersection, count
    reading: Reading  # the single-hop reading it starts from
    entities: list[EntityCandidate] = field(default_factory=list)
    groups: list[list[RelationGroup]] = field(default_factory=list)  # per entity, the hops from it
    count: bool = False
    unexplained: list[str] = field(default_factory=list)


Constraints = tuple[list["EntityCandidate"], list[list[RelationGroup]], list[RelationMention]]


def _kinds_meet(these: set[str], those: set[str]) -> bool:
    """Whether two sets of entity kinds share one, a kind counting as any kind it ends with
    (娱乐人物 is a 人物, 图书作品 a 作品)."""
    return any(a == b or a.endswith(b) or b.endswith(a) for a in these for b in those)


class Composer:
    """Reads a question as a query graph around its single-hop reading.

    One per :class:`~kgqa_cli.answering.interpret.Interpreter` (it reads the same graph, through
    the interpreter's caches).
    """

    def __init__(self, interpreter: Interpreter, schema_types: SchemaTypes | None = None,
                 max_fanout: int = 200) -> None:
        self.interpreter = interpreter
        self.schema_types = schema_types or {}
        self.max_fanout = max_fanout
        # Names of kinds (电影, 学校, 人物...) say what is asked for, never which entity.
        self.type_words = set(GENERIC_NOUNS)
        for subjects, objects, _slots in self.schema_types.values():
            self.type_words |= subjects | objects
        # predicate -> the predicates read as the same hop: those an intent's routes take together
        # (妻子 and 丈夫 both answer 和谁结婚).
        related: dict[str, set[str]] = {}
        self._routes_of: dict[str, list[tuple[str, str]]] = {}
        for routes in interpreter.routes.values():
            predicates = {route["predicate"] for route in routes}
            for predicate in predicates:
                related.setdefault(predicate, set()).update(predicates)
            main = routes[0] if routes else None
            if main is not None:
                ordered = self._routes_of.setdefault(main["predicate"], [])
                for route in routes:
                    pair = (route["predicate"], route["direction"])
                    if pair not in ordered:
                        ordered.append(pair)
        self.words = RelationWords(interpreter.keyword_hits, related)

    def compose(self, question: str, readings: list[Reading], candidates: list[EntityCandidate],
                explained: Sequence[Span] = ()) -> Composition:
        """The query graph of ``question`` given its single-hop readings, best first.

        ``explained`` are spans already accounted for (referring words, quoted nicknames).
        """
        best = readings[0]
        norm, _ = normalize_question(question)
        entity_span = best.entity.span or (0, 0)
        others = self._other_entities(best, candidates, norm)
        names = [entity_span, *(c.span for c in others if c.span)]
        counts = [span for span in count_word_spans(norm)
                  if not (best.keyword and norm[span[0]:span[1]] in best.keyword)  # 多少人 of 人口数量
                  and not any(span[0] < e and s < span[1] for s, e in names)]  # 几个人的旅行 is a title
        taken = [*names, *counts, *explained, *kind_word_spans(norm)]
        mentions = self.words.mentions(norm, taken)
        # Two or more entities, each with a relation word beside it: constraints on one answer.
        constraints = self._constraints([best.entity, *others], mentions, norm)
        if constraints is not None:
            return self._intersection(norm, best, others, mentions, constraints, bool(counts))
        return self._chain(norm, best, readings, others, mentions, bool(counts))

    def _intersection(self, norm: str, best: Reading, others: list[EntityCandidate],
                      mentions: list[RelationMention], constraints: Constraints, count: bool) -> Composition:
        """The composition of entities each constraining the answer with its relation word."""
        entities, groups, used = constraints
        rest = [m for m in mentions if m not in used]
        composition = Composition("intersection", best, entities, groups, count)
        composition.unexplained = [m.word for m in rest if len(m.word) > 1 and not m.interrogative
                                   and not asks_for_a_kind(norm, m)
                                   and not self._incidental(norm, RelationGroup([m], m.predicates), used)]
        paired = {e.name for e in entities}
        composition.unexplained += [c.mention for c in [best.entity, *others] if c.name not in paired]
        return composition

    def _chain(self, norm: str, best: Reading, readings: list[Reading], others: list[EntityCandidate],
               mentions: list[RelationMention], count: bool) -> Composition:
        """The composition of a reading and the hops its relation words add after it."""
        entity_span = best.entity.span or (0, 0)
        before = [m for m in mentions if m.end <= entity_span[0]]
        after = [m for m in mentions if m.start >= entity_span[1]]
        groups = self.words.group(before + after)
        best, first = self._first_hop(best, readings, groups, entity_span)
        # Further hops are the relation words after the reading's own (X的导演的妻子).
        later = groups[groups.index(first) + 1:] if first is not None else [
            g for g in groups if g.mentions[0].start >= entity_span[1]]
        hops, unexplained = self._further_hops(norm, best, first, later, entity_span)
        shape = "one_hop"
        if len(hops) > 1:
            shape = "reverse_chain" if best.direction == "reverse" else "chain"
        elif count:
            shape = "count"
        composition = Composition(shape, best, [best.entity], [hops], count, unexplained)
        # A strong second entity that nothing connects: the reading leaves it out, unless the
        # reading's edge has slots to qualify it (哈姆雷特在美国的上映时间: its inArea).
        if not self.schema_types.get(best.predicate, _NO_TYPES)[2]:
            composition.unexplained += [c.mention for c in others]
        return composition

    def _first_hop(self, best: Reading, readings: list[Reading], groups: list[RelationGroup],
                   entity_span: Span) -> tuple[Reading, RelationGroup | None]:
        """The reading the chain starts from and the group of words that names its hop."""
        first = self._first_group(best, groups)
        if first is None:
            # The best reading's edge has no word in the question, but the first relation word
            # after the entity names another edge of it (X的主演毕业于哪所学校 read as X's 导演):
            # the words decide.
            best, first = self._reading_of_words(best, readings, groups, entity_span)
        # A relation word between the entity and the reading's own is the first hop when the
        # entity has that edge (X的妻子导演过哪些电影: X's wife first); otherwise it qualifies the
        # entity (马云先生的国籍) and asks nothing more.
        if first is not None:
            between = [g for g in groups[:groups.index(first)]
                       if g.mentions[0].start >= entity_span[1] and g.asks_for_a_hop]
            for group in between:
                reading = self._reading_of(best, readings, group)
                if reading is not None:
                    return reading, group
        return best, first

    def _further_hops(self, norm: str, best: Reading, first: RelationGroup | None, later: list[RelationGroup],
                      entity_span: Span) -> tuple[list[RelationGroup], list[str]]:
        """The hops of a chain (the first one's group, then those the schema lets follow it), and
        the words left unexplained."""
        hops = [first if first is not None else RelationGroup([], frozenset({best.predicate}))]
        reached = self._reached(best.predicate, best.direction)
        unexplained: list[str] = []
        left_out: list[RelationGroup] = []
        for group in later:
            before = hops[-1].mentions[-1].end if hops[-1].mentions else entity_span[1]
            if norm[before:group.mentions[0].start] in CONJUNCTIONS:
                # X的导演和编剧: two questions in one, not a chain; answered only as a whole.
                unexplained += group.words
                continue
            # After 哪/什么 a word names the kind of answer: only a hop forward (哪座城市 is no
            # way back from the city to what lies in it).
            fits = self._fits(reached, group, backward=not asks_for_a_kind(norm, group.mentions[0]))
            if fits:  # the schema lets this hop start where the one before it led
                hops.append(group)
                reached = fits
            elif fits is None and group.asks_for_a_hop:
                hops.append(group)  # no schema to tell: a word of its own is a hop
            elif group.asks_for_a_hop:
                left_out.append(group)
        # Words the schema lets no hop take are left out, unless they are part of the asking or
        # of a hop's own verb phrase (谁写的剧本: 写 goes with 剧本).
        used = [m for hop in hops for m in hop.mentions]
        unexplained += [word for group in left_out if not self._incidental(norm, group, used) for word in group.words]
        return hops, unexplained

    def _reached(self, predicate: str, direction: str) -> set[str] | None:
        """The kinds of things a hop along ``predicate`` reaches, by the schema (None: no schema)."""
        if not self.schema_types:
            return None
        subjects, objects, _ = self.schema_types.get(predicate, _NO_TYPES)
        return set(objects if direction == "forward" else subjects)

    def _fits(self, reached: set[str] | None, group: RelationGroup, backward: bool = True) -> set[str] | None:
        """What a hop of ``group`` reaches from things of the ``reached`` kinds: a non-empty set
        when the schema lets one of its predicates start there, an empty set when it does not,
        None when the schema does not know them."""
        known = [p for p in group.predicates if p in self.schema_types]
        if reached is None or not known:
            return None
        found: set[str] = set()
        for predicate in known:
            subjects, objects, _ = self.schema_types[predicate]
            if _kinds_meet(reached, subjects):
                found |= objects
            # Against its edge only for a word of its own: 首都在哪里 asks no hop back from the city.
            if backward and group.asks_for_a_hop and _kinds_meet(reached, objects):
                found |= subjects
        return found

    def _incidental(self, norm: str, group: RelationGroup, used: list[RelationMention]) -> bool:
        """Whether words the schema does not let follow are part of the asking rather than a
        relation left out: a question word (在哪), the kind of answer (哪座城市), or a verb beside
        a word a hop took (当编剧写了几部, 谁写的剧本)."""
        first, last = group.mentions[0], group.mentions[-1]
        if all(m.interrogative for m in group.mentions) or asks_for_a_kind(norm, first):
            return True
        return any(0 <= first.start - m.end <= 1 or 0 <= m.start - last.end <= 1 for m in used)

    def _first_group(self, best: Reading, groups: list[RelationGroup]) -> RelationGroup | None:
        """The group the single-hop reading explains: its predicate (or one an intent takes with
        it), or the word that gave the reading its keyword evidence (占地面积 holds 面积)."""
        for group in groups:
            if best.predicate in self.words.related(group.predicates):
                return group
        if best.keyword:
            for group in groups:
                if any(best.keyword in m.word or m.word in best.keyword for m in group.mentions):
                    return group
        return None

    def _reading_of_words(self, best: Reading, readings: list[Reading], groups: list[RelationGroup],
                          entity_span: Span) -> tuple[Reading, RelationGroup | None]:
        """The reading of the same entity whose edge the first relation word after it names."""
        following = [g for g in groups if g.mentions[0].start >= entity_span[1] and g.asks_for_a_hop]
        reading = self._reading_of(best, readings, following[0]) if following else None
        return (reading, following[0]) if reading is not None else (best, None)

    def _reading_of(self, best: Reading, readings: list[Reading], group: RelationGroup) -> Reading | None:
        """The reading of ``best``'s entity along an edge ``group`` names, if the graph has one."""
        wanted = self.words.related(group.predicates)
        for reading in readings:
            if reading.entity.name == best.entity.name and reading.predicate in wanted:
                return reading
        return None

    def _other_entities(self, best: Reading, candidates: list[EntityCandidate], norm: str) -> list[EntityCandidate]:
        """Entities of the question besides the reading's: graph names found outright (not fuzzy
        matches, not referring words), clear of the reading's entity, not generic words."""
        weights = self.interpreter.config.interpretation
        span = best.entity.span or (0, 0)
        found: list[EntityCandidate] = []
        found_spans: list[Span] = []
        for candidate in candidates:
            if candidate.name == best.entity.name or candidate.span is None or candidate.method in ("context", "fuzzy"):
                continue
            start, end = candidate.span
            if start < span[1] and span[0] < end or end - start < 2:
                continue
            if candidate.score < weights.scan_score or any(start < e and s < end for s, e in found_spans):
                continue
            profile = self.interpreter.profile(candidate.name)
            if profile is None or not profile.types - LITERAL_TYPES or candidate.name in self.type_words:
                continue
            found.append(candidate)
            found_spans.append(candidate.span)
        return found

    def _constraints(self, entities: list[EntityCandidate], mentions: list[RelationMention],
                     norm: str) -> Constraints | None:
        """Pair each entity with the relation word beside it (A导演, 由B主演, 导演是A); entities
        joined by 和/与/、 share the word after the last of them. None unless two or more
        entities are paired, each with an edge of its word in the graph."""
        if len(entities) < 2:
            return None
        ordered = sorted(((e, e.span) for e in entities if e.span is not None), key=lambda pair: pair[1][0])
        pairs: dict[str, RelationMention] = {}
        for entity, (start, end) in ordered:
            # The nearest word after it (within a few characters: 姚刚健写的剧本) or right before
            # it (导演是A) whose edge the entity really has.
            nearby = sorted((m for m in mentions if 0 <= m.start - end <= 4
                             and not norm[end:m.start].startswith("的")),  # 三度诱惑的主演: its own edge
                            key=lambda m: m.start)
            nearby += [m for m in mentions if 0 <= start - m.end <= 1]
            for mention in nearby:
                if self.edge_route(entity.name, mention.predicates, toward=True) is not None:
                    pairs[entity.name] = mention
                    break
        # A和B主演: A takes B's word.
        for (left, left_span), (right, right_span) in zip(ordered, ordered[1:], strict=False):
            gap = norm[left_span[1]:right_span[0]]
            if left.name not in pairs and right.name in pairs and gap in CONJUNCTIONS:
                pairs[left.name] = pairs[right.name]
        paired = [e for e, _ in ordered if e.name in pairs]
        if len(paired) < 2:
            return None
        groups = []
        for entity in paired:
            mention = pairs[entity.name]
            route = self.edge_route(entity.name, mention.predicates, toward=True)
            if route is None:
                return None
            groups.append([RelationGroup([mention], frozenset({route[0]}))])
        return paired, groups, list({id(m): m for m in pairs.values()}.values())

    def edge_route(self, name: str, predicates: frozenset[str] | set[str], toward: bool = False
                   ) -> tuple[str, str] | None:
        """The (predicate, direction) of an edge ``name`` has among the routes of ``predicates``;
        with ``toward`` the entity is the constraint (A导演的电影: the film is the subject of 导演
        and A its object, so the edge runs into A) and incoming edges come first."""
        profile = self.interpreter.profile(name)
        if profile is None:
            return None
        routes: list[tuple[str, str]] = []
        for predicate in sorted(predicates):
            for route in self._routes_of.get(predicate, [(predicate, "forward")]):
                if route not in routes:
                    routes.append(route)
            for direction in ("forward", "reverse"):
                if (predicate, direction) not in routes:
                    routes.append((predicate, direction))
        if toward:  # the entity is what the answer points to: its incoming edges first
            routes = [r for r in routes if r[1] == "reverse"] + [r for r in routes if r[1] == "forward"]
        for predicate, direction in routes:
            labels = profile.out_labels if direction == "forward" else profile.in_labels
            if predicate in labels:
                return predicate, direction
        return None
