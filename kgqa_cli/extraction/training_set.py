"""What the extractor trains on: the labelled records turned into examples (characters or a
pretrained encoder's tokens), with the vocabularies, word lexicon, bigrams and teacher
probabilities its settings ask for."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kgqa_cli.data.records import Record
from kgqa_cli.data.schema import Schema
from kgqa_cli.errors import ConfigError
from kgqa_cli.extraction.config import KgConfig
from kgqa_cli.extraction.labels import (
    Example,
    channel_subject_types,
    channels_of,
    make_example,
    make_token_example,
)
from kgqa_cli.extraction.vocab import CharVocab, bigrams

if TYPE_CHECKING:
    from transformers import PreTrainedModel

    from kgqa_cli.extraction.lexicon import Lexicon
    from kgqa_cli.extraction.tokens import Subwords

log = logging.getLogger(__name__)

ExtraRecords = list[tuple[list[Record], list[str]]]  # more records, each source with the channels it never labels


@dataclass
class TrainingSet:
    """The examples and everything that reads a sentence the way they were made: the character
    vocabulary (or a pretrained encoder, its tokenizer and provenance), lexicon and bigrams."""

    examples: list[Example]
    channels: list[str]
    channel_types: list[int] | None
    vocab: CharVocab | None = None
    subwords: Subwords | None = None
    encoder: PreTrainedModel | None = None
    encoder_provenance: dict[str, Any] | None = None
    lexicon: Lexicon | None = None
    bigram_vocab: CharVocab | None = None

    def checkpoint_extra(self) -> dict[str, Any]:
        """What a checkpoint keeps so that a resumed run reads sentences as this one does."""
        return {
            **({"vocab": self.vocab.itos} if self.vocab is not None else {}),
            **({"encoder": self.encoder_provenance} if self.encoder_provenance is not None else {}),
            **({"bigrams": self.bigram_vocab.itos} if self.bigram_vocab is not None else {}),
        }


def build_training_set(config: KgConfig, train_records: list[Record], extra: ExtraRecords, schema: Schema,
                       checkpoint: dict[str, Any] | None, registry_root: Path | None) -> TrainingSet:
    """Examples of ``train_records`` and the ``extra`` sources (their unlabelled channels masked),
    plus ``kg.train.augment``'s copies; a resumed run takes its vocabularies from ``checkpoint``."""
    train_cfg = config.train
    extra = _with_augmented(config, train_records, extra)
    records = [*train_records, *(record for records, _ in extra for record in records)]
    texts = [record.text[: train_cfg.max_len] for record in records]  # as examples see them
    channels = channels_of(schema)
    data = TrainingSet([], channels, None)
    if config.model.uses_pretrained:
        data.encoder, data.subwords, data.encoder_provenance = _pretrained_encoder(config, checkpoint)
        data.examples = _token_examples(config, records, texts, data.subwords, channels)
    else:
        data.vocab = (CharVocab(checkpoint["vocab"][2:]) if checkpoint is not None else
                      CharVocab.build(texts, train_cfg.min_char_count))
        channel_index = {name: number for number, name in enumerate(channels)}
        data.examples = [make_example(record, data.vocab.encode, channel_index, train_cfg.max_len) for record in records]
    _mask_channels(data.examples[len(train_records):], extra, channels)
    if config.model.uses_lexicon:
        data.lexicon = _attach_lexicon(config, data.examples, train_records, records[len(train_records):])
    if config.model.uses_bigrams:
        data.bigram_vocab = _attach_bigrams(config, data.examples, train_records, records, checkpoint)
    if train_cfg.distill.teacher:
        from kgqa_cli.extraction.distill import attach_teacher

        if registry_root is None:
            raise ConfigError("kg.train.distill.teacher needs the workspace's registry")
        attach_teacher(data.examples, texts, registry_root, train_cfg.distill.teacher, channels, config.extract.bfloat16)
    data.examples = [example for example in data.examples if example.ids]
    data.channel_types = channel_subject_types(schema)[1] if config.model.subject_types else None
    return data


def _with_augmented(config: KgConfig, train_records: list[Record], extra: ExtraRecords) -> ExtraRecords:
    """``extra`` and, with ``kg.train.augment``, copies of the records with their names swapped
    (the same copies on every run of the same data and config, so a resumed run sees them too)."""
    train_cfg = config.train
    if not train_cfg.augment.copies:
        return extra
    from kgqa_cli.extraction.augment import augment_records, person_names
    from kgqa_cli.extraction.lexicon import jieba_dictionary

    outside = person_names(jieba_dictionary()) if train_cfg.augment.outside_names else []
    augmented = augment_records(train_records, train_cfg.augment, train_cfg.seed, outside)
    log.info("mention replacement: %d new sentences from %d", len(augmented), len(train_records))
    return [*extra, (augmented, [])]


def _token_examples(config: KgConfig, records: list[Record], texts: list[str], subwords: Subwords,
                    channels: list[str]) -> list[Example]:
    """Examples on a pretrained encoder's tokens; spans that fit no token borders are left out."""
    channel_index = {name: number for number, name in enumerate(channels)}
    examples, unaligned = [], 0
    for record, tokenized in zip(records, subwords.tokenize(texts), strict=True):
        example, left_out = make_token_example(record, tokenized, channel_index, config.train.max_len)
        examples.append(example)
        unaligned += left_out
    if unaligned:
        log.info("%d labelled spans cannot be placed on the tokens of %s (a border inside a token, or past "
                 "its longest input) and are left out", unaligned, config.model.pretrained)
    return examples


def _mask_channels(examples: list[Example], extra: ExtraRecords, channels: list[str]) -> None:
    """Give the examples of each extra source (in order) the mask of the channels it labels."""
    position = 0
    for records, masked in extra:
        mask = np.array([0.0 if name in set(masked) else 1.0 for name in channels], dtype=np.float32)
        for example in examples[position:position + len(records)]:
            example.channel_mask = mask
        position += len(records)


def _attach_lexicon(config: KgConfig, examples: list[Example], train_records: list[Record],
                    extra_records: list[Record]) -> Lexicon:
    """The word lexicon of the training records, and every example's lexicon features."""
    from kgqa_cli.extraction.lexicon import Lexicon

    max_len = config.train.max_len
    lexicon = Lexicon.build(config.model.lexicon, train_records, max_len)
    features = [*lexicon.training_features(train_records, max_len),
                *(lexicon.features(record.text[:max_len]) for record in extra_records)]
    for example, found in zip(examples, features, strict=True):
        example.lexicon = found
    log.info("word lexicon: %d words with a vector, %d tags", len(lexicon.words), len(lexicon.tags))
    return lexicon


def _attach_bigrams(config: KgConfig, examples: list[Example], train_records: list[Record], records: list[Record],
                    checkpoint: dict[str, Any] | None) -> CharVocab:
    """The bigram vocabulary (a resumed run's from its checkpoint), and every example's bigram ids."""
    max_len = config.train.max_len
    bigram_vocab = (CharVocab(checkpoint["bigrams"][2:]) if checkpoint is not None else
                    CharVocab.build([bigrams(record.text[:max_len]) for record in train_records],
                                    config.model.min_bigram_count))
    for example, record in zip(examples, records, strict=True):
        example.bigrams = bigram_vocab.encode(bigrams(record.text[:max_len]))
    log.info("bigrams: %d with a vector", len(bigram_vocab))
    return bigram_vocab


def _pretrained_encoder(config: KgConfig,
                        checkpoint: dict[str, Any] | None) -> tuple[PreTrainedModel, Subwords, dict[str, Any]]:
    """The pretrained encoder, its tokenizer (as ``Subwords``) and provenance; refuses settings
    that need the character layers, and a checkpoint made from other encoder weights."""
    from kgqa_cli.extraction.tokens import Subwords, max_tokens_of
    from kgqa_cli.pretrained import load_encoder

    train_cfg = config.train
    if train_cfg.init:
        raise ConfigError("kg.train.init starts the character encoder from `kgqa pretrain`; it does not apply with "
                          "kg.model.encoder pretrained", hint="set kg.train.init to null")
    if train_cfg.distill.teacher:
        raise ConfigError("kg.train.distill.teacher teaches per character; a pretrained encoder's pointers are on "
                          "tokens", hint="set kg.train.distill.teacher to null, or train with kg.model.encoder lstm")
    name = config.model.pretrained
    assert name is not None  # kg.model.encoder pretrained names one (KgModelConfig's check)
    location = name
    channel = os.environ.get("SM_CHANNEL_PRETRAINED")
    if name.startswith("s3://") and channel:  # in a SageMaker training job: the prefix arrives as a channel
        location = channel
    encoder, tokenizer, provenance = load_encoder(location, "kg.model.pretrained")
    provenance = {**provenance, "encoder": name}
    if checkpoint is not None:
        saved = (checkpoint.get("encoder") or {}).get("revision")
        if saved is not None and saved != provenance["revision"]:
            raise ConfigError(f"the checkpoint was trained from other weights of {name} (revision {saved}, now "
                              f"{provenance['revision']})", hint="pass --restart to start over from today's encoder")
    return encoder, Subwords(tokenizer, max_tokens_of(encoder.config, tokenizer)), provenance
