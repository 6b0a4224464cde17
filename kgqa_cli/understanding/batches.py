"""The question model's training batches: each question's token ids and labels, and padded
batches of them in a seeded order, with entity characters sometimes masked."""

from __future__ import annotations

import random
from collections.abc import Iterator

import torch

from kgqa_cli.understanding.model import IGNORE, QuestionModel
from kgqa_cli.understanding.tokenizer import PretrainedTokenizer

Encoded = tuple[list[int], list[int], int]  # a question's token ids, slot labels and intent
QuestionBatch = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]  # ids, mask, intents, slots


def token_labels(char_tags: list[str], token_spans: list[tuple[int, int]]) -> list[str | None]:
    """The tag of each token from the tags of the characters (None for [CLS] and [SEP]): a token
    takes the tag of its first character, and an I- tag that continues no span of the token
    before (the span began inside that token) becomes B-, so that every span starts with B-."""
    labels: list[str | None] = []
    previous_kind: str | None = None
    for start, end in token_spans:
        if end <= start:
            labels.append(None)
            continue
        tag = char_tags[start] if start < len(char_tags) else "O"
        kind = tag[2:] if tag != "O" else None
        if tag.startswith("I-") and kind != previous_kind:
            tag = f"B-{kind}"
        labels.append(tag)
        previous_kind = kind
    return labels


def encode_question(example: dict, model: QuestionModel) -> Encoded:
    """A labelled question's token ids, slot label ids (IGNORE where no tag applies) and intent id."""
    slot_index = {label: i for i, label in enumerate(model.slot_labels)}
    if isinstance(model.tokenizer, PretrainedTokenizer):
        ids, token_spans = model.tokenizer.encode_spans(example["text"])
        tags = token_labels(example["slots"], token_spans)
        labels = [IGNORE if tag is None else slot_index.get(tag, 0) for tag in tags]
        return ids, labels, model.intents.index(example["intent"])
    ids = model.tokenizer.encode(example["text"])
    tags = example["slots"][: model.tokenizer.max_chars]
    labels = [IGNORE, *(slot_index.get(tag, 0) for tag in tags), IGNORE]
    return ids, labels, model.intents.index(example["intent"])


def question_batches(
    encoded: list[Encoded], batch_size: int, rng: random.Random | None, unk_id: int, unk_rate: float, vocab_size: int,
    indices: list[int] | None = None,
) -> Iterator[QuestionBatch]:
    """Padded batches of all questions, or of those at ``indices`` (a rank's share)."""
    order = list(range(len(encoded))) if indices is None else list(indices)
    batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    if rng is not None:
        # Shuffled, then sorted by length within pools of 50 batches, so that a batch holds
        # questions of about one length: far less padding, the same data in a random order.
        rng.shuffle(order)
        pool = batch_size * 50
        order = [i for start in range(0, len(order), pool)
                 for i in sorted(order[start : start + pool], key=lambda i: len(encoded[i][0]))]
        batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
        rng.shuffle(batches)
    for batch in batches:
        rows = [encoded[i] for i in batch]
        width = max(len(ids) for ids, _, _ in rows)
        input_ids, masks, slot_labels = [], [], []
        for ids, labels, _ in rows:
            ids = list(ids)
            if rng is not None and unk_rate:
                # Entity characters sometimes become [UNK] or a random character, so that the tagger
                # learns name boundaries from the wording around them and still tags unseen names.
                for position, label in enumerate(labels):
                    if label in (IGNORE, 0):
                        continue
                    draw = rng.random()
                    if draw < unk_rate:
                        ids[position] = unk_id
                    elif draw < 3 * unk_rate:
                        ids[position] = rng.randrange(4, vocab_size)
            pad = width - len(ids)
            input_ids.append(ids + [0] * pad)
            masks.append([1] * len(ids) + [0] * pad)
            slot_labels.append(labels + [IGNORE] * pad)
        yield (
            torch.tensor(input_ids),
            torch.tensor(masks),
            torch.tensor([intent for _, _, intent in rows]),
            torch.tensor(slot_labels),
        )
