"""The extractor's training batches and their loss: padded ids and pointer targets of a batch
of sentences, the epoch's batches in a seeded order, and the binary cross-entropy of every pointer."""

from __future__ import annotations

from collections import Counter
from typing import TypedDict, cast

import numpy as np
import torch
from torch.nn import functional as F

from kgqa_cli.extraction.labels import Example
from kgqa_cli.extraction.members import batch_ids
from kgqa_cli.extraction.model import CasRel


class PointerBatch(TypedDict):
    """A batch as :func:`make_batch` makes it: ``[B, L]`` ids and mask (and lexicon features and
    bigram ids when the model reads them), subject pointer targets ``[B, L]``, and per (sentence,
    subject) row its ``index`` (sentence, head, tail), subject type, channel mask and object
    pointer targets ``[rows, L, channels]``."""

    ids: torch.Tensor
    mask: torch.Tensor
    lexicon: tuple[torch.Tensor, ...] | None
    bigrams: torch.Tensor | None
    subject_heads: torch.Tensor
    subject_tails: torch.Tensor
    index: torch.Tensor
    subject_types: torch.Tensor | None
    channel_mask: torch.Tensor
    object_heads: torch.Tensor
    object_tails: torch.Tensor


def make_batch(examples: list[Example], num_channels: int, device: torch.device,
               channel_types: list[int] | None = None, teacher_weight: float = 0.0) -> PointerBatch:
    """Padded ids, mask, subject pointer targets, and one row per (sentence, subject) pair (with
    ``channel_types``, also each subject's type: the one its predicates take most often). With
    ``teacher_weight`` and examples that carry a teacher's probabilities (``Example.teacher``),
    every pointer's target is that share of the teacher's probability plus the rest of the label."""
    ids, mask = batch_ids([example.ids for example in examples], device)
    size, width = ids.shape
    subject_heads = np.zeros((size, width), dtype=np.float32)
    subject_tails = np.zeros((size, width), dtype=np.float32)
    rows = []
    for row, example in enumerate(examples):
        for (head, tail), targets in sorted(example.subjects.items()):
            subject_heads[row, head] = 1.0
            subject_tails[row, tail] = 1.0
            rows.append((row, head, tail, targets))
    channel_mask = np.ones((len(rows), num_channels), dtype=np.float32)
    for number, (row, _, _, _) in enumerate(rows):
        if examples[row].channel_mask is not None:
            channel_mask[number] = np.asarray(examples[row].channel_mask)
    object_heads = np.zeros((len(rows), width, num_channels), dtype=np.float32)
    object_tails = np.zeros((len(rows), width, num_channels), dtype=np.float32)
    for number, (_, _, _, targets) in enumerate(rows):
        for channel, head, tail in targets:
            object_heads[number, head, channel] = 1.0
            object_tails[number, tail, channel] = 1.0
    if teacher_weight and examples[0].teacher is not None:
        _blend_teacher(examples, teacher_weight, subject_heads, subject_tails, object_heads, object_tails)
    index = torch.tensor([[row, head, tail] for row, head, tail, _ in rows], dtype=torch.long).reshape(-1, 3)
    subject_types = None
    if channel_types is not None:
        subject_types = torch.tensor([
            Counter(channel_types[channel] for channel, _, _ in targets).most_common(1)[0][0] if targets else -100
            for _, _, _, targets in rows], dtype=torch.long).to(device)
    bigram_ids = None
    if examples and examples[0].bigrams is not None:
        bigram_ids, _ = batch_ids(cast(list[list[int]], [example.bigrams for example in examples]), device)
    lexicon = None
    if examples and examples[0].lexicon is not None:
        from kgqa_cli.extraction.lexicon import stack_features

        lexicon = tuple(torch.from_numpy(part).to(device)
                        for part in stack_features(cast(list[tuple], [example.lexicon for example in examples]), width))
    return {
        "ids": ids, "mask": mask, "lexicon": lexicon, "bigrams": bigram_ids,
        "subject_heads": torch.from_numpy(subject_heads).to(device),
        "subject_tails": torch.from_numpy(subject_tails).to(device),
        "index": index.to(device),
        "subject_types": subject_types,
        "channel_mask": torch.from_numpy(channel_mask).to(device),
        "object_heads": torch.from_numpy(object_heads).to(device),
        "object_tails": torch.from_numpy(object_tails).to(device),
    }


def _blend_teacher(examples: list[Example], weight: float, subject_heads: np.ndarray, subject_tails: np.ndarray,
                   object_heads: np.ndarray, object_tails: np.ndarray) -> None:
    """Mix each example's teacher probabilities into the targets, in place (rows: the examples'
    subjects in sorted order, as ``make_batch`` makes them)."""
    number = 0
    for row, example in enumerate(examples):
        assert example.teacher is not None  # called when the examples carry a teacher's probabilities
        heads, tails, teacher_object_heads, teacher_object_tails = example.teacher
        length = len(heads)
        for target, taught in ((subject_heads, heads), (subject_tails, tails)):
            target[row, :length] = (1.0 - weight) * target[row, :length] + weight * taught
        count = len(example.subjects)
        for target, taught in ((object_heads, teacher_object_heads), (object_tails, teacher_object_tails)):
            block = target[number:number + count, :length]
            target[number:number + count, :length] = (1.0 - weight) * block + weight * taught
        number += count


def epoch_batches(examples: list[Example], batch_size: int, seed: int,
                  indices: list[int] | None = None) -> list[np.ndarray]:
    """Batches of similar lengths (little padding) in a random order fixed by ``seed``, of all
    examples or of those at ``indices`` (a rank's share, from :func:`distributed.sampler`).

    The order depends on the seed alone, so a resumed run sees the same batches.
    """
    rng = np.random.default_rng(seed)
    if indices is None:
        shuffled = rng.permutation(len(examples))
    else:
        shuffled = np.asarray(indices, dtype=np.int64)[rng.permutation(len(indices))]
    # Sort shuffled chunks of 50 batches by length: neighbours are alike, batches still vary.
    chunk = batch_size * 50
    batches: list[np.ndarray] = []
    for start in range(0, len(shuffled), chunk):
        part = sorted(shuffled[start:start + chunk].tolist(), key=lambda i: len(examples[i].ids))
        batches.extend(np.array(part[i:i + batch_size]) for i in range(0, len(part), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


class PointerLoss(torch.nn.Module):
    """:func:`batch_loss` of the model it holds, as a module's forward, so that
    DistributedDataParallel sees the pass it averages the gradients of."""

    def __init__(self, model: CasRel, object_weight: float = 1.0, positive_weight: float = 1.0):
        super().__init__()
        self.model, self.object_weight, self.positive_weight = model, object_weight, positive_weight

    def forward(self, batch: PointerBatch) -> torch.Tensor:
        return batch_loss(self.model, batch, self.object_weight, self.positive_weight)


def batch_loss(model: CasRel, batch: PointerBatch, object_weight: float = 1.0, positive_weight: float = 1.0) -> torch.Tensor:
    """Binary cross-entropy of every pointer, averaged over real (unpadded) characters; the
    object pointers' part weighted by ``object_weight``, every positive position by
    ``positive_weight``."""
    mask = batch["mask"].float()
    features = model.encode(batch["ids"], batch["mask"], batch.get("lexicon"), batch.get("bigrams"))
    heads, tails = model.subject_logits(features)
    positive = None if positive_weight == 1.0 else torch.tensor(positive_weight, device=heads.device)

    def bce(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits, targets, reduction="none", pos_weight=positive)

    subject_loss = bce(heads, batch["subject_heads"]) + bce(tails, batch["subject_tails"])
    loss = (subject_loss * mask).sum() / mask.sum()
    index, subject_types = batch["index"], batch.get("subject_types")
    if index.shape[0]:
        type_logits = None
        if model.uses_types and subject_types is not None:
            type_logits = model.subject_type_logits(features, index[:, 0], index[:, 1], index[:, 2])
        object_heads, object_tails = model.object_logits(features, index[:, 0], index[:, 1], index[:, 2],
                                                         subject_types, type_logits=type_logits)
        object_loss = (
            (bce(object_heads, batch["object_heads"]) + bce(object_tails, batch["object_tails"]))
            * batch["channel_mask"].unsqueeze(1)  # a channel the sentence's source never labels teaches nothing
        ).sum(-1)
        object_mask = mask.index_select(0, index[:, 0])
        loss = loss + object_weight * (object_loss * object_mask).sum() / object_mask.sum()
        if type_logits is not None and subject_types is not None:
            loss = loss + F.cross_entropy(type_logits.float(), subject_types, ignore_index=-100)
    return loss
