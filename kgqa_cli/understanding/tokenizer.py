"""The question model's tokenizers: characters (a model from scratch) or a pretrained checkpoint's.

The character tokenizer gives one id per character, vocabulary built from the training questions.

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
from typing import TYPE_CHECKING

from kgqa_cli.errors import InputDataError
from kgqa_cli.io import write_json

if TYPE_CHECKING:
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

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


class PretrainedTokenizer:
    """A pretrained checkpoint's tokenizer (``tokenizer.json``, run by the ``tokenizers`` package,
    without transformers), with the character span of every token.

    A token is a word piece: most Chinese characters are one token each, but a run of digits or a
    Latin word may be several pieces or one [UNK]; ``encode_spans`` says which characters of the
    question each token covers, so slot tags can move between tokens and characters.
    """

    def __init__(self, backend: Tokenizer, max_length: int, special_ids: dict[str, int]) -> None:
        self.backend = backend
        # The saved file may carry padding or truncation; tokens are counted and cut here instead.
        self.backend.no_padding()
        self.backend.no_truncation()
        self.max_length = max_length
        self.special_ids = dict(special_ids)
        self.pad_id, self.unk_id = special_ids["pad"], special_ids["unk"]
        self.cls_id, self.sep_id = special_ids["cls"], special_ids["sep"]

    @classmethod
    def from_transformers(cls, tokenizer: PreTrainedTokenizerFast, max_length: int) -> PretrainedTokenizer:
        """The backend of a fast ``transformers`` tokenizer (at training time)."""
        ids = {"pad": tokenizer.pad_token_id, "unk": tokenizer.unk_token_id, "cls": tokenizer.cls_token_id,
               "sep": tokenizer.sep_token_id}
        missing = [name for name, value in ids.items() if value is None]
        if missing:
            raise InputDataError(f"the pretrained tokenizer has no {', '.join(missing)} token, which JointBERT needs")
        from tokenizers import Tokenizer

        # A copy: the transformers tokenizer keeps its own settings.
        return cls(Tokenizer.from_str(tokenizer.backend_tokenizer.to_str()), min(max_length, tokenizer.model_max_length),
                   ids)

    def __len__(self) -> int:
        return self.backend.get_vocab_size(with_added_tokens=True)

    @property
    def tokens(self) -> list[str]:
        """The vocabulary (its single characters are what it reads without [UNK])."""
        return list(self.backend.get_vocab(with_added_tokens=True))

    @property
    def max_chars(self) -> int:
        """Most tokens of a question that are read (each covers one character or more)."""
        return self.max_length - 2

    def encode_spans(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """[CLS] + the ids of the first ``max_chars`` tokens + [SEP], and the (start, end)
        characters of ``text`` that each covers ((0, 0) for [CLS] and [SEP])."""
        encoding = self.backend.encode(text, add_special_tokens=False)
        ids = encoding.ids[: self.max_chars]
        offsets = [(start, end) for start, end in encoding.offsets[: self.max_chars]]
        return [self.cls_id, *ids, self.sep_id], [(0, 0), *offsets, (0, 0)]

    def encode(self, text: str) -> list[int]:
        return self.encode_spans(text)[0]

    def save(self, folder: Path) -> None:
        """``tokenizer.json`` (the whole pipeline) and ``tokenizer_meta.json`` (cut-off, special ids)."""
        folder = Path(folder)
        self.backend.save(str(folder / "tokenizer.json"))
        write_json(folder / "tokenizer_meta.json", {"max_length": self.max_length, "special_ids": self.special_ids})

    @classmethod
    def load(cls, folder: Path) -> PretrainedTokenizer:
        from tokenizers import Tokenizer

        folder = Path(folder)
        try:
            meta = json.loads((folder / "tokenizer_meta.json").read_text(encoding="utf-8"))
            return cls(Tokenizer.from_file(str(folder / "tokenizer.json")), int(meta["max_length"]),
                       {k: int(v) for k, v in meta["special_ids"].items()})
        except Exception as exc:  # the tokenizers package raises plain Exception for an unreadable file
            raise InputDataError(f"{folder}: not a saved pretrained tokenizer ({exc})") from exc


# Either tokenizer of a question model.
QuestionTokenizer = CharTokenizer | PretrainedTokenizer


def char_spans(tokenizer: QuestionTokenizer, text: str) -> tuple[list[int], list[tuple[int, int]]]:
    """Token ids and the character span each covers, for either tokenizer (a character token
    covers its one character)."""
    if isinstance(tokenizer, CharTokenizer):
        ids = tokenizer.encode(text)
        return ids, [(0, 0), *((i, i + 1) for i in range(len(ids) - 2)), (0, 0)]
    return tokenizer.encode_spans(text)


def load_tokenizer(folder: Path) -> QuestionTokenizer:
    """The tokenizer a saved question model uses: the pretrained one when ``tokenizer_meta.json``
    is there, else the character vocabulary (``vocab.json``)."""
    if (Path(folder) / "tokenizer_meta.json").is_file():
        return PretrainedTokenizer.load(folder)
    return CharTokenizer.load(folder)
