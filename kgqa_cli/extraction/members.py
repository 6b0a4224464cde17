"""The networks of an extractor: how each reads a batch of texts, and how their pointer
probabilities combine (an ensemble's members vote by their mean probability)."""

from __future__ import annotations

import copy
import threading
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch

from kgqa_cli.extraction.model import CasRel, Encoded
from kgqa_cli.extraction.vocab import CharVocab, bigrams

if TYPE_CHECKING:
    from kgqa_cli.extraction.lexicon import Lexicon
    from kgqa_cli.extraction.tokens import Subwords, TokenizedText


class MemberBatch(NamedTuple):
    """One member's reading of a batch: its network, the features ``[B, L, H]`` and the mask ``[B, L]``."""

    network: CasRel
    features: Encoded
    mask: torch.Tensor


def batch_ids(token_ids: list[list[int]], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ``[B, L]`` ids and their boolean mask."""
    width = max(1, max(len(ids) for ids in token_ids))
    array = np.zeros((len(token_ids), width), dtype=np.int64)
    for row, row_ids in enumerate(token_ids):
        array[row, : len(row_ids)] = row_ids
    ids = torch.from_numpy(array).to(device)
    return ids, ids != 0


class Member:
    """One network of an extractor, with the vocabulary, lexicon and bigrams it reads its input
    through, or the tokenizer of its pretrained encoder (``subwords``)."""

    def __init__(self, model: CasRel, vocab: CharVocab | None, lexicon: Lexicon | None = None,
                 bigrams: CharVocab | None = None, subwords: Subwords | None = None) -> None:
        self.model = model
        self.vocab = vocab
        self.lexicon = lexicon
        self.bigrams = bigrams
        self.subwords = subwords
        self._bfloat16_model: CasRel | None = None  # a snapshot of ``model``, made on first use
        self._copy_lock = threading.Lock()

    def network(self, bfloat16: bool = False) -> CasRel:
        """The model, or with ``bfloat16`` a copy of it cast to bfloat16 once (made on first use):
        autocast would cast every weight again at each call, a fifth of the time of a batch."""
        if not bfloat16:
            return self.model
        with self._copy_lock:  # a server's threads may ask at once: one copy
            if self._bfloat16_model is None:
                self._bfloat16_model = copy.deepcopy(self.model).to(torch.bfloat16)
        return self._bfloat16_model

    def tokenize(self, texts: list[str]) -> list[TokenizedText] | None:
        """The texts on the pretrained encoder's tokens; None for a model that reads characters."""
        return self.subwords.tokenize(texts) if self.subwords is not None else None

    def encode(self, texts: list[str], device: torch.device, bfloat16: bool,
               tokenized: list[TokenizedText] | None = None) -> MemberBatch:
        """The network, features and mask of a batch of texts: one position per character, or
        with a pretrained encoder per token (``tokenized``, else tokenized here)."""
        model = self.network(bfloat16)
        if self.subwords is not None:
            tokenized = tokenized if tokenized is not None else self.subwords.tokenize(texts)
            ids, mask = batch_ids([text.ids for text in tokenized], device)
            return MemberBatch(model, model.encode(ids, mask), mask)
        assert self.vocab is not None  # a model that reads characters always has its vocabulary
        ids, mask = batch_ids([self.vocab.encode(text) for text in texts], device)
        lexicon = None
        if self.lexicon is not None:
            lexicon = tuple(torch.from_numpy(part).to(device) for part in self.lexicon.batch_features(texts, ids.shape[1]))
        bigram_ids = None
        if self.bigrams is not None:
            bigram_ids, _ = batch_ids([self.bigrams.encode(bigrams(text)) for text in texts], device)
        return MemberBatch(model, model.encode(ids, mask, lexicon, bigram_ids), mask)


def mean_probabilities(logits: list[torch.Tensor]) -> torch.Tensor:
    """The members' sigmoid probabilities in float32, averaged (one member: its own, untouched)."""
    total = torch.sigmoid(logits[0].float())
    for more in logits[1:]:
        total = total + torch.sigmoid(more.float())
    return total / len(logits) if len(logits) > 1 else total


def subject_probabilities(encoded: list[MemberBatch]) -> tuple[torch.Tensor, torch.Tensor]:
    """The members' mean subject head and tail probabilities, ``[B, L]`` each (``encoded``: each
    member's :meth:`Member.encode` of one batch)."""
    logits = [model.subject_logits(features) for model, features, _ in encoded]
    return mean_probabilities([h for h, _ in logits]), mean_probabilities([t for _, t in logits])


def sentence_parts(encoded: list[MemberBatch]) -> list[torch.Tensor]:
    """Each member's per-sentence part of its object layers, computed once for all subjects."""
    return [model.sentence_conv(model.object_conv, features) for model, features, _ in encoded]


def object_probabilities(encoded: list[MemberBatch], parts: list[torch.Tensor],
                         index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The members' mean object head and tail probabilities, ``[S, L, channels]`` each, of the
    subjects in the rows of ``index`` (sentence, head, tail); ``parts``: :func:`sentence_parts`."""
    logits = [model.object_logits(features, index[:, 0], index[:, 1], index[:, 2], sentence_part=part)
              for (model, features, _), part in zip(encoded, parts, strict=True)]
    return mean_probabilities([h for h, _ in logits]), mean_probabilities([t for _, t in logits])


def half(probabilities: torch.Tensor) -> np.ndarray:
    """Probabilities as a float16 array: a teacher's targets, kept for every training sentence."""
    return probabilities.cpu().numpy().astype(np.float16)
