"""Graph-aware interpretation: the (entity, predicate) pair of a question, chosen jointly.

The question model gives an intent distribution and tagged spans; the graph says which entities
the question names and which edges each of them has. Every pair of a candidate entity and an edge
it really has is a *reading*, scored by

    intent_weight  x  the probability the model gives the intents whose route is that edge
  + entity_weight  x  how the entity was found (linked slot, dictionary scan, conversation)
  + keyword_weight x  whether a word of the predicate's lexicon occurs outside the entity

and the best reading is answered. A reading needs an edge in the graph, so a confident wrong
intent among close ones (面积/占地面积, 作者/作词) loses to the one the entity actually has, and
a question phrased in words the model never saw is still read from its keywords.

Entity candidates come from three places:

* the tagged slot mentions, linked as :class:`~kgqa_cli.answering.linking.EntityLinker` does;
* a dictionary scan: every graph name inside the question, found by an Aho-Corasick automaton
  over the normalised vertex names (built once per graph, rebuilt when the graph is replaced),
  scored by its overlap with the tagged span, names inside a longer match ranked down. The same
  automaton holds the names as people write them: a bracketed name without its disambiguator
  (张伟 for 张伟(演员) and 张伟(歌手): a descriptor next to it, 演员张伟, picks one, else all
  score alike), a transliterated name with other or no dots or by its last part (贝克汉姆 for
  大卫·贝克汉姆), and the objects of the graph's alias edges (北大 for 北京大学 -简称-> 北大).
  A quoted segment naming nothing (“小李子”迪卡普里奥) is skipped, with a note;
* the conversation: a referring word (他, 这部电影, 那里...) stands for the latest answer or
  entity of the matching kind (person, work, place, organisation, by the vertex types).
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from kgqa_cli.graph.normalize import normalize_name
from kgqa_cli.understanding.runtime import tagged_spans
from kgqa_cli.understanding.templates import NONE_INTENT

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EntityCandidate:
    """A vertex the question may be about, and how it was found."""

    name: str
    mention: str
    method: str  # exact, normalized, contained, fuzzy, scan, homonym, spelling, transliteration, alias or context
    score: float
    span: tuple[int, int] | None = None  # characters of the question it covers (end exclusive)
    reference: str | None = None  # the referring word, for a context candidate
    descriptor: str | None = None  # a homonym's bracketed disambiguator (演员 of 张伟(演员))


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

    def to_json(self) -> dict:
        """The fields `kgqa ask -v` and ``--json`` show."""
        return {"entity": self.entity.name, "method": self.entity.method, "entity_score": round(self.entity.score, 4),
                "predicate": self.predicate, "direction": self.direction, "intent": self.intent,
                "intent_probability": round(self.intent_probability, 4), "keyword": self.keyword,
                "score": round(self.score, 4)}


@dataclass
class Profile:
    """What the graph says about one entity: its types and the labels of its edges."""

    types: frozenset[str]
    out_labels: frozenset[str]
    in_labels: frozenset[str]


# ---------------------------------------------------------------------------------------------
# Question text with offsets


@lru_cache(maxsize=256)
def normalize_question(text: str) -> tuple[str, tuple[int, ...]]:
    """The question as names are normalised (NFKC, no whitespace), and for each of its characters
    the index of the character of ``text`` it came from. Cached: the entity scan and the keyword
    scan of one question both read it."""
    import unicodedata

    chars: list[str] = []
    offsets: list[int] = []
    for index, char in enumerate(text):
        folded = unicodedata.normalize("NFKC", char)
        for piece in folded:
            if piece.isspace():
                continue
            chars.append(piece)
            offsets.append(index)
    return "".join(chars), tuple(offsets)


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Intersection over union of two character ranges."""
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union else 0.0


# ---------------------------------------------------------------------------------------------
# Dictionaries


class PhraseIndex:
    """An Aho-Corasick automaton over phrases; :meth:`find` gives every occurrence in a text."""

    def __init__(self, phrases: dict[str, Any]) -> None:
        import ahocorasick

        self.size = len(phrases)
        self._automaton = ahocorasick.Automaton()
        for phrase, value in phrases.items():
            if phrase:
                self._automaton.add_word(phrase, (phrase, value))
        if self.size:
            self._automaton.make_automaton()

    def find(self, text: str) -> list[tuple[int, int, str, Any]]:
        """(start, end, phrase, value) of every occurrence, overlapping ones included."""
        if not self.size or not text:
            return []
        return [(end + 1 - len(phrase), end + 1, phrase, value)
                for end, (phrase, value) in self._automaton.iter(text)]


def build_name_index(names: list[str], min_length: int,
                     aliases: list[tuple[str, str]] | tuple = ()) -> PhraseIndex:
    """The dictionary the scan looks for (phrases of ``min_length`` characters or more): every
    graph name, and every other way an entity is written (:func:`name_variants`; the alias of
    each ``(entity, alias)`` pair). A phrase's value is (whether it is itself a graph name, the
    :class:`NameVariant` entities it also stands for)."""
    entries: dict[str, tuple[bool, tuple[NameVariant, ...]]] = {
        name: _JUST_A_NAME for name in names if len(name) >= min_length}
    written: dict[str, list[NameVariant]] = {}
    for name in names:
        if _VARIANT_MARKS.search(name):
            for phrase, variant in name_variants(name):
                written.setdefault(phrase, []).append(variant)
    for entity, alias in aliases:
        alias = normalize_name(alias).replace(" ", "")  # the scan reads questions without spaces
        if alias and alias != entity:
            written.setdefault(alias, []).append(NameVariant(entity, "alias"))
    for phrase, variants in written.items():
        if len(phrase) >= min_length:
            unique = tuple(dict.fromkeys(v for v in variants if v.name != phrase))
            if unique:
                entries[phrase] = (phrase in entries, unique)
    return PhraseIndex(entries)


@dataclass(frozen=True)
class NameVariant:
    """An entity written otherwise than its graph name: ``method`` is homonym (the name without
    its bracketed disambiguator ``descriptor``), spelling (other or no dots between the parts of a
    transliterated name), transliteration (its last part) or alias (the object of an alias edge)."""

    name: str
    method: str
    descriptor: str | None = None


_JUST_A_NAME: tuple[bool, tuple[NameVariant, ...]] = (True, ())
# Dots between the parts of a transliterated name (大卫·贝克汉姆), as NFKC leaves them.
_NAME_DOTS = "·・•.‧∙⋅"
_DOT_SPLIT = re.compile(f"[{re.escape(_NAME_DOTS)}]")
# A name ending in a bracket, holding a dot or a space: the only ones with variants (a cheap first test).
_VARIANT_MARKS = re.compile(f"[ {re.escape(_NAME_DOTS)}]|[)】\\]]$")
# A bracketed disambiguator ending a name: 张伟(演员), 张伟_(演员), 张伟【演员】 (NFKC makes （） half-width).
_DISAMBIGUATED = re.compile(r"^(.+?)[\s_]*(?:\(([^()]+)\)|【([^【】]+)】|\[([^\[\]]+)\])$")
_CJK = re.compile(r"[\u3400-\u9fff]")


def split_disambiguator(name: str) -> tuple[str, str | None]:
    """``张伟(演员)`` -> (``张伟``, ``演员``), ``张伟【演员】`` too; a name without one -> (name, None)."""
    found = _DISAMBIGUATED.match(name)
    if not found:
        return name, None
    return found.group(1), next(part for part in found.groups()[1:] if part)


def name_variants(name: str) -> list[tuple[str, NameVariant]]:
    """(phrase, variant) of the ways people write the graph name ``name`` otherwise: 张伟(演员) as
    张伟 (with descriptor 演员); 大卫·贝克汉姆 as 大卫贝克汉姆, 大卫•贝克汉姆... and as 贝克汉姆.
    Phrases have no spaces, as the question the scan reads (hp pavilion dv2304tx as hppaviliondv2304tx)."""
    found: list[tuple[str, NameVariant]] = []
    if " " in name:
        found.append((name, NameVariant(name, "spelling")))
    base, descriptor = name, None
    bracketed = _DISAMBIGUATED.match(name)
    if bracketed:
        base = bracketed.group(1).strip()
        descriptor = next(part for part in bracketed.groups()[1:] if part).strip()
        if base and descriptor:
            found.append((base, NameVariant(name, "homonym", descriptor)))
    parts = _DOT_SPLIT.split(base)
    # Only a transliteration into Chinese splits at its dots (not 5.8, 3·10地震 or www.x.com).
    if (len(parts) >= 2 and _CJK.search(parts[-1]) and not any(c.isdigit() for c in base)
            and all(any(c.isalpha() for c in part) for part in parts)):
        for spelling in sorted({"".join(parts), *(dot.join(parts) for dot in "·・•.")} - {base}):
            found.append((spelling, NameVariant(name, "spelling", descriptor)))
        found.append((parts[-1], NameVariant(name, "transliteration", descriptor)))
    return [(phrase.replace(" ", ""), variant) for phrase, variant in found]


# ---------------------------------------------------------------------------------------------
# Conversation context


@dataclass
class Turn:
    """What a question of a conversation was about and what it answered."""

    question: str
    entity: str | None
    answers: list[str]


class ReferenceNote(str):
    """A note that a referring word (他, 这部电影) found nothing to stand for: ``earlier`` tells
    whether there were earlier turns to look in."""

    phrase: str
    earlier: bool

    def __new__(cls, phrase: str, *, earlier: bool) -> ReferenceNote:
        text = (f"{phrase!r} refers to nothing of the conversation" if earlier
                else f"{phrase!r} refers back to an earlier question, and there is none")
        note = super().__new__(cls, text)
        note.phrase, note.earlier = phrase, earlier
        return note


class SkippedQuoteNote(str):
    """A note that a quoted segment (a nickname: “小李子”) names nothing in the graph and was
    skipped: not read as the entity, and accounted for. ``span`` covers it with its quotes, in the
    same characters as :attr:`EntityCandidate.span` (the normalised question)."""

    phrase: str
    span: tuple[int, int]

    def __new__(cls, phrase: str, span: tuple[int, int]) -> SkippedQuoteNote:
        note = super().__new__(cls, f"quoted {phrase!r} names nothing in the graph: skipped")
        note.phrase, note.span = phrase, span
        return note


# Quotes around a nickname or a name in running text (NFKC turns ＂ into ").
_QUOTES = {"“": "”", "「": "」", "『": "』", "‘": "’", '"': '"', "'": "'"}
# How far from a written name a descriptor of it is looked for, and words between them (张伟这位演员).
_DESCRIPTOR_REACH = 12
_DESCRIPTOR_FILLERS = ("这位", "这个", "那位", "那个", "是位", "是个")
# Homonyms of one written name whose types are read when no disambiguator is stated.
_TYPED_HOMONYMS = 8


def _quoted_segments(norm: str) -> list[tuple[int, int]]:
    """(start, end) of each quoted segment of a normalised question, quotes included."""
    segments: list[tuple[int, int]] = []
    at = 0
    while at < len(norm):
        closer = _QUOTES.get(norm[at])
        close_at = norm.find(closer, at + 1) if closer else -1
        if close_at > at + 1:
            segments.append((at, close_at + 1))
            at = close_at + 1
        else:
            at += 1
    return segments


def _outside(span: tuple[int, int], skipped: list[tuple[int, int]]) -> tuple[int, int] | None:
    """``span`` with the skipped segments at its ends cut off; None when nothing is left."""
    start, end = span
    for s, e in sorted(skipped):
        if s <= start < e:
            start = e
        if s < end <= e:
            end = s
    return (start, end) if start < end else None


@dataclass
class Conversation:
    """The turns a follow-up question may refer back to (most recent last, at most ``limit``)."""

    turns: list[Turn] = field(default_factory=list)
    limit: int = 8

    def remember(self, question: str, entity: str | None, answers: list[str]) -> None:
        """Add a turn; an unanswered question with no entity leaves the context as it was."""
        if entity is None and not answers:
            return
        self.turns.append(Turn(question, entity, list(answers)))
        del self.turns[: -self.limit]

    def reset(self) -> None:
        """Forget every turn."""
        self.turns.clear()

    def referents(self) -> list[tuple[str, int, str]]:
        """(name, turns back, role) in the order a reference is resolved: the last turn's only
        answer, its entity, its answers when several; then the turn before, and so on."""
        found: list[tuple[str, int, str]] = []
        for back, turn in enumerate(reversed(self.turns), start=1):
            if len(turn.answers) == 1:
                found.append((turn.answers[0], back, "answer"))
            if turn.entity:
                found.append((turn.entity, back, "entity"))
            if len(turn.answers) > 1:
                found.extend((answer, back, "answer") for answer in turn.answers)
        return found


class Conversations:
    """Conversations by session id, as an endpoint keeps them: at most ``max_sessions`` (the least
    recently used dropped first), each forgotten after ``ttl_seconds`` without a question."""

    def __init__(self, max_sessions: int, ttl_seconds: float, max_turns: int, clock: Any = None) -> None:
        import time

        self.max_sessions = max_sessions
        self.ttl_seconds = ttl_seconds
        self.max_turns = max_turns
        self._clock = clock or time.monotonic
        self._sessions: OrderedDict[str, tuple[float, Conversation]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, session_id: str) -> Conversation:
        """The conversation of ``session_id`` (a new one when unknown or expired)."""
        now = self._clock()
        while self._sessions:  # the least recently used first: stop at the first one still fresh
            oldest_id, (used, _) = next(iter(self._sessions.items()))
            if now - used <= self.ttl_seconds:
                break
            del self._sessions[oldest_id]
        held = self._sessions.pop(session_id, None)
        conversation = held[1] if held is not None else Conversation(limit=self.max_turns)
        self._sessions[session_id] = (now, conversation)
        while len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)
        return conversation

    def reset(self, session_id: str) -> None:
        """Forget one conversation."""
        self._sessions.pop(session_id, None)


# ---------------------------------------------------------------------------------------------
# The interpreter


class Interpreter:
    """Chooses the reading of a question; one per graph connection (caches belong to the graph)."""

    def __init__(self, g: Any, config: Any, linker: Any, routes: dict[str, list[dict]],
                 lexicon: dict[str, list[str]]) -> None:
        self.g = g
        self.config = config
        self.linker = linker
        # predicate -> its keywords (the predicate itself first); one automaton over all of them.
        words: dict[str, set[str]] = {}
        for predicate, synonyms in lexicon.items():
            for word in (predicate, *synonyms):
                words.setdefault(normalize_name(word), set()).add(predicate)
        self._keywords = PhraseIndex(words)
        references: dict[str, frozenset[str]] = {}  # a word may stand for several kinds (它: a work, a place)
        for kind, phrases in config.context.references.items():
            for phrase in phrases:
                references[phrase] = references.get(phrase, frozenset()) | {kind}
        self._references = PhraseIndex(references)
        self._kinds_of_type: dict[str, set[str]] = {}
        for kind, types in config.context.types.items():
            for type_name in types:
                self._kinds_of_type.setdefault(type_name, set()).add(kind)
        self.set_routes(routes)
        self._names: PhraseIndex | None = None
        self._profiles: OrderedDict[str, Profile | None] = OrderedDict()

    def follow_graph(self, g: Any, linker: Any) -> None:
        """Read another graph from now on: its name dictionary and entity profiles are rebuilt
        on demand (a `bulkload --replace` swapped it in)."""
        self.g, self.linker = g, linker
        self._names = None
        self._profiles.clear()

    def set_routes(self, routes: dict[str, list[dict]]) -> None:
        """The graph routes of the model's intents (intent -> [{"predicate", "direction"}])."""
        self.routes = routes
        # (predicate, direction) -> [(intent, route position)], the routes the model's intents take.
        self._by_route: dict[tuple[str, str], list[tuple[str, int]]] = {}
        for intent, intent_routes in routes.items():
            for position, route in enumerate(intent_routes):
                self._by_route.setdefault((route["predicate"], route["direction"]), []).append((intent, position))

    # -------------------------------------------------------------- graph lookups (cached)

    def _name_index(self) -> PhraseIndex:
        if self._names is None:
            from kgqa_cli.graph.queries import entity_aliases, entity_names

            names = entity_names(self.g)
            share = getattr(self.linker, "share_names", None)
            if share is not None:  # the linker's fuzzy match reads the same list: read it once
                share(names)
            aliases = entity_aliases(self.g, self.config.interpretation.alias_predicates)
            self._names = build_name_index(names, self.config.interpretation.scan_min_length, aliases)
        return self._names

    def warm(self) -> None:
        """Build the name dictionary now (a server does this before it says it is ready)."""
        self._name_index()

    def profile(self, name: str) -> Profile | None:
        """Types and edge labels of the entity ``name`` (None when there is no such entity)."""
        if name in self._profiles:
            self._profiles.move_to_end(name)
            return self._profiles[name]
        from kgqa_cli.graph.queries import entity_profile

        found = entity_profile(self.g, name)
        profile = None if found is None else Profile(frozenset(found["types"]), frozenset(found["out"]),
                                                     frozenset(found["in"]))
        self._profiles[name] = profile
        if len(self._profiles) > self.config.interpretation.profile_cache:
            self._profiles.popitem(last=False)
        return profile

    def kind_of(self, profile: Profile | None) -> set[str]:
        """The reference kinds (person, work, place, organisation) of an entity's types."""
        if profile is None:
            return set()
        return {kind for t in profile.types for kind in self._kinds_of_type.get(t, ())}

    # -------------------------------------------------------------- candidates

    def entity_candidates(self, question: str, tags: list[str], slots: dict[str, list[str]],
                          conversation: Conversation | None) -> tuple[list[EntityCandidate], list[str]]:
        """Every candidate entity with its score, best first, and notes on what was tried (a
        :class:`SkippedQuoteNote` for each quoted segment that names nothing in the graph)."""
        weights = self.config.interpretation
        notes: list[str] = []
        norm, offsets = normalize_question(question)
        back = {original: i for i, original in reversed(list(enumerate(offsets)))}
        tagged = [(kind, back.get(start, 0), (back.get(end - 1, len(norm) - 1) + 1))
                  for kind, start, end in tagged_spans(tags) if start < len(question)]
        best: dict[str, EntityCandidate] = {}

        def offer(candidate: EntityCandidate) -> None:
            held = best.get(candidate.name)
            if held is None or candidate.score > held.score:
                best[candidate.name] = candidate

        # Every graph name, and every other way of writing one, inside the question.
        hits = self._name_index().find(norm)
        # A quoted segment that names nothing (a nickname: “小李子”迪卡普里奥) is neither the
        # entity nor read for names; the note gives its span so it counts as explained.
        skipped = [(start, end) for start, end in _quoted_segments(norm)
                   if not any(s == start + 1 and e == end - 1 for s, e, _, _ in hits)]
        if skipped:
            notes.extend(SkippedQuoteNote(norm[start + 1:end - 1], (start, end)) for start, end in skipped)
            hits = [hit for hit in hits if not any(s <= hit[0] and hit[1] <= e for s, e in skipped)]
            tagged = [(kind, *span) for kind, start, end in tagged
                      if (span := _outside((start, end), skipped)) is not None]
        entity_spans = [(s, e) for kind, s, e in tagged if kind != "context"]
        matches = [(s, e, phrase) for s, e, phrase, (is_name, _) in hits if is_name]
        found_names = {name for _, _, name in matches}
        hit_spans = [(s, e) for s, e, _, _ in hits]
        # Names written otherwise (homonyms, transliterations, aliases); a descriptor they take
        # in (演员张伟) widens the span, and names inside it rank down like those inside a name.
        written = self._variant_candidates(norm, [(s, e, v) for s, e, _, (_, v) in hits if v], hit_spans,
                                           entity_spans)
        hit_spans += [c.span for c in written if c.method == "homonym" and c.span is not None]
        for candidate in written:
            offer(candidate)
        # The tagged mentions, linked as before; the costly approximate match only for a mention
        # that nothing found in the question covers.
        for kind, start, end in tagged:
            if kind == "context":
                continue
            mention = norm[start:end]
            covered = any(_overlap((start, end), span) >= 0.5 for span in hit_spans)
            link = (self.linker.link(mention, approximate=not covered, known=normalize_name(mention) in found_names)
                    if mention else None)
            if link is None:
                if not covered:
                    notes.append(f"slot {mention!r} links to no entity")
                continue
            score = weights.method_scores.get(link.method, 0.5) * link.similarity
            offer(EntityCandidate(link.name, mention, link.method, score, (start, end)))
        for start, end, name in matches:
            overlap = max((_overlap((start, end), span) for span in entity_spans), default=0.0)
            score = weights.scan_score + weights.scan_overlap_bonus * overlap
            if any(s <= start and end <= e and (e - s) > (end - start) for s, e in hit_spans):
                score *= weights.shadowed_factor  # a name inside a longer name of the question
            offer(EntityCandidate(name, name, "scan", score, (start, end)))
        # A referring word stands for an entity of the conversation; with no earlier turn it
        # stands for nothing, and the note says so rather than looking 他 up as a name.
        for reference in self._references_in(norm, tagged, [(s, e, p) for s, e, p, _ in hits]):
            if conversation is None or not conversation.turns:
                notes.append(ReferenceNote(reference[2], earlier=False))
                continue
            resolved = self._resolve_reference(reference, conversation)
            for candidate in resolved:
                offer(candidate)
            if not resolved:
                notes.append(ReferenceNote(reference[2], earlier=True))
        ranked = sorted(best.values(), key=lambda c: (-c.score, -len(c.name), c.name))
        return ranked[: weights.max_entities], notes

    def _variant_candidates(self, norm: str, found: list[tuple[int, int, tuple[NameVariant, ...]]],
                            hit_spans: list[tuple[int, int]],
                            entity_spans: list[tuple[int, int]]) -> list[EntityCandidate]:
        """Candidates of the names written otherwise found in the question, scored as a scanned
        name times ``variant_scores`` of their kind. Homonyms of one written name (张伟: 张伟(演员),
        张伟(歌手)) score alike unless a descriptor next to it (演员张伟, 张伟这位歌手) states one's
        disambiguator or type: that one then scores ``described``, its siblings ``other_homonym``."""
        weights = self.config.interpretation
        factors = weights.variant_scores
        candidates: list[EntityCandidate] = []
        for start, end, variants in found:
            shadowed = any(s <= start and end <= e and (e - s) > (end - start) for s, e in hit_spans)
            homonyms = [v for v in variants if v.method == "homonym"]
            stated = {v.name: self._stated_descriptor(norm, start, end, [v.descriptor]) for v in homonyms}
            if homonyms and not any(stated.values()) and len(homonyms) <= _TYPED_HOMONYMS:
                # No disambiguator stated: a type may be (歌手张伟 of a 张伟(1975年) typed 歌手).
                for v in homonyms:
                    profile = self.profile(v.name)
                    stated[v.name] = self._stated_descriptor(norm, start, end, sorted(profile.types) if profile else [])
            any_stated = any(span is not None for span in stated.values())
            for variant in variants:
                span, kind = (start, end), variant.method
                if variant.method == "homonym":
                    said = stated[variant.name]
                    span, kind = (said, "described") if said else ((start, end), "other_homonym" if any_stated else "homonym")
                overlap = max((_overlap(span, tagged) for tagged in entity_spans), default=0.0)
                score = factors.get(kind, 0.5) * (weights.scan_score + weights.scan_overlap_bonus * overlap)
                if shadowed and kind != "described":
                    score *= weights.shadowed_factor
                candidates.append(EntityCandidate(variant.name, norm[span[0]:span[1]], variant.method, score, span,
                                                  descriptor=variant.descriptor))
        return candidates

    @staticmethod
    def _stated_descriptor(norm: str, start: int, end: int, words: list[str | None]) -> tuple[int, int] | None:
        """The span of the name written at ``start:end`` with the descriptor next to it when that
        descriptor is part of one of ``words`` (a disambiguator, types): 演员张伟, 男演员张伟,
        张伟这位演员; None when the question states none of them."""
        words = [word for word in words if word]
        if not words:
            return None

        def fits(piece: str) -> bool:
            return any(piece in word for word in words) and (len(piece) >= 2 or piece in words)

        before = norm[max(0, start - _DESCRIPTOR_REACH):start]
        lead = next((n for n in range(len(before), 0, -1) if fits(before[-n:])), 0)
        after = norm[end:end + _DESCRIPTOR_REACH]
        filler = next((f for f in _DESCRIPTOR_FILLERS if after.startswith(f)), "")
        trail = next((n for n in range(len(after), len(filler), -1) if fits(after[len(filler):n])), 0)
        if not lead and not trail:
            return None
        return start - lead, end + trail

    def _references_in(self, norm: str, tagged: list[tuple[str, int, int]],
                       matches: list[tuple[int, int, str]]) -> list[tuple[int, int, str, frozenset | None]]:
        """Referring words with the kinds they stand for: those of the configured lists, except
        inside a graph name of the question (吉他 holds 他), and those the model tagged
        ``context`` (the kinds of the listed words inside them; any kind when there are none)."""
        found: dict[tuple[int, int], tuple[int, int, str, frozenset | None]] = {}
        for start, end, phrase, kinds in self._references.find(norm):
            if any(s <= start and end <= e for s, e, _ in matches):
                continue
            found[(start, end)] = (start, end, phrase, kinds)
        for kind, start, end in tagged:
            if kind == "context" and not any(s <= start and end <= e for s, e in found):
                phrase = norm[start:end]
                known = frozenset().union(*(k for _, _, p, k in found.values() if p in phrase and k))
                found[(start, end)] = (start, end, phrase, known or None)
        # The longest reference wins where they overlap (这部电影 over 这部).
        chosen: list[tuple[int, int, str, frozenset | None]] = []
        for item in sorted(found.values(), key=lambda r: (-(r[1] - r[0]), r[0])):
            if not any(item[0] < c[1] and c[0] < item[1] for c in chosen):
                chosen.append(item)
        return chosen

    def _resolve_reference(self, reference: tuple[int, int, str, frozenset | None],
                           conversation: Conversation, limit: int = 3) -> list[EntityCandidate]:
        """The entities of the conversation a referring word may stand for: those of its kinds,
        in resolution order, the first scored ``context_score`` and each next one
        ``context_decay`` less. All are weighed, so 那他的妻子是谁 reads 他 as the one of them
        who has a wife in the graph; with equal evidence the first wins."""
        start, end, phrase, kinds = reference
        weights = self.config.interpretation
        found: list[EntityCandidate] = []
        for name, _back, _role in conversation.referents():
            if any(candidate.name == name for candidate in found):
                continue
            profile = self.profile(name)
            if profile is None or not (kinds is None or kinds & self.kind_of(profile)):
                continue
            score = weights.context_score - weights.context_decay * len(found)
            found.append(EntityCandidate(name, phrase, "context", score, (start, end), reference=phrase))
            if len(found) == limit:
                break
        return found

    # -------------------------------------------------------------- readings

    def keyword_hits(self, norm: str) -> list[tuple[int, int, str, Any]]:
        """(start, end, word, predicates) of every lexicon word in a normalised question."""
        return self._keywords.find(norm)

    def readings(self, question: str, prediction: Any, candidates: list[EntityCandidate]) -> list[Reading]:
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
            span = candidate.span or (0, 0)
            keywords: dict[str, str] = {}
            for start, end, word, predicates in keyword_hits:
                if start < span[1] and span[0] < end:
                    continue  # a keyword inside the entity's own name says nothing
                for predicate in predicates:
                    if len(word) > len(keywords.get(predicate, "")):
                        keywords[predicate] = word
            edges = [(p, "forward") for p in sorted(profile.out_labels)] + [(p, "reverse") for p in sorted(profile.in_labels)]
            for predicate, direction in edges:
                intent, p = self._route_evidence(probability, predicate, direction)
                keyword = keywords.get(predicate)
                score = (weights.intent_weight * p + weights.entity_weight * candidate.score
                         + (weights.keyword_weight * min(1.0, 0.7 + 0.1 * len(keyword)) if keyword else 0.0))
                if direction == "reverse" and p < weights.min_route_probability and not keyword:
                    continue  # a reverse edge nobody asked about (every film has in-edges)
                found.append(Reading(candidate, predicate, direction, intent, p, keyword, score))
                best = max(best, score)
        found.sort(key=lambda r: (-r.score, -r.entity.score, r.predicate, r.direction))
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

    def out_of_scope(self, prediction: Any, best: Reading | None) -> bool:
        """The model calls it out of scope and nothing in the question says otherwise."""
        p_none = dict(prediction.ranked).get(NONE_INTENT, 0.0)
        return p_none >= self.config.interpretation.none_threshold and (best is None or best.keyword is None)


def reading_summary(readings: list[Reading], limit: int) -> list[dict]:
    """The best ``limit`` readings as JSON rows."""
    return [reading.to_json() for reading in readings[:limit]]


def candidate_json(candidate: EntityCandidate) -> dict:
    """An entity candidate as the answer's ``entity`` field (mention, name, method, similarity)."""
    data = {"mention": candidate.mention, "name": candidate.name, "method": candidate.method,
            "similarity": round(candidate.score, 4)}
    if candidate.reference is not None:
        data["reference"] = candidate.reference
    return data

