"""Question text with offsets, and the phrase automaton every dictionary scan of it uses."""

from __future__ import annotations

from functools import lru_cache
from typing import Generic, TypeVar

V = TypeVar("V")


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


def overlap(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Intersection over union of two character ranges."""
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union else 0.0


class PhraseIndex(Generic[V]):
    """An Aho-Corasick automaton over phrases; :meth:`find` gives every occurrence in a text."""

    def __init__(self, phrases: dict[str, V]) -> None:
        import ahocorasick

        self.size = len(phrases)
        self._automaton = ahocorasick.Automaton()
        for phrase, value in phrases.items():
            if phrase:
                self._automaton.add_word(phrase, (phrase, value))
        if self.size:
            self._automaton.make_automaton()

    def find(self, text: str) -> list[tuple[int, int, str, V]]:
        """(start, end, phrase, value) of every occurrence, overlapping ones included."""
        if not self.size or not text:
            return []
        return [(end + 1 - len(phrase), end + 1, phrase, value)
                for end, (phrase, value) in self._automaton.iter(text)]
