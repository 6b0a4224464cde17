"""The CasRel-style network: characters -> Bi-LSTM -> self-attention (optional), or a pretrained
encoder's tokens -> its last hidden states; then subject and object pointers."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from kgqa_cli.extraction.config import KgModelConfig

if TYPE_CHECKING:
    from transformers import PreTrainedModel


def bidirectional_lstm(lstm: nn.LSTM, inputs: torch.Tensor, mask: torch.Tensor, training: bool) -> torch.Tensor:
    """The Bi-LSTM over right-padded sentences, ``[B, L, 2H]``, zero at padding.

    The same numbers as running it on packed sequences, but each direction runs as one
    padded call, which the CPU backend (oneDNN) fuses: the forward direction meets the
    padding only after a sentence ends, and the backward one runs over each sentence
    reversed within its length, so the padding again comes last. About twice as fast as a
    packed batch on CPU, and bfloat16 applies to it. The reversal picks whole rows of the
    flattened ``[B * L, features]`` batch (``index_select``): in bfloat16 on CPU that is about
    forty times faster than ``gather`` with an index expanded over the features.
    """
    batch, width = inputs.shape[:2]
    lengths = mask.sum(1, keepdim=True)
    positions = torch.arange(width, device=inputs.device).unsqueeze(0)
    reverse = torch.where(positions < lengths, lengths - 1 - positions, positions)  # its own inverse
    reverse = (reverse + width * torch.arange(batch, device=inputs.device).unsqueeze(1)).reshape(-1)
    outputs = inputs
    for layer in range(lstm.num_layers):
        if layer and training and lstm.dropout:
            outputs = F.dropout(outputs, lstm.dropout, training=True)
        directions = []
        for suffix in ("", "_reverse"):
            weights = [getattr(lstm, f"{name}_l{layer}{suffix}")
                       for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            zeros = outputs.new_zeros(1, outputs.shape[0], lstm.hidden_size)
            if suffix:
                result = torch.lstm(_rows(outputs, reverse), (zeros, zeros), weights, True, 1, 0.0, training, False,
                                    True)[0]
                result = _rows(result, reverse)
            else:
                result = torch.lstm(outputs, (zeros, zeros), weights, True, 1, 0.0, training, False, True)[0]
            directions.append(result)
        outputs = torch.cat(directions, dim=-1)
    return outputs.masked_fill(~mask.unsqueeze(-1), 0.0)


def _rows(values: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``[B, L, F]`` values with their ``B * L`` positions taken in the order of the flat ``rows``."""
    batch, width, features = values.shape
    return values.reshape(batch * width, features).index_select(0, rows).view(batch, width, features)


class Encoded(NamedTuple):
    """What the encoder gives the pointer heads: ``[B, L, W]`` states (zero at padding), the
    ``[B, W]`` max-pooled sentence state, and the ``[B, L]`` mask."""

    states: torch.Tensor
    pooled: torch.Tensor
    mask: torch.Tensor


class CasRel(nn.Module):
    """Tags subject spans, then for each subject the object spans of every output channel.

    Sigmoids, not a softmax, at every pointer: a sentence may hold many subjects, and a subject
    many objects under several predicates.
    """

    def __init__(self, vocab_size: int, num_channels: int, config: KgModelConfig,
                 lexicon_sizes: tuple[int, int] | None = None, channel_types: list[int] | None = None,
                 bigram_count: int | None = None, encoder: PreTrainedModel | None = None) -> None:
        """``encoder``: a pretrained (Hugging Face) encoder whose last hidden states replace the
        character embedding and Bi-LSTM; ``ids`` are then its token ids plus one (0 is padding)."""
        super().__init__()
        self.config = config
        padding = config.kernel_size // 2
        self.encoder = encoder
        width: int
        if encoder is not None:
            width = encoder.config.hidden_size
            self.pad_token_id = getattr(encoder.config, "pad_token_id", None) or 0
            self.uses_bigrams = self.uses_lexicon = self.uses_attention = False
        else:
            width = self._character_layers(vocab_size, config, lexicon_sizes, bigram_count)
        self._state_width = width
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
        if config.relative_positions:  # distance of each character to the subject's head and tail
            self.distance_to_head = nn.Embedding(2 * config.relative_positions + 1, config.conv_channels)
            self.distance_to_tail = nn.Embedding(2 * config.relative_positions + 1, config.conv_channels)
        self.uses_types = config.subject_types
        if config.subject_types:
            self._subject_type_layers(width, num_channels, config, channel_types)

    def _character_layers(self, vocab_size: int, config: KgModelConfig, lexicon_sizes: tuple[int, int] | None,
                          bigram_count: int | None) -> int:
        """The character embedding (with bigram and lexicon vectors), the Bi-LSTM and the optional
        self-attention; returns the width of their states."""
        width = 2 * config.hidden_size  # the Bi-LSTM state
        self.embedding = nn.Embedding(vocab_size, config.embedding_dim, padding_idx=0)
        inputs = config.embedding_dim
        self.uses_bigrams = bool(config.bigram_dim)
        if config.bigram_dim:  # after the character's embedding: a pretrained encoder's columns come first
            if not bigram_count:
                raise ValueError("bigram_dim needs the size of the bigram vocabulary")
            self.bigram_embedding = nn.Embedding(bigram_count, config.bigram_dim, padding_idx=0)
            inputs += config.bigram_dim
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
        self.uses_attention = bool(config.attention_heads)
        if config.attention_heads:
            # Its weights live in nn.MultiheadAttention (saved models keep their keys); it runs
            # through scaled_dot_product_attention (``self_attention``).
            self.attention = nn.MultiheadAttention(
                width, config.attention_heads, dropout=config.dropout, batch_first=True
            )
            self.norm = nn.LayerNorm(width)
        return width

    def _subject_type_layers(self, width: int, num_channels: int, config: KgModelConfig,
                             channel_types: list[int] | None) -> None:
        """The subject-type classifier, its type vectors and the schema's prior per channel."""
        if channel_types is None or len(channel_types) != num_channels:
            raise ValueError("subject_types needs the subject type index of every channel")
        count = max(channel_types) + 1
        self.subject_type = nn.Linear(2 * width, count)
        self.type_vectors = nn.Embedding(count, config.conv_channels)
        # The schema's prior, learned further: a channel whose predicate takes another subject
        # type starts 3 logits down for subjects of that type.
        prior = torch.full((count, num_channels), -3.0)
        prior[torch.tensor(channel_types), torch.arange(num_channels)] = 0.0
        self.type_head_bias = nn.Parameter(prior.clone())
        self.type_tail_bias = nn.Parameter(prior.clone())

    @property
    def state_width(self) -> int:
        return self._state_width

    def encode(self, ids: torch.Tensor, mask: torch.Tensor, lexicon: tuple | None = None,
               bigrams: torch.Tensor | None = None) -> Encoded:
        """``[B, L]`` ids (with bigrams, their ``[B, L]`` bigram ids; with a lexicon, its
        ``[B, L, 3, K]`` word ids, tag ids and weights) -> contextual states and the max-pooled
        sentence state (``Encoded``)."""
        if self.encoder is not None:
            return self._encode_pretrained(ids, mask)
        embedded = self.embedding(ids)
        if self.uses_bigrams:
            embedded = torch.cat([embedded, self.bigram_embedding(bigrams)], dim=-1)
        if self.uses_lexicon:
            assert lexicon is not None  # a model that reads the lexicon is given its features
            embedded = torch.cat([embedded, self.lexicon_vectors(*lexicon)], dim=-1)
        embedded = self.dropout(embedded)
        states = bidirectional_lstm(self.lstm, embedded, mask, self.training)
        if self.uses_attention:
            states = self.norm(states + self.dropout(self.self_attention(states, mask)))
            states = states.masked_fill(~mask.unsqueeze(-1), 0.0)
        pooled = states.masked_fill(~mask.unsqueeze(-1), float("-inf")).max(dim=1).values
        return Encoded(states, pooled, mask)

    def _encode_pretrained(self, ids: torch.Tensor, mask: torch.Tensor) -> Encoded:
        """The pretrained encoder's last hidden states over its tokens (``ids`` shifted by one)."""
        assert self.encoder is not None
        token_ids = torch.where(mask, ids - 1, torch.full_like(ids, self.pad_token_id))
        states = self.encoder(input_ids=token_ids, attention_mask=mask.long()).last_hidden_state
        states = states.masked_fill(~mask.unsqueeze(-1), 0.0)
        pooled = states.masked_fill(~mask.unsqueeze(-1), float("-inf")).max(dim=1).values
        return Encoded(states, pooled, mask)

    def lexicon_vectors(self, words: torch.Tensor, tags: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """``[B, L, 3 * D]``: per character and role, the weighted sum of its words' vectors (word
        plus tag embedding). Summed by ``embedding_bag``, which never materialises the
        ``[B, L, 3, K, D]`` vectors of every slot; without a word vocabulary (the default) only
        the tags count, as every word id is then the zero padding row."""
        batch, width, roles, slots = tags.shape
        table = self.lexicon_tags.weight
        weights = weights.reshape(-1, slots).to(table.dtype)
        pooled = F.embedding_bag(tags.reshape(-1, slots), table, per_sample_weights=weights, mode="sum",
                                 padding_idx=0)
        if self.lexicon_words.num_embeddings > 1:
            pooled = pooled + F.embedding_bag(words.reshape(-1, slots), self.lexicon_words.weight,
                                              per_sample_weights=weights, mode="sum", padding_idx=0)
        return pooled.view(batch, width, roles * table.shape[1])

    def self_attention(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Multi-head self-attention over the ``[B, L, W]`` states, padding masked out as keys.

        The function of ``self.attention`` (nn.MultiheadAttention) computed with
        ``scaled_dot_product_attention``, whose fused CPU kernel never materialises the
        ``[B, heads, L, L]`` scores: at batch 64 it takes a third less memory than the module's
        own fast path, and under bfloat16 it avoids that path's slow masked softmax (extract
        1.6x faster on an AVX-512 BF16 CPU).
        """
        attention = self.attention
        batch, width, size = states.shape
        heads = attention.num_heads
        projected = F.linear(states, attention.in_proj_weight, attention.in_proj_bias)
        query, key, value = projected.view(batch, width, 3, heads, size // heads).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(
            query, key, value, attn_mask=mask[:, None, None, :],
            dropout_p=attention.dropout if self.training else 0.0,
        )
        return attention.out_proj(attended.transpose(1, 2).reshape(batch, width, size))

    def sentence_conv(self, conv: nn.Conv1d, features: Encoded) -> torch.Tensor:
        """``conv`` over each state concatenated with the sentence's pooled state, ``[B, L, C]``.

        The pooled half is the same at every position, so its kernel taps are applied once per
        sentence ([B, K, C]) and added where the tap reads a position inside the sentence: the
        same numbers as convolving the concatenation (zero padding and padded positions
        included) at half the cost.
        """
        width = self.state_width
        padding = int(conv.padding[0])  # a number, never 'same' or 'valid', in these layers
        out = F.conv1d(features.states.transpose(1, 2), conv.weight[:, :width], conv.bias, padding=padding)
        taps = torch.einsum("bw,cwk->bkc", features.pooled, conv.weight[:, width:])
        inside = F.pad(features.mask.to(taps.dtype), (padding, padding)).unfold(1, conv.kernel_size[0], 1)
        return out.transpose(1, 2) + torch.bmm(inside, taps)

    def subject_logits(self, features: Encoded) -> tuple[torch.Tensor, torch.Tensor]:
        """Head and tail logits ``[B, L]`` of subject spans."""
        hidden = self.dropout(torch.relu(self.sentence_conv(self.subject_conv, features)))
        return self.subject_head(hidden).squeeze(-1), self.subject_tail(hidden).squeeze(-1)

    def subject_states(self, features: Encoded, sentence: torch.Tensor, head: torch.Tensor,
                       tail: torch.Tensor) -> torch.Tensor:
        """``[S, 2W]``: the states at each subject's head and tail."""
        states = features.states
        return torch.cat([states[sentence, head], states[sentence, tail]], dim=-1)

    def subject_type_logits(self, features: Encoded, sentence: torch.Tensor, head: torch.Tensor,
                            tail: torch.Tensor) -> torch.Tensor:
        """``[S, types]`` logits of each subject's type (with ``subject_types`` on)."""
        return self._type_logits(self.subject_states(features, sentence, head, tail))

    def _type_logits(self, subject_states: torch.Tensor) -> torch.Tensor:
        # Detached: the type is the object head's helper, and its loss (one per subject, about 3
        # at first) would otherwise outweigh the per-character pointer losses in the encoder.
        return self.subject_type(subject_states.detach())

    def object_logits(
        self, features: Encoded, sentence: torch.Tensor, head: torch.Tensor, tail: torch.Tensor,
        known_types: torch.Tensor | None = None, sentence_part: torch.Tensor | None = None,
        type_logits: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Head and tail logits ``[S, L, channels]`` for S subjects (sentence index, head, tail).

        With ``subject_types`` on, each subject's type distribution (predicted; in training the
        gold type where ``known_types`` has one, -100 elsewhere) brings its type vector and its
        per-channel biases. ``sentence_part`` (``sentence_conv(object_conv, features)``) and
        ``type_logits`` (``subject_type_logits`` of the same subjects): when the caller has them."""
        if sentence_part is None:  # once per sentence; inference computes it once for all its subject chunks
            sentence_part = self.sentence_conv(self.object_conv, features)
        subject_states = self.subject_states(features, sentence, head, tail)
        subject_part = self.object_subject(subject_states)
        type_probabilities = None
        if self.uses_types:
            if type_logits is None:
                type_logits = self._type_logits(subject_states)
            type_probabilities = torch.softmax(type_logits.float(), dim=-1)
            if known_types is not None:  # teacher forcing: an unsure classifier early on must not mute every channel
                known = known_types >= 0
                gold = F.one_hot(known_types.clamp(min=0), type_probabilities.shape[-1]).to(type_probabilities.dtype)
                type_probabilities = torch.where(known.unsqueeze(-1), gold, type_probabilities)
            type_probabilities = type_probabilities.to(subject_part.dtype)
            subject_part = subject_part + type_probabilities @ self.type_vectors.weight.to(subject_part.dtype)
        hidden = sentence_part.index_select(0, sentence) + subject_part.unsqueeze(1)
        if self.config.relative_positions:
            limit = self.config.relative_positions
            positions = torch.arange(features.states.shape[1], device=head.device)
            hidden = hidden + self.distance_to_head(
                (positions.unsqueeze(0) - head.unsqueeze(1)).clamp(-limit, limit) + limit)
            hidden = hidden + self.distance_to_tail(
                (positions.unsqueeze(0) - tail.unsqueeze(1)).clamp(-limit, limit) + limit)
        hidden = self.dropout(torch.relu(hidden))
        object_heads, object_tails = self.object_head(hidden), self.object_tail(hidden)
        if type_probabilities is not None:  # the subject's type raises or lowers whole channels
            object_heads = object_heads + (type_probabilities @ self.type_head_bias.to(type_probabilities.dtype)).unsqueeze(1)
            object_tails = object_tails + (type_probabilities @ self.type_tail_bias.to(type_probabilities.dtype)).unsqueeze(1)
        return object_heads, object_tails
