"""Character vocabulary: every character is a token; unseen characters map to the unknown id."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from kgqa_cli.errors import InputDataError
from kgqa_cli.io import write_json

PAD, UNK = "<pad>", "<unk>"
END = "\x00"  # pairs with a text's last character in its last bigram


def bigrams(text: str) -> list[str]:
    """One token per character: the character and the next one (the last with ``END``)."""
    padded = text + END
    return [padded[i:i + 2] for i in range(len(text))]


class CharVocab:
    """Maps characters to ids; id 0 is padding, id 1 the unknown character."""

    def __init__(self, chars: Iterable[str]) -> None:
        self.itos = [PAD, UNK, *chars]
        self.stoi = {char: index for index, char in enumerate(self.itos)}

    @classmethod
    def build(cls, texts: Iterable[str] | Iterable[list[str]], min_count: int = 1) -> CharVocab:
        """Characters (or the tokens of token lists, such as bigrams) seen at least ``min_count``
        times, most frequent first (ties by code point)."""
        counts = Counter(char for text in texts for char in text)
        chars = sorted((c for c, n in counts.items() if n >= min_count), key=lambda c: (-counts[c], c))
        return cls(chars)

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: Iterable[str]) -> list[int]:
        """One id per character (or per bigram, given a text's :func:`bigrams`)."""
        return [self.stoi.get(char, 1) for char in text]

    def save(self, path: Path) -> None:
        write_json(path, {"itos": self.itos})

    @classmethod
    def load(cls, path: Path) -> CharVocab:
        try:
            itos = json.loads(Path(path).read_text(encoding="utf-8"))["itos"]
        except (OSError, ValueError, KeyError) as exc:
            raise InputDataError(f"{path}: not a vocabulary file ({exc})") from exc
        return cls(itos[2:])
