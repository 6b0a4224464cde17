"""Token positions of a pretrained encoder: the extractor's labels and spans on its tokenizer's tokens.

With ``kg.model.encoder: pretrained`` the pointers tag tokens, not characters. Chinese BERT
tokenizers keep most CJK characters as one token each, but a run of digits (``2019``), a Latin
word (``iPhone``, often several word pieces) or an unknown word (``[UNK]``) is one token or a few
covering several characters, and whitespace is no token at all. The fast tokenizer's offset
mapping ties every token to its characters: a labelled span becomes the tokens from the one that
starts at its first character to the one that ends at its last, and a predicted token span reads
back as exactly the characters its tokens cover.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENCODER_FOLDER = "encoder"  # in a model folder: the encoder's config and tokenizer files


@dataclass
class TokenizedText:
    """One text on the encoder's tokens: ids shifted by one (0 is padding) with the special
    tokens, and each position's first and last character (-1 for a special token)."""

    ids: list[int]
    starts: list[int]
    ends: list[int]

    def token_span(self, head: int, tail: int) -> tuple[int, int] | None:
        """The positions of the character span ``head..tail`` (inclusive), or None when a token
        crosses its border or it lies past the truncated end."""
        first = next((i for i, start in enumerate(self.starts) if start == head), None)
        last = next((i for i, end in enumerate(self.ends) if end == tail), None)
        if first is None or last is None or last < first:
            return None
        return first, last

    def char_span(self, head: int, tail: int) -> tuple[int, int] | None:
        """The characters (first, last, inclusive) of the positions ``head..tail``; None when
        either end is a special token."""
        if not (0 <= head < len(self.starts) and 0 <= tail < len(self.ends)):
            return None
        start, end = self.starts[head], self.ends[tail]
        if start < 0 or end < 0 or end < start:
            return None
        return start, end


class Subwords:
    """A pretrained encoder's fast tokenizer, giving the extractor its positions."""

    def __init__(self, tokenizer: Any, max_tokens: int) -> None:
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        # The Rust tokenizer is set up for truncation on every call: threads extracting batches
        # at once would meet a half-set tokenizer ("Already borrowed").
        self._lock = threading.Lock()

    @property
    def max_chars(self) -> int:
        """The longest piece of text worth giving the encoder: one token per character, besides
        the two special tokens."""
        return max(16, self.max_tokens - 2)

    def tokenize(self, texts: list[str]) -> list[TokenizedText]:
        """Each text on the encoder's tokens, truncated at its longest input."""
        if not texts:
            return []
        with self._lock:
            encoded = self.tokenizer(list(texts), add_special_tokens=True, truncation=True,
                                     max_length=self.max_tokens, return_offsets_mapping=True,
                                     return_special_tokens_mask=True)
        found = []
        for ids, offsets, special in zip(encoded["input_ids"], encoded["offset_mapping"],
                                         encoded["special_tokens_mask"], strict=True):
            starts = [-1 if is_special or end <= start else start
                      for (start, end), is_special in zip(offsets, special, strict=True)]
            ends = [-1 if is_special or end <= start else end - 1
                    for (start, end), is_special in zip(offsets, special, strict=True)]
            found.append(TokenizedText([token + 1 for token in ids], starts, ends))
        return found

    def save(self, folder: Path, encoder_config: Any) -> None:
        """The tokenizer files and the encoder's config (its weights are the model's), so that a
        model folder loads with nothing fetched."""
        folder.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save_pretrained(str(folder))
        encoder_config.save_pretrained(str(folder))


def max_tokens_of(encoder_config: Any, tokenizer: Any) -> int:
    """The longest token sequence the encoder takes (its position embeddings, or the tokenizer's
    stated limit when smaller)."""
    limit = getattr(encoder_config, "max_position_embeddings", None) or 512
    stated = getattr(tokenizer, "model_max_length", None)
    if isinstance(stated, int) and 0 < stated < limit:
        limit = stated
    return limit


def load_saved_encoder(folder: Path) -> tuple[Any, Subwords]:
    """The encoder's architecture (weights not loaded: the model's safetensors hold them, fine-
    tuned) and its tokenizer, from a model folder's ``encoder/``; reads only local files."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    where = str(folder / ENCODER_FOLDER)
    encoder_config = AutoConfig.from_pretrained(where, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(where, use_fast=True, local_files_only=True)
    encoder = AutoModel.from_config(encoder_config)
    return encoder, Subwords(tokenizer, max_tokens_of(encoder_config, tokenizer))
