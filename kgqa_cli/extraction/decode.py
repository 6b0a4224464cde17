"""Pointer decoding: pair each head above threshold with the nearest tail at or after it."""

from __future__ import annotations

import numpy as np


def decode_spans(head_probs: np.ndarray, tail_probs: np.ndarray, threshold: float) -> list[tuple[int, int, float]]:
    """Spans ``(head, tail, score)`` from ``[L]`` pointer probabilities of one sentence.

    The score is the mean of the head and tail probabilities.
    """
    spans = decode_channel_spans(head_probs[:, None], tail_probs[:, None], threshold)
    return [(head, tail, score) for _, head, tail, score in spans]


def decode_channel_spans(
    head_probs: np.ndarray, tail_probs: np.ndarray, threshold: float
) -> list[tuple[int, int, int, float]]:
    """Spans ``(channel, head, tail, score)`` from ``[L, channels]`` probabilities, each channel apart."""
    head_pos, head_ch = np.nonzero(head_probs > threshold)
    if head_pos.size == 0:
        return []
    tail_pos, tail_ch = np.nonzero(tail_probs > threshold)
    spans = []
    for channel in np.unique(head_ch):
        tails = tail_pos[tail_ch == channel]  # np.nonzero returns positions in ascending order
        if tails.size == 0:
            continue
        heads = head_pos[head_ch == channel]
        nearest = np.searchsorted(tails, heads, side="left")
        for head, index in zip(heads.tolist(), nearest.tolist(), strict=True):
            if index >= tails.size:
                continue
            tail = int(tails[index])
            score = float(head_probs[head, channel] + tail_probs[tail, channel]) / 2
            spans.append((int(channel), head, tail, score))
    return spans
