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
question partly understood: it is then not answered as if it were complete. Each hop is one
traversal from the names the hop before it reached (bound values only, steps that gremlite and
Neptune both run), so the answer carries every hop and the queries that produced them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kgqa_cli.answering.interpret import EntityCandidate, Reading, normalize_question
from kgqa_cli.answering.reasons import NO_RELATION, PARTIAL

# Counting words: 几/多少 with a classifier (几部电影, 多少首歌). 多少 alone asks for a value
# (人口有多少), and 几年 is a duration, so neither counts.
COUNT_WORDS = re.compile(r"(几|多少)(部|个|首|本|位|家|所|名|种|座|条|张|支|项|集|任|次|场|届|门|档|人)"
                         r"|多少(?=电影|电视剧|作品|部|首|歌|本书|书|小说|节目|角色|公司|学校|奖)")
# Words that join two entities under one relation word (A和B主演的电影).
CONJUNCTIONS = ("和", "与", "跟", "及", "、", "以及", "同", ",", "，")
# Graph names that are generic words rather than entities when they turn up beside the entity
# a question is about (何藩导演了哪些电影: 电影 is the kind of answer, not a second entity).
LITERAL_TYPES = frozenset({"Text", "Date", "Number", "文本", "日期", "数字"})
# Lexicon words that are also question words (在哪, 谁演, 哪国, 多大): they may say which edge the
# first hop takes, but are too much part of the asking to call for a hop of their own.
INTERROGATIVES = ("哪", "谁", "什么", "多少", "多大", "多高", "多长", "几", "吗", "怎么", "何时")
# Words for kinds of things that hold a lexicon word inside them (歌曲 holds 曲): read as the
# kind of answer, never as a relation.
KIND_WORDS = ("歌曲", "电影", "电视剧", "影视作品", "作品", "小说", "图书", "节目", "公司", "片子", "戏", "角色")
# What comes before a word that names the kind of answer rather than a relation (哪座城市).
ASKING_FOR_A_KIND = ("哪", "什么", "哪个", "哪座", "哪所", "哪家", "哪位", "哪部", "哪首", "哪张", "哪些")
GENERIC_NOUNS = ("电影", "电视剧", "影视作品", "作品", "歌曲", "歌", "图书", "书", "小说", "学校", "大学", "公司",
                 "企业", "演员", "导演", "歌手", "作家", "人", "国家", "城市", "地点", "节目", "专辑", "角色")


@dataclass(frozen=True)
class RelationMention:
    """A word of the predicate lexicon in the question, and the predicates it may stand for."""

    start: int
    end: int
    word: str
    predicates: frozenset[str]

    @property
    def interrogative(self) -> bool:
        return any(part in self.word for part in INTERROGATIVES)


@dataclass
class RelationGroup:
    """Relation words that name one hop (唱…的歌手, 哪个学校毕业: one predicate, two words)."""

    mentions: list[RelationMention]
    predicates: frozenset[str]

    @property
    def words(self) -> list[str]:
        return [m.word for m in self.mentions]

    @property
    def asks_for_a_hop(self) -> bool:
        """Whether the words name a hop of their own: a word of two characters or more that is
        not a question word (唱 or 在哪 alone does not)."""
        return any(len(m.word) > 1 and not m.interrogative for m in self.mentions)


@dataclass
class Hop:
    """One step of a query graph: from some names along an edge, and where it led."""

    sources: list[str]
    predicate: str
    direction: str  # forward: the sources are subjects; reverse: objects
    word: str | None
    targets: list[str] = field(default_factory=list)
    query: str = ""
    edges: dict[str, dict] = field(default_factory=dict)  # target -> the edge's properties (best score), "from"
    truncated: bool = False  # it started from the first max_fanout names only

    def to_json(self) -> dict:
        return {"from": self.sources, "predicate": self.predicate, "direction": self.direction,
                "word": self.word, "to": self.targets, "truncated": self.truncated}


@dataclass
class Composition:
    """What a question asks, beyond or instead of its single-hop reading."""

    shape: str  # one_hop, chain, reverse_chain, intersection, count
    reading: Reading  # the single-hop reading it starts from
    entities: list[EntityCandidate] = field(default_factory=list)
    groups: list[list[RelationGroup]] = field(default_factory=list)  # per entity, the hops from it
    count: bool = False
    unexplained: list[str] = field(default_factory=list)


def _kinds_meet(these: set[str], those: set[str]) -> bool:
    """Whether two sets of entity kinds share one, a kind counting as any kind it ends with
    (娱乐人物 is a 人物, 图书作品 a 作品)."""
    return any(a == b or a.endswith(b) or b.endswith(a) for a in these for b in those)


def count_word_spans(norm: str) -> list[tuple[int, int]]:
    """Where the counting words of a normalised question are."""
    return [(m.start(), m.end()) for m in COUNT_WORDS.finditer(norm)]


class Composer:
    """Reads a question as a query graph around its single-hop reading, and runs it.

    One per :class:`~kgqa_cli.answering.interpret.Interpreter` (it reads the same graph, through
    the interpreter's caches).
    """

    def __init__(self, interpreter: Any, schema_types: dict[str, tuple[set[str], set[str], set[str]]] | None = None,
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
        self._related: dict[str, set[str]] = {}
        self._routes_of: dict[str, list[tuple[str, str]]] = {}
        for routes in interpreter.routes.values():
            predicates = {route["predicate"] for route in routes}
            for predicate in predicates:
                self._related.setdefault(predicate, set()).update(predicates)
            main = routes[0] if routes else None
            if main is not None:
                ordered = self._routes_of.setdefault(main["predicate"], [])
                for route in routes:
                    pair = (route["predicate"], route["direction"])
                    if pair not in ordered:
                        ordered.append(pair)

    # ------------------------------------------------------------------ reading

    def relation_mentions(self, norm: str, taken: list[tuple[int, int]]) -> list[RelationMention]:
        """Lexicon words outside the ``taken`` spans, longest first where they overlap."""
        hits = []
        for start, end, word, predicates in self.interpreter.keyword_hits(norm):
            if any(start < e and s < end for s, e in taken):
                continue
            hits.append(RelationMention(start, end, word, frozenset(predicates)))
        chosen: list[RelationMention] = []
        for hit in sorted(hits, key=lambda h: (-(h.end - h.start), h.interrogative, h.start)):
            if not any(hit.start < c.end and c.start < hit.end for c in chosen):
                chosen.append(hit)
        return sorted(chosen, key=lambda h: h.start)

    def related(self, predicates: frozenset[str] | set[str]) -> set[str]:
        """The predicates, with those read as the same hop."""
        found = set(predicates)
        for predicate in predicates:
            found |= self._related.get(predicate, set())
        return found

    def group(self, mentions: list[RelationMention]) -> list[RelationGroup]:
        """Consecutive words naming the same hop become one group."""
        groups: list[RelationGroup] = []
        for mention in mentions:
            if groups:
                last = groups[-1]
                shared = last.predicates & mention.predicates
                # Words an intent reads together (配偶, 老婆) are one hop only when one of them
                # cannot be a hop on its own: 妻子的丈夫 is two hops, 娶…老婆 one.
                weak = any(len(m.word) == 1 or m.interrogative for m in (last.mentions[-1], mention))
                if shared or (weak and self.related(last.predicates) & mention.predicates):
                    last.mentions.append(mention)
                    last.predicates = shared or (last.predicates | mention.predicates)
                    continue
            groups.append(RelationGroup([mention], mention.predicates))
        return groups

    def compose(self, question: str, readings: list[Reading], candidates: list[EntityCandidate],
                explained: list[tuple[int, int]] = ()) -> Composition:
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
        kinds = [(m.start(), m.end()) for word in KIND_WORDS for m in re.finditer(re.escape(word), norm)]
        taken = [entity_span, *(c.span for c in others if c.span), *counts, *explained, *kinds]
        mentions = self.relation_mentions(norm, taken)
        # Two or more entities, each with a relation word beside it: constraints on one answer.
        constraints = self._constraints([best.entity, *others], mentions, norm)
        if constraints is not None:
            entities, groups, used = constraints
            rest = [m for m in mentions if m not in used]
            composition = Composition("intersection", best, entities, groups, bool(counts))
            composition.unexplained = [m.word for m in rest if len(m.word) > 1 and not m.interrogative
                                       and not self._asks_for_a_kind(norm, m)
                                       and not self._incidental(norm, RelationGroup([m], m.predicates), used)]
            paired = {e.name for e in entities}
            composition.unexplained += [c.mention for c in [best.entity, *others] if c.name not in paired]
            return composition
        before = [m for m in mentions if m.end <= entity_span[0]]
        after = [m for m in mentions if m.start >= entity_span[1]]
        groups = self.group(before + after)
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
                    best, first = reading, group
                    break
        # Further hops are the relation words after the reading's own (X的导演的妻子).
        later = groups[groups.index(first) + 1:] if first is not None else [
            g for g in groups if g.mentions[0].start >= entity_span[1]]
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
            fits = self._fits(reached, group, backward=not self._asks_for_a_kind(norm, group.mentions[0]))
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
        shape = "one_hop"
        if len(hops) > 1:
            shape = "reverse_chain" if best.direction == "reverse" else "chain"
        elif counts:
            shape = "count"
        composition = Composition(shape, best, [best.entity], [hops], bool(counts), unexplained)
        # A strong second entity that nothing connects: the reading leaves it out, unless the
        # reading's edge has slots to qualify it (哈姆雷特在美国的上映时间: its inArea).
        if not self.schema_types.get(best.predicate, (set(), set(), set()))[2]:
            composition.unexplained += [c.mention for c in others]
        return composition

    def shape_of_words(self, question: str) -> str | None:
        """The shape a question's words alone suggest, for a question with no reading in the
        graph (its entity is not there): a count, two relation words joined as constraints
        (A导演、B主演), two in a row (X的导演的妻子), one, or None without any."""
        norm, _ = normalize_question(question)
        counts = count_word_spans(norm)
        kinds = [(m.start(), m.end()) for word in KIND_WORDS for m in re.finditer(re.escape(word), norm)]
        mentions = [m for m in self.relation_mentions(norm, [*counts, *kinds]) if not m.interrogative]
        groups = self.group(mentions)
        if counts:
            return "count"
        if len(groups) >= 2:
            between = norm[groups[0].mentions[-1].end:groups[1].mentions[0].start]
            joined = any(word in between for word in (*CONJUNCTIONS, "并且", "而且", "同时", "也"))
            return "intersection" if joined else "chain"
        return "one_hop" if groups else None

    def _reached(self, predicate: str, direction: str) -> set[str] | None:
        """The kinds of things a hop along ``predicate`` reaches, by the schema (None: no schema)."""
        if not self.schema_types:
            return None
        subjects, objects, _ = self.schema_types.get(predicate, (set(), set(), set()))
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

    def _asks_for_a_kind(self, norm: str, mention: RelationMention) -> bool:
        """Whether the word follows 哪/什么 and so names the kind of answer (哪座城市)."""
        return norm[:mention.start].endswith(ASKING_FOR_A_KIND)

    def _incidental(self, norm: str, group: RelationGroup, used: list[RelationMention]) -> bool:
        """Whether words the schema does not let follow are part of the asking rather than a
        relation left out: a question word (在哪), the kind of answer (哪座城市), or a verb beside
        a word a hop took (当编剧写了几部, 谁写的剧本)."""
        first, last = group.mentions[0], group.mentions[-1]
        if all(m.interrogative for m in group.mentions) or self._asks_for_a_kind(norm, first):
            return True
        return any(0 <= first.start - m.end <= 1 or 0 <= m.start - last.end <= 1 for m in used)

    def _first_group(self, best: Reading, groups: list[RelationGroup]) -> RelationGroup | None:
        """The group the single-hop reading explains: its predicate (or one an intent takes with
        it), or the word that gave the reading its keyword evidence (占地面积 holds 面积)."""
        for group in groups:
            if best.predicate in self.related(group.predicates):
                return group
        if best.keyword:
            for group in groups:
                if any(best.keyword in m.word or m.word in best.keyword for m in group.mentions):
                    return group
        return None

    def _reading_of_words(self, best: Reading, readings: list[Reading], groups: list[RelationGroup],
                          entity_span: tuple[int, int]) -> tuple[Reading, RelationGroup | None]:
        """The reading of the same entity whose edge the first relation word after it names."""
        following = [g for g in groups if g.mentions[0].start >= entity_span[1] and g.asks_for_a_hop]
        reading = self._reading_of(best, readings, following[0]) if following else None
        return (reading, following[0]) if reading is not None else (best, None)

    def _reading_of(self, best: Reading, readings: list[Reading], group: RelationGroup) -> Reading | None:
        """The reading of ``best``'s entity along an edge ``group`` names, if the graph has one."""
        wanted = self.related(group.predicates)
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
        for candidate in candidates:
            if candidate.name == best.entity.name or candidate.span is None or candidate.method in ("context", "fuzzy"):
                continue
            start, end = candidate.span
            if start < span[1] and span[0] < end or end - start < 2:
                continue
            if candidate.score < weights.scan_score or any(start < c.span[1] and c.span[0] < end for c in found):
                continue
            profile = self.interpreter.profile(candidate.name)
            if profile is None or not profile.types - LITERAL_TYPES or candidate.name in self.type_words:
                continue
            found.append(candidate)
        return found

    def _constraints(self, entities: list[EntityCandidate], mentions: list[RelationMention], norm: str
                     ) -> tuple[list[EntityCandidate], list[list[RelationGroup]], list[RelationMention]] | None:
        """Pair each entity with the relation word beside it (A导演, 由B主演, 导演是A); entities
        joined by 和/与/、 share the word after the last of them. None unless two or more
        entities are paired, each with an edge of its word in the graph."""
        if len(entities) < 2:
            return None
        ordered = sorted((e for e in entities if e.span), key=lambda e: e.span[0])
        pairs: dict[str, RelationMention] = {}
        for entity in ordered:
            start, end = entity.span
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
        for left, right in zip(ordered, ordered[1:], strict=False):
            gap = norm[left.span[1]:right.span[0]]
            if left.name not in pairs and right.name in pairs and gap in CONJUNCTIONS:
                pairs[left.name] = pairs[right.name]
        paired = [e for e in ordered if e.name in pairs]
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

    # ------------------------------------------------------------------ running

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

    def run_hop(self, sources: list[str], predicate: str, direction: str, word: str | None) -> Hop:
        """One traversal from ``sources`` along ``predicate``; targets best score first."""
        from kgqa_cli.graph import queries

        hop = Hop(sources[: self.max_fanout], predicate, direction, word, truncated=len(sources) > self.max_fanout)
        traversal = queries.hop_from(self.interpreter.g, hop.sources, predicate, direction)
        hop.query = queries.describe(traversal)
        for row in queries.run(traversal):
            name = row.pop("name")  # row keeps "from": where the edge starts, for the evidence
            if name not in hop.edges:
                hop.targets.append(name)
                hop.edges[name] = row
        return hop

    def next_route(self, sources: list[str], group: RelationGroup) -> tuple[str, str] | None:
        """The route of a hop from ``sources``: the first of the group's routes that one of them has."""
        for name in sources[: self.max_fanout]:
            route = self.edge_route(name, group.predicates)
            if route is not None:
                return route
        return None


# ---------------------------------------------------------------------------------------------
# Running a composition into an answer

def explained_spans(notes: list) -> list[tuple[int, int]]:
    """Spans of the question that the candidate search accounted for without an entity (notes
    that carry a ``span``: a quoted nickname skipped, a referring word)."""
    return [note.span for note in notes if getattr(note, "span", None)]


def run_composition(composer: Composer, composition: Composition, result: Any, max_answers: int) -> None:
    """Fill ``result`` (a :class:`~kgqa_cli.answering.pipeline.Answer`) by running the query graph:
    its hops, the query of each, the answers or the reason there are none."""
    from kgqa_cli.answering.interpret import candidate_json

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


def answer_evidence(hops: list[Hop], targets: list[str], shape: str) -> list[dict]:
    """Why each answer holds: per target ``{"answer", "facts"}``, the facts that lead to it (the
    chain's edges from the question's entity, or each constraint's edge of an intersection), each
    ``{"subject", "predicate", "object", "score", "evidence_count", "sentences"}`` with the
    sentences the graph keeps for it, best first (none on a graph loaded without evidence)."""
    def fact(hop: Hop, target: str, edge: dict) -> dict:
        subject, obj = (edge.get("from"), target) if hop.direction == "forward" else (target, edge.get("from"))
        return {"subject": subject, "predicate": hop.predicate, "object": obj, "score": edge.get("score"),
                "evidence_count": edge.get("evidence_count", 0),  # queries.run fills it in
                "sentences": edge.get("evidence", [])}

    evidence = []
    for target in targets:
        facts: list[dict] = []
        if shape == "intersection":
            facts = [fact(hop, target, hop.edges[target]) for hop in hops if target in hop.edges]
        else:
            name = target
            for hop in reversed(hops):  # back along the chain to the question's entity
                edge = hop.edges.get(name)
                if edge is None:
                    break
                facts.insert(0, fact(hop, name, edge))
                name = edge.get("from")
        evidence.append({"answer": target, "facts": facts})
    return evidence


def _run_chain(composer: Composer, composition: Composition, best: Reading, result: Any) -> list[Hop]:
    """The reading's hop, then each further hop from where the one before it led."""
    groups = composition.groups[0]
    hop = composer.run_hop([best.entity.name], best.predicate, best.direction, _word(groups[0]))
    hops = [hop]
    if not hop.targets:  # the edge was there when the profile was read: the graph changed since
        result.reason = NO_RELATION
        result.detail = f"{best.entity.name} has no {best.predicate} ({best.direction}) in the graph"
        return hops
    for group in groups[1:]:
        route = composer.next_route(hop.targets, group)
        if route is None:
            # The graph holds no such fact for what the hop before reached: say so, and never
            # give that hop's answers as if they were the answer.
            wanted = "/".join(sorted(group.predicates))
            hops.append(Hop(hop.targets, wanted, "forward", _word(group)))
            result.reason = NO_RELATION
            result.detail = (f"the graph holds no {wanted} of the {hop.predicate} of {best.entity.name} "
                             f"({len(hop.targets)} reached)")
            return hops
        hop = composer.run_hop(hop.targets, route[0], route[1], _word(group))
        hops.append(hop)
    return hops


def _run_intersection(composer: Composer, composition: Composition) -> list[Hop]:
    """One hop from each constraining entity, toward the answer."""
    hops = []
    for entity, groups in zip(composition.entities, composition.groups, strict=True):
        group = groups[0]
        route = composer.edge_route(entity.name, group.predicates, toward=True)
        assert route is not None  # checked when the constraints were paired
        hops.append(composer.run_hop([entity.name], route[0], route[1], _word(group)))
    return hops


def _word(group: RelationGroup) -> str | None:
    return "".join(group.words) or None
