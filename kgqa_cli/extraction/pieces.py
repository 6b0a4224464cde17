"""Cutting long texts into pieces the extractor reads comfortably, at punctuation where it can."""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])")
_CLAUSE_END = re.compile(r"(?<=[，,、：:])")


def split_text(text: str, max_chars: int) -> list[str]:
    """Pieces of at most ``max_chars`` characters, cut at sentence punctuation, then at commas.

    A clause still longer than ``max_chars`` is cut at ``max_chars``; the pieces always join back
    to the whole text, so nothing is dropped.
    """
    if len(text) <= max_chars:
        return [text]
    pieces: list[str] = []
    for sentence in _pack(_SENTENCE_END.split(text), max_chars):
        if len(sentence) <= max_chars:
            pieces.append(sentence)
            continue
        for clause in _pack(_CLAUSE_END.split(sentence), max_chars):
            pieces.extend(clause[start:start + max_chars] for start in range(0, len(clause), max_chars))
    return [piece for piece in pieces if piece]


def _pack(parts: list[str], max_chars: int) -> list[str]:
    """Join consecutive parts greedily while they fit in ``max_chars``."""
    packed: list[str] = []
    for part in parts:
        if packed and len(packed[-1]) + len(part) <= max_chars:
            packed[-1] += part
        elif part:
            packed.append(part)
    return packed


def split_texts(texts: list[str], max_chars: int) -> tuple[list[tuple[int, str]], list[int]]:
    """The pieces of every text, as (text number, piece), and where each piece begins in its
    text (for the triples' offsets to point into the whole text)."""
    pieces: list[tuple[int, str]] = []
    starts: list[int] = []
    for number, text in enumerate(texts):
        start = 0
        for piece in split_text(text, max_chars):
            pieces.append((number, piece))
            start = text.index(piece, start)  # pieces join back to the text, in order
            starts.append(start)
            start += len(piece)
    return pieces, starts
