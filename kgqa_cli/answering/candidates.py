"""The entities a question may be about, each with how it was found and a score.

Entity candidates come from three places:

* the tagged slot mentions, linked as :class:`~kgqa_cli.answering.linking.EntityLinker` does;
* a dictionary scan: every graph name inside the question, found by an Aho-Corasick automaton
  over the normalised vertex names (built once per graph, rebuilt when the graph is replaced),
  scored by its overlap with the tagged span, names inside a longer match ranked down. The same
  automaton holds the names as people write them (:mod:`kgqa_cli.answering.names`): a bracketed
  name without its disambiguator (张伟 for 张伟(演员) and 张伟(歌手): a descriptor next to it,
  演员张伟, picks one, else all score alike), a transliterated name with other or no dots or by
  its last part (贝克汉姆 for 大卫·贝克汉姆), and the objects of the graph's alias edges (北大 for
  北京大学 -简称-> 北大). A quoted segment naming nothing (“小李子”迪卡普里奥) is skipped, with a note;
* the conversation: a referring word (他, 这部电影, 那里...) stands for the latest answer or
  entity of the matching kind (person, work, place, organisation, by the vertex types).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kgqa_cli.answering.answer import EntityJson
from kgqa_cli.answering.names import NameEntry, NameVariant
from kgqa_cli.answering.phrases import PhraseIndex, normalize_question, overlap
from kgqa_cli.graph.normalize import normalize_name
from kgqa_cli.understanding.runtime import tagged_spans

if TYPE_CHECKING:
    from kgqa_cli.answering.config import AskConfig
    from kgqa_cli.answering.conversation import Conversation
    from kgqa_cli.answering.profiles import GraphProfiles

Span = tuple[int, int]
# A tagged span of the question: (slot kind, start, end) in characters of the normalised question.
Tagged = tuple[str, int, int]
# A referring word: (start, end, phrase, the kinds it stands for; None: any kind).
Reference = tuple[int, int, str, frozenset[str] | None]
NameHit = tuple[int, int, str, NameEntry]


@dataclass(frozen=True)
class EntityCandidate:
    """A vertex the question may be about, and how it was found."""

    name: str
    mention: str
    method: str  # exact, normalized, contained, fuzzy, scan, homonym, spelling, transliteration, alias or context
    score: float
    span: Span | None = None  # characters of the question it covers (end exclusive)
    reference: str | None = None  # the referring word, for a context candidate
    descriptor: str | None = None  # a homonym's bracketed disambiguator (演员 of 张伟(演员))


def candidate_json(candidate: EntityCandidate) -> EntityJson:
    """An entity candidate as the answer's ``entity`` field (mention, name, method, similarity)."""
    data: EntityJson = {"mention": candidate.mention, "name": candidate.name, "method": candidate.method,
                        "similarity": round(candidate.score, 4)}
    if candidate.reference is not None:
        data["reference"] = candidate.reference
    return data


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
    span: Span

    def __new__(cls, phrase: str, span: Span) -> SkippedQuoteNote:
        note = super().__new__(cls, f"quoted {phrase!r} names nothing in the graph: skipped")
        note.phrase, note.span = phrase, span
        return note


def explained_spans(notes: Sequence[str]) -> list[Span]:
    """Spans of the question that the candidate search accounted for without an entity (notes
    that carry a ``span``: a quoted nickname skipped, a referring word)."""
    return [note.span for note in notes if isinstance(note, SkippedQuoteNote) and note.span]


# Quotes around a nickname or a name in running text (NFKC turns ＂ into ").
_QUOTES = {"“": "”", "「": "」", "『": "』", "‘": "’", '"': '"', "'": "'"}
# How far from a written name a descriptor of it is looked for, and words between them (张伟这位演员).
_DESCRIPTOR_REACH = 12
_DESCRIPTOR_FILLERS = ("这位", "这个", "那位", "那个", "是位", "是个")
# Homonyms of one written name whose types are read when no disambiguator is stated.
_TYPED_HOMONYMS = 8


def _quoted_segments(norm: str) -> list[Span]:
    """(start, end) of each quoted segment of a normalised question, quotes included."""
    segments: list[Span] = []
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


def _outside(span: Span, skipped: list[Span]) -> Span | None:
    """``span`` with the skipped segments at its ends cut off; None when nothing is left."""
    start, end = span
    for s, e in sorted(skipped):
        if s <= start < e:
            start = e
        if s < end <= e:
            end = s
    return (start, end) if start < end else None


def _shadowed(start: int, end: int, spans: list[Span]) -> bool:
    """Whether ``start:end`` lies inside a longer span of ``spans`` (a name inside a longer name)."""
    return any(s <= start and end <= e and (e - s) > (end - start) for s, e in spans)


def _tagged_in_norm(question: str, norm: str, offsets: tuple[int, ...], tags: list[str]) -> list[Tagged]:
    """The model's tagged spans of ``question`` in characters of its normalised form."""
    back = {original: i for i, original in reversed(list(enumerate(offsets)))}
    return [(kind, back.get(start, 0), (back.get(end - 1, len(norm) - 1) + 1))
            for kind, start, end in tagged_spans(tags) if start < len(question)]


def _skip_quotes(norm: str, hits: list[NameHit], tagged: list[Tagged],
                 notes: list[str]) -> tuple[list[NameHit], list[Tagged]]:
    """The name hits and tagged spans without the quoted segments that name nothing (a nickname:
    “小李子”迪卡普里奥): neither the entity nor read for names; the note gives the segment's span so
    it counts as explained."""
    skipped = [(start, end) for start, end in _quoted_segments(norm)
               if not any(s == start + 1 and e == end - 1 for s, e, _, _ in hits)]
    if not skipped:
        return hits, tagged
    notes.extend(SkippedQuoteNote(norm[start + 1:end - 1], (start, end)) for start, end in skipped)
    hits = [hit for hit in hits if not any(s <= hit[0] and hit[1] <= e for s, e in skipped)]
    tagged = [(kind, *span) for kind, start, end in tagged if (span := _outside((start, end), skipped)) is not None]
    return hits, tagged


def _stated_descriptor(norm: str, start: int, end: int, words: Sequence[str | None]) -> Span | None:
    """The span of the name written at ``start:end`` with the descriptor next to it when that
    descriptor is part of one of ``words`` (a disambiguator, types): 演员张伟, 男演员张伟,
    张伟这位演员; None when the question states none of them."""
    stated = [word for word in words if word]
    if not stated:
        return None

    def fits(piece: str) -> bool:
        return any(piece in word for word in stated) and (len(piece) >= 2 or piece in stated)

    before = norm[max(0, start - _DESCRIPTOR_REACH):start]
    lead = next((n for n in range(len(before), 0, -1) if fits(before[-n:])), 0)
    after = norm[end:end + _DESCRIPTOR_REACH]
    filler = next((f for f in _DESCRIPTOR_FILLERS if after.startswith(f)), "")
    trail = next((n for n in range(len(after), len(filler), -1) if fits(after[len(filler):n])), 0)
    if not lead and not trail:
        return None
    return start - lead, end + trail


class EntityFinder:
    """Finds the entity candidates of a question in one graph (through its :class:`GraphProfiles`)."""

    def __init__(self, graph: GraphProfiles, config: AskConfig) -> None:
        self.graph = graph
        self.config = config
        references: dict[str, frozenset[str]] = {}  # a word may stand for several kinds (它: a work, a place)
        for kind, phrases in config.context.references.items():
            for phrase in phrases:
                references[phrase] = references.get(phrase, frozenset()) | {kind}
        self._references = PhraseIndex(references)

    def find(self, question: str, tags: list[str], slots: dict[str, list[str]],
             conversation: Conversation | None) -> tuple[list[EntityCandidate], list[str]]:
        """Every candidate entity with its score, best first, and notes on what was tried (a
        :class:`SkippedQuoteNote` for each quoted segment that names nothing in the graph)."""
        notes: list[str] = []
        norm, offsets = normalize_question(question)
        tagged = _tagged_in_norm(question, norm, offsets, tags)
        # Every graph name, and every other way of writing one, inside the question.
        hits, tagged = _skip_quotes(norm, self.graph.name_index().find(norm), tagged, notes)
        entity_spans = [(s, e) for kind, s, e in tagged if kind != "context"]
        matches = [(s, e, phrase) for s, e, phrase, (is_name, _) in hits if is_name]
        hit_spans = [(s, e) for s, e, _, _ in hits]
        # Names written otherwise (homonyms, transliterations, aliases); a descriptor they take
        # in (演员张伟) widens the span, and names inside it rank down like those inside a name.
        written = self._variant_candidates(norm, [(s, e, v) for s, e, _, (_, v) in hits if v], hit_spans,
                                           entity_spans)
        hit_spans += [c.span for c in written if c.method == "homonym" and c.span is not None]
        found_names = {name for _, _, name in matches}
        offered = [*written, *self._linked_slots(norm, tagged, hit_spans, found_names, notes),
                   *self._scanned_names(matches, entity_spans, hit_spans),
                   *self._referents(norm, tagged, [(s, e, p) for s, e, p, _ in hits], conversation, notes)]
        best: dict[str, EntityCandidate] = {}
        for candidate in offered:  # the best score of each entity; the first found where they tie
            held = best.get(candidate.name)
            if held is None or candidate.score > held.score:
                best[candidate.name] = candidate
        ranked = sorted(best.values(), key=lambda c: (-c.score, -len(c.name), c.name))
        return ranked[: self.config.interpretation.max_entities], notes

    def _linked_slots(self, norm: str, tagged: list[Tagged], hit_spans: list[Span], found_names: set[str],
                      notes: list[str]) -> list[EntityCandidate]:
        """The tagged mentions, linked; the costly approximate match only for a mention that
        nothing found in the question covers."""
        weights = self.config.interpretation
        found: list[EntityCandidate] = []
        for kind, start, end in tagged:
            if kind == "context":
                continue
            mention = norm[start:end]
            covered = any(overlap((start, end), span) >= 0.5 for span in hit_spans)
            link = (self.graph.linker.link(mention, approximate=not covered,
                                           known=normalize_name(mention) in found_names)
                    if mention else None)
            if link is None:
                if not covered:
                    notes.append(f"slot {mention!r} links to no entity")
                continue
            score = weights.method_scores.get(link.method, 0.5) * link.similarity
            found.append(EntityCandidate(link.name, mention, link.method, score, (start, end)))
        return found

    def _scanned_names(self, matches: list[tuple[int, int, str]], entity_spans: list[Span],
                       hit_spans: list[Span]) -> list[EntityCandidate]:
        """The graph names found in the question, scored by their overlap with a tagged span."""
        weights = self.config.interpretation
        found: list[EntityCandidate] = []
        for start, end, name in matches:
            best_overlap = max((overlap((start, end), span) for span in entity_spans), default=0.0)
            score = weights.scan_score + weights.scan_overlap_bonus * best_overlap
            if _shadowed(start, end, hit_spans):
                score *= weights.shadowed_factor  # a name inside a longer name of the question
            found.append(EntityCandidate(name, name, "scan", score, (start, end)))
        return found

    def _referents(self, norm: str, tagged: list[Tagged], matches: list[tuple[int, int, str]],
                   conversation: Conversation | None, notes: list[str]) -> list[EntityCandidate]:
        """What the referring words stand for in the conversation; with no earlier turn a word
        stands for nothing, and the note says so rather than looking 他 up as a name."""
        found: list[EntityCandidate] = []
        for reference in self._references_in(norm, tagged, matches):
            if conversation is None or not conversation.turns:
                notes.append(ReferenceNote(reference[2], earlier=False))
                continue
            resolved = self._resolve_reference(reference, conversation)
            found.extend(resolved)
            if not resolved:
                notes.append(ReferenceNote(reference[2], earlier=True))
        return found

    def _variant_candidates(self, norm: str, found: list[tuple[int, int, tuple[NameVariant, ...]]],
                            hit_spans: list[Span], entity_spans: list[Span]) -> list[EntityCandidate]:
        """Candidates of the names written otherwise found in the question, scored as a scanned
        name times ``variant_scores`` of their kind. Homonyms of one written name (张伟: 张伟(演员),
        张伟(歌手)) score alike unless a descriptor next to it (演员张伟, 张伟这位歌手) states one's
        disambiguator or type: that one then scores ``described``, its siblings ``other_homonym``."""
        weights = self.config.interpretation
        factors = weights.variant_scores
        candidates: list[EntityCandidate] = []
        for start, end, variants in found:
            shadowed = _shadowed(start, end, hit_spans)
            stated = self._stated_homonyms(norm, start, end, variants)
            any_stated = any(span is not None for span in stated.values())
            for variant in variants:
                span, kind = (start, end), variant.method
                if variant.method == "homonym":
                    said = stated[variant.name]
                    span, kind = (said, "described") if said else ((start, end), "other_homonym" if any_stated else "homonym")
                best_overlap = max((overlap(span, tagged) for tagged in entity_spans), default=0.0)
                score = factors.get(kind, 0.5) * (weights.scan_score + weights.scan_overlap_bonus * best_overlap)
                if shadowed and kind != "described":
                    score *= weights.shadowed_factor
                candidates.append(EntityCandidate(variant.name, norm[span[0]:span[1]], variant.method, score, span,
                                                  descriptor=variant.descriptor))
        return candidates

    def _stated_homonyms(self, norm: str, start: int, end: int,
                         variants: tuple[NameVariant, ...]) -> dict[str, Span | None]:
        """For each homonym among ``variants``, the span of the name with the descriptor the
        question states of it: its disambiguator, or failing any, one of its types (歌手张伟 of a
        张伟(1975年) typed 歌手); None for a homonym stated by nothing."""
        homonyms = [v for v in variants if v.method == "homonym"]
        stated = {v.name: _stated_descriptor(norm, start, end, [v.descriptor]) for v in homonyms}
        if homonyms and not any(stated.values()) and len(homonyms) <= _TYPED_HOMONYMS:
            for v in homonyms:
                profile = self.graph.profile(v.name)
                stated[v.name] = _stated_descriptor(norm, start, end, sorted(profile.types) if profile else [])
        return stated

    def _references_in(self, norm: str, tagged: list[Tagged],
                       matches: list[tuple[int, int, str]]) -> list[Reference]:
        """Referring words with the kinds they stand for: those of the configured lists, except
        inside a graph name of the question (吉他 holds 他), and those the model tagged
        ``context`` (the kinds of the listed words inside them; any kind when there are none)."""
        found: dict[Span, Reference] = {}
        for start, end, phrase, kinds in self._references.find(norm):
            if any(s <= start and end <= e for s, e, _ in matches):
                continue
            found[(start, end)] = (start, end, phrase, kinds)
        for kind, start, end in tagged:
            if kind == "context" and not any(s <= start and end <= e for s, e in found):
                phrase = norm[start:end]
                known = frozenset[str]().union(*(k for _, _, p, k in found.values() if k and p in phrase))
                found[(start, end)] = (start, end, phrase, known or None)
        # The longest reference wins where they overlap (这部电影 over 这部).
        chosen: list[Reference] = []
        for item in sorted(found.values(), key=lambda r: (-(r[1] - r[0]), r[0])):
            if not any(item[0] < c[1] and c[0] < item[1] for c in chosen):
                chosen.append(item)
        return chosen

    def _resolve_reference(self, reference: Reference, conversation: Conversation,
                           limit: int = 3) -> list[EntityCandidate]:
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
            profile = self.graph.profile(name)
            if profile is None or not (kinds is None or kinds & self.graph.kind_of(profile)):
                continue
            score = weights.context_score - weights.context_decay * len(found)
            found.append(EntityCandidate(name, phrase, "context", score, (start, end), reference=phrase))
            if len(found) == limit:
                break
        return found
