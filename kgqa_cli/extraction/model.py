"""The CasRel-style network: characters -> Bi-LSTM -> self-attention -> subject and object pointers."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from kgqa_cli.extraction.config import KgModelConfig


class CasRel(nn.Module):
    """Tags subject spans, then for each subject the object spans of every output channel.

    Sigmoids, not a softmax, at every pointer: a sentence may hold many subjects, and a subject
    many objects under several predicates.
    """

    def __init__(self, vocab_size: int, num_channels: int, config: KgModelConfig,
                 lexicon_sizes: tuple[int, int] | None = None) -> None:
        super().__init__()
        self.config = config
        width = 2 * config.hidden_size  # the Bi-LSTM state
        padding = config.kernel_size // 2
        self.embedding = nn.Embedding(vocab_size, config.embedding_dim, padding_idx=0)
        inputs = config.embedding_dim
        if lexicon_sizes is not None:  # SoftLexicon: word and tag vectors pooled per role (B, M, E)
            words, tags = lexicon_sizes
            self.lexicon_words = nn.Embedding(words, config.lexicon.dim, padding_idx=0)
            self.lexicon_tags = nn.Embedding(tags, config.lexicon.dim, padding_idx=0)
            inputs += 3 * config.lexicon.dim
        self.uses_lexicon = lexicon_sizes is not None
        self.lstm = nn.LSTM(
            inputs, config.hidden_size, num_layers=config.lstm_layers, batch_first=True,
            bidirectional=True, dropout=config.dropout if config.lstm_layers > 1 else 0.0,
        )
        self.attention = nn.MultiheadAttention(
            width, config.attention_heads, dropout=config.dropout, batch_first=True
        )
        self.norm = nn.LayerNorm(width)
        self.dropout = nn.Dropout(config.dropout)
        # Subject pointers read each state concatenated with the sentence's max-pooled state.
        self.subject_conv = nn.Conv1d(2 * width, config.conv_channels, config.kernel_size, padding=padding)
        self.subject_head = nn.Linear(config.conv_channels, 1)
        self.subject_tail = nn.Linear(config.conv_channels, 1)
        # Object pointers also see the states at the subject's head and tail. The Conv1d over
        # [sentence features; head state repeated; tail state repeated] is computed as its two
        # parts: the sentence part once per sentence, the repeated part (constant along the
        # sentence, so the kernel taps sum to one linear map) once per subject. Same function,
        # apart from the zero padding at the two borders, at a fraction of the cost.
        self.object_conv = nn.Conv1d(2 * width, config.conv_channels, config.kernel_size, padding=padding)
        self.object_subject = nn.Linear(2 * width, config.conv_channels, bias=False)
        self.object_head = nn.Linear(config.conv_channels, num_channels)
        self.object_tail = nn.Linear(config.conv_channels, num_channels)

    @property
    def state_width(self) -> int:
        return 2 * self.config.hidden_size

    def encode(self, ids: torch.Tensor, mask: torch.Tensor, lexicon: tuple | None = None) -> torch.Tensor:
        """``[B, L]`` ids (and, with a lexicon, its ``[B, L, 3, K]`` word ids, tag ids and
        weights) -> ``[B, L, 2W]``: contextual states, each with the max-pooled sentence state."""
        lengths = mask.sum(1).clamp(min=1).cpu()
        embedded = self.embedding(ids)
        if self.uses_lexicon:
            words, tags, weights = lexicon
            vectors = self.lexicon_words(words) + self.lexicon_tags(tags)  # [B, L, 3, K, D]
            pooled = (vectors * weights.unsqueeze(-1)).sum(3)  # [B, L, 3, D]
            embedded = torch.cat([embedded, pooled.flatten(2)], dim=-1)
        embedded = self.dropout(embedded)
        packed = pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
        states, _ = self.lstm(packed)
        states, _ = pad_packed_sequence(states, batch_first=True, total_length=ids.shape[1])
        attended, _ = self.attention(states, states, states, key_padding_mask=~mask, need_weights=False)
        states = self.norm(states + self.dropout(attended))
        states = states.masked_fill(~mask.unsqueeze(-1), 0.0)
        pooled = states.masked_fill(~mask.unsqueeze(-1), float("-inf")).max(dim=1).values
        features = torch.cat([states, pooled.unsqueeze(1).expand_as(states)], dim=-1)
        return features.masked_fill(~mask.unsqueeze(-1), 0.0)

    def _conv(self, conv: nn.Conv1d, features: torch.Tensor) -> torch.Tensor:
        return self.dropout(torch.relu(conv(features.transpose(1, 2)).transpose(1, 2)))

    def subject_logits(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Head and tail logits ``[B, L]`` of subject spans."""
        hidden = self._conv(self.subject_conv, features)
        return self.subject_head(hidden).squeeze(-1), self.subject_tail(hidden).squeeze(-1)

    def object_logits(
        self, features: torch.Tensor, sentence: torch.Tensor, head: torch.Tensor, tail: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Head and tail logits ``[S, L, channels]`` for S subjects (sentence index, head, tail)."""
        sentence_part = self.object_conv(features.transpose(1, 2)).transpose(1, 2)  # once per sentence
        states = features[..., : self.state_width]
        subject_states = torch.cat([states[sentence, head], states[sentence, tail]], dim=-1)
        hidden = sentence_part.index_select(0, sentence) + self.object_subject(subject_states).unsqueeze(1)
        hidden = self.dropout(torch.relu(hidden))
        return self.object_head(hidden), self.object_tail(hidden)
