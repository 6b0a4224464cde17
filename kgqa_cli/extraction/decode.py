"""Pointer decoding: pair each head above threshold with the nearest tail at or after it."""

from __future__ import annotations

import numpy as np


def decode_batch_spans(
    head_probs: np.ndarray, tail_probs: np.ndarray, threshold: float
) -> list[tuple[int, int, int, int, float]]:
    """Spans ``(item, channel, head, tail, score)`` from ``[N, L, channels]`` probabilities of N
    items (sentences, or subjects), each item and channel apart, ordered by item, channel, head.

    Vectorised over the whole block: every tail above threshold gets the key (item, channel,
    position), and each head finds the first tail key at or after its own by one binary search;
    it is a span when that tail is in the same item and channel.
    """
    items, head_at, channels = np.nonzero(head_probs > threshold)
    if items.size == 0:
        return []
    tail_items, tail_at, tail_channels = np.nonzero(tail_probs > threshold)
    if tail_items.size == 0:
        return []
    length, width = head_probs.shape[1], head_probs.shape[2]
    tail_keys = (tail_items * width + tail_channels) * length + tail_at
    tail_keys.sort()
    head_groups = items * width + channels
    found = np.searchsorted(tail_keys, head_groups * length + head_at, side="left")
    inside = found < tail_keys.size
    nearest = tail_keys[np.minimum(found, tail_keys.size - 1)]
    keep = inside & (nearest // length == head_groups)
    items, head_at, channels, tail_at = items[keep], head_at[keep], channels[keep], nearest[keep] % length
    order = np.lexsort((head_at, channels, items))
    items, head_at, channels, tail_at = items[order], head_at[order], channels[order], tail_at[order]
    scores = (head_probs[items, head_at, channels] + tail_probs[items, tail_at, channels]).astype(np.float64) / 2
    return list(zip(items.tolist(), channels.tolist(), head_at.tolist(), tail_at.tolist(), scores.tolist(),
                    strict=True))
