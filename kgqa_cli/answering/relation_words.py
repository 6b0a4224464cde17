"""The relation words of a question: lexicon words that name an edge, grouped into hops, and the
words around them that count (几部), join (和) or name the kind of answer (哪座城市)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kgqa_cli.answering.phrases import normalize_question

# Counting words: 几/多少 with a classifier (几部电影, 多少首歌). 多少 alone asks for a value
# (人口有多少), and 几年 is a duration, so neither counts.
COUNT_WORDS = re.compile(r"(几|多少)(部|个|首|本|位|家|所|名|种|座|条|张|支|项|集|任|次|场|届|门|档|人)"
                         r"|多少(?=电影|电视剧|作品|部|首|歌|本书|书|小说|节目|角色|公司|学校|奖)")
# Words that join two entities under one relation word (A和B主演的电影).
CONJUNCTIONS = ("和", "与", "跟", "及", "、", "以及", "同", ",", "，")
# Lexicon words that are also question words (在哪, 谁演, 哪国, 多大): they may say which edge the
# first hop takes, but are too much part of the asking to call for a hop of their own.
INTERROGATIVES = ("哪", "谁", "什么", "多少", "多大", "多高", "多长", "几", "吗", "怎么", "何时")
# Words for kinds of things that hold a lexicon word inside them (歌曲 holds 曲): read as the
# kind of answer, never as a relation.
KIND_WORDS = ("歌曲", "电影", "电视剧", "影视作品", "作品", "小说", "图书", "节目", "公司", "片子", "戏", "角色")
# What comes before a word that names the kind of answer rather than a relation (哪座城市).
ASKING_FOR_A_KIND = ("哪", "什么", "哪个", "哪座", "哪所", "哪家", "哪位", "哪部", "哪首", "哪张", "哪些")

Span = tuple[int, int]
# Where the predicate lexicon's words are in a normalised question: (start, end, word, predicates).
KeywordFinder = Callable[[str], Iterable[tuple[int, int, str, Iterable[str]]]]


@dataclass(frozen=True)
class RelationMention:
    """A word of the predicate lexicon in the question, and the predicates it may stand for."""

    start: int
    end: int
    word: str
    predicates: frozenset[str]

    @property
    def interrogative(self) -> bool:
        """Whether the word is also a question word (在哪, 谁演)."""
        return any(part in self.word for part in INTERROGATIVES)


@dataclass
class RelationGroup:
    """Relation words that name one hop (唱…的歌手, 哪个学校毕业: one predicate, two words)."""

    mentions: list[RelationMention]
    predicates: frozenset[str]

    @property
    def words(self) -> list[str]:
        """The words of the group, in order."""
        return [m.word for m in self.mentions]

    @property
    def asks_for_a_hop(self) -> bool:
        """Whether the words name a hop of their own: a word of two characters or more that is
        not a question word (唱 or 在哪 alone does not)."""
        return any(len(m.word) > 1 and not m.interrogative for m in self.mentions)


def count_word_spans(norm: str) -> list[Span]:
    """Where the counting words of a normalised question are."""
    return [(m.start(), m.end()) for m in COUNT_WORDS.finditer(norm)]


def kind_word_spans(norm: str) -> list[Span]:
    """Where the words for kinds of things (电影, 歌曲) are in a normalised question."""
    return [(m.start(), m.end()) for word in KIND_WORDS for m in re.finditer(re.escape(word), norm)]


def asks_for_a_kind(norm: str, mention: RelationMention) -> bool:
    """Whether the word follows 哪/什么 and so names the kind of answer (哪座城市)."""
    return norm[:mention.start].endswith(ASKING_FOR_A_KIND)


class RelationWords:
    """Finds the relation words of a question and groups them into hops: ``related`` maps a
    predicate to those read as the same hop (those an intent's routes take together: 妻子 and
    丈夫 both answer 和谁结婚)."""

    def __init__(self, keyword_hits: KeywordFinder, related: dict[str, set[str]]) -> None:
        self._keyword_hits = keyword_hits
        self._related = related

    def mentions(self, norm: str, taken: list[Span]) -> list[RelationMention]:
        """Lexicon words outside the ``taken`` spans, longest first where they overlap."""
        hits = []
        for start, end, word, predicates in self._keyword_hits(norm):
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

    def shape_of_words(self, question: str) -> str | None:
        """The shape a question's words alone suggest, for a question with no reading in the
        graph (its entity is not there): a count, two relation words joined as constraints
        (A导演、B主演), two in a row (X的导演的妻子), one, or None without any."""
        norm, _ = normalize_question(question)
        counts = count_word_spans(norm)
        mentions = [m for m in self.mentions(norm, [*counts, *kind_word_spans(norm)]) if not m.interrogative]
        groups = self.group(mentions)
        if counts:
            return "count"
        if len(groups) >= 2:
            between = norm[groups[0].mentions[-1].end:groups[1].mentions[0].start]
            joined = any(word in between for word in (*CONJUNCTIONS, "并且", "而且", "同时", "也"))
            return "intersection" if joined else "chain"
        return "one_hop" if groups else None
