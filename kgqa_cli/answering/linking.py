"""Entity linking: question text of a slot -> the name of a graph vertex.

Exact name first, then the normalised name (full/half width, whitespace, 《》 stripped). Failing
those, the better of two matches over the graph's entity names (read once per process and kept):
a fuzzy one, where candidates share the mention's rarest characters (a bounded number of names is
compared, whatever the graph's size) and the best difflib ratio above the threshold wins (ties to
the shorter, then alphabetically first name), and the longest name inside the mention covering
at least half of it, scored by that share (the tagger sometimes runs a name on into the next
words: 哈姆雷特在美国 -> 哈姆雷特).
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gremlin_python.process.graph_traversal import GraphTraversalSource

# The most names one fuzzy lookup compares with the mention.
FUZZY_CANDIDATES = 5000


@dataclass(frozen=True)
class Link:
    """A mention linked to a vertex name; ``method`` is exact, normalized, contained or fuzzy."""

    mention: str
    name: str
    method: str
    similarity: float


class EntityLinker:
    """Links mentions to names of one graph; the name index is built on the first fuzzy lookup."""

    def __init__(self, g: GraphTraversalSource, fuzzy_threshold: float) -> None:
        self.g = g
        self.fuzzy_threshold = fuzzy_threshold
        self._names: list[str] | None = None
        self._indexed = False
        self._name_set: set[str] = set()
        self._by_char: dict[str, list[int]] = {}

    def share_names(self, names: list[str]) -> None:
        """Use the graph's sorted entity names another reader already fetched (the interpreter's
        dictionary), so the first approximate match reads none."""
        if self._names is None:
            self._names = names

    def _index(self) -> list[str]:
        if self._names is None:
            from kgqa_cli.graph.queries import entity_names

            self._names = entity_names(self.g)
        if not self._indexed:
            self._indexed = True
            self._name_set = set(self._names)
            by_char: dict[str, list[int]] = defaultdict(list)
            for number, name in enumerate(self._names):
                for char in set(name):
                    by_char[char].append(number)
            self._by_char = dict(by_char)
        return self._names

    def link(self, mention: str, approximate: bool = True, known: bool = False) -> Link | None:
        """The vertex a mention refers to, or None when nothing is close enough. Without
        ``approximate`` only an exact or normalised name counts (the fuzzy match reads every name
        sharing a character: costly on a large graph); ``known`` says the caller already found
        the normalised mention among the graph's names."""
        from kgqa_cli.graph.normalize import normalize_name
        from kgqa_cli.graph.queries import entity_exists

        normalized = normalize_name(mention)
        if not normalized:
            return None
        if known or entity_exists(self.g, normalized):
            method = "exact" if normalized == mention else "normalized"
            return Link(mention, normalized, method, 1.0)
        if not approximate:
            return None
        candidates = [link for link in (self.fuzzy(normalized), self.contained(normalized)) if link is not None]
        return max(candidates, key=lambda link: link.similarity) if candidates else None

    def contained(self, normalized: str) -> Link | None:
        """The longest entity name (2+ characters, at least half the mention) inside the mention."""
        self._index()
        for size in range(len(normalized) - 1, max(2, (len(normalized) + 1) // 2) - 1, -1):
            found = sorted({normalized[i : i + size] for i in range(len(normalized) - size + 1)} & self._name_set)
            if found:
                return Link(normalized, found[0], "contained", round(size / len(normalized), 4))
        return None

    def fuzzy(self, normalized: str) -> Link | None:
        """The closest entity name above the threshold (difflib ratio), if any."""
        names = self._index()
        # Names sharing the mention's rarest characters, up to a budget: a fuzzy match shares
        # most characters, and on a large graph the common ones (的, 王) are in half the names.
        candidates: set[int] = set()
        for postings in sorted((self._by_char.get(char, ()) for char in set(normalized)), key=len):
            if candidates and len(candidates) + len(postings) > FUZZY_CANDIDATES:
                break
            candidates.update(postings[:FUZZY_CANDIDATES])
        best: tuple[float, int, str] | None = None
        matcher = difflib.SequenceMatcher(autojunk=False)
        matcher.set_seq2(normalized)
        for number in candidates:
            name = names[number]
            matcher.set_seq1(name)
            if matcher.real_quick_ratio() < self.fuzzy_threshold or matcher.quick_ratio() < self.fuzzy_threshold:
                continue
            score = matcher.ratio()
            key = (-score, len(name), name)
            if score >= self.fuzzy_threshold and (best is None or key < (-best[0], best[1], best[2])):
                best = (score, len(name), name)
        if best is None:
            return None
        return Link(normalized, best[2], "fuzzy", round(best[0], 4))
