"""A character tokenizer: one id per character, vocabulary built from the training questions.

Every input maps to exactly ``min(len(text), max_length - 2)`` character ids between [CLS] and [SEP],
so the slot tag of character i sits at position i + 1. Characters are folded (full width to half
width, upper to lower case) only when the fold keeps them one character long; anything unseen
(emoji, rare characters) becomes [UNK]. Longer input is cut at ``max_length - 2`` characters.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from kgqa_cli.errors import InputDataError
from kgqa_cli.io import write_json

PAD, UNK, CLS, SEP = "[PAD]", "[UNK]", "[CLS]", "[SEP]"
SPECIAL = (PAD, UNK, CLS, SEP)


def fold(char: str) -> str:
    """The form a character is looked up under; always one character."""
    folded = unicodedata.normalize("NFKC", char).lower()
    if len(folded) != 1:
        return char
    return " " if folded.isspace() else folded


class CharTokenizer:
    """Characters to ids and back; saved as ``vocab.json`` (a list: index = id)."""

    def __init__(self, tokens: list[str], max_length: int) -> None:
        if list(tokens[: len(SPECIAL)]) != list(SPECIAL):
            raise InputDataError(f"a vocabulary must start with {', '.join(SPECIAL)}")
        self.tokens = list(tokens)
        self.index = {token: i for i, token in enumerate(self.tokens)}
        self.max_length = max_length
        self.pad_id, self.unk_id, self.cls_id, self.sep_id = (self.index[t] for t in SPECIAL)

    @classmethod
    def build(cls, texts: Iterable[str], max_length: int, min_count: int = 1) -> CharTokenizer:
        """A vocabulary of the characters seen at least ``min_count`` times, in a stable order."""
        counts = Counter(fold(ch) for text in texts for ch in text)
        chars = sorted(ch for ch, n in counts.items() if n >= min_count and ch not in SPECIAL)
        return cls([*SPECIAL, *chars], max_length)

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def max_chars(self) -> int:
        """How many characters of a question are read; the rest is cut off."""
        return self.max_length - 2

    def encode(self, text: str) -> list[int]:
        """[CLS] + one id per character (at most ``max_chars``) + [SEP]."""
        ids = [self.index.get(fold(ch), self.unk_id) for ch in text[: self.max_chars]]
        return [self.cls_id, *ids, self.sep_id]

    def save(self, folder: Path) -> None:
        write_json(Path(folder) / "vocab.json", {"max_length": self.max_length, "tokens": self.tokens})

    @classmethod
    def load(cls, folder: Path) -> CharTokenizer:
        path = Path(folder) / "vocab.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(data["tokens"], int(data["max_length"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputDataError(f"{path}: not a vocabulary file ({exc})") from exc
