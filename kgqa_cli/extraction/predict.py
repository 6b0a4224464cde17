"""Inference: load a saved extractor and turn texts into corpus-format triples, batch by batch."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from kgqa_cli.data.records import Triple
from kgqa_cli.data.schema import Schema
from kgqa_cli.errors import CorruptArtifactError, MissingArtifactError
from kgqa_cli.extraction.config import KgModelConfig
from kgqa_cli.extraction.decode import decode_batch_spans
from kgqa_cli.extraction.labels import channel_subject_types, channels_of
from kgqa_cli.extraction.members import (
    Member,
    MemberBatch,
    half,
    object_probabilities,
    sentence_parts,
    subject_probabilities,
)
from kgqa_cli.extraction.model import CasRel
from kgqa_cli.extraction.parallel import ordered_map
from kgqa_cli.extraction.pieces import split_texts
from kgqa_cli.extraction.triples import ObjectSpan, TripleMaker, dedupe, shift
from kgqa_cli.extraction.vocab import CharVocab

if TYPE_CHECKING:
    from kgqa_cli.extraction.lexicon import Lexicon
    from kgqa_cli.extraction.tokens import Subwords, TokenizedText

log = logging.getLogger(__name__)

MODEL_FILES = ("model.safetensors", "vocab.json", "schema.jsonl", "config.json")
# A pretrained encoder's model folder: its tokenizer and encoder config in encoder/, no vocab.json.
PRETRAINED_MODEL_FILES = ("model.safetensors", "schema.jsonl", "config.json", "encoder/config.json")
ENSEMBLE_FILE = "ensemble.json"  # in an ensemble's folder: its members' folders
SUBJECT_CHUNK = 64  # subjects through the object layers at once
# A decoded subject: (sentence in the batch, first position, last position, score).
SubjectSpan = tuple[int, int, int, float]


def choose_device(device: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    from kgqa_cli.errors import ConfigError

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device cuda was asked for, but torch sees no CUDA GPU", hint="use --kg.train.device cpu")
    return torch.device(device)


class Extractor:
    """A trained extractor with its vocabulary, schema and output channels.

    An ensemble (:mod:`kgqa_cli.extraction.ensemble`) has several members that share the schema:
    their pointer probabilities are averaged, for the subjects and then for each subject's objects.
    """

    def __init__(
        self, model: CasRel, vocab: CharVocab | None, schema: Schema, *, version: str | None = None,
        device: torch.device | None = None, lexicon: Lexicon | None = None, bigrams: CharVocab | None = None,
        subwords: Subwords | None = None,
    ) -> None:
        self.members = [Member(model, vocab, lexicon, bigrams, subwords)]
        self.schema = schema
        self.channels = channels_of(schema)
        self.version = version
        self.device = device or torch.device("cpu")
        self._maker = TripleMaker(schema, self.channels)

    @classmethod
    def load(cls, folder: Path, *, version: str | None = None, device: str = "cpu") -> Extractor:
        """Load a model folder written by training (weights, vocabulary, schema, config), or an
        ensemble's folder (``ensemble.json`` naming one such folder per member)."""
        from kgqa_cli.torch_setup import limit_primitive_cache

        limit_primitive_cache()  # before the first forward pass of this process
        folder = Path(folder)
        target = choose_device(device)
        if (folder / ENSEMBLE_FILE).exists():
            return cls._load_ensemble(folder, version, target)
        return cls._load_one(folder, version, target, {})

    @classmethod
    def _load_ensemble(cls, folder: Path, version: str | None, device: torch.device) -> Extractor:
        """An ensemble's folder: its members loaded one by one, then joined into the first."""
        members = json.loads((folder / ENSEMBLE_FILE).read_text(encoding="utf-8"))["members"]
        lexicons: dict[tuple[str, bytes], Lexicon] = {}
        loaded = [cls._load_one(folder / member["folder"], version, device, lexicons) for member in members]
        extractor = loaded[0]
        if any(member.subwords is not None for other in loaded for member in other.members):
            from kgqa_cli.errors import ConfigError

            raise ConfigError(f"{folder}: an ensemble cannot hold an extractor on a pretrained encoder (its "
                              "positions are tokens, its members' characters)",
                              hint="use the pretrained-encoder version on its own")
        for other in loaded[1:]:
            if other.channels != extractor.channels:
                raise CorruptArtifactError(f"{folder}: the ensemble's members have different output channels",
                                           hint="rebuild it with `kgqa ensemble` from versions of one schema")
            extractor.members.extend(other.members)
        return extractor

    @classmethod
    def _load_one(cls, folder: Path, version: str | None, device: torch.device,
                  lexicons: dict[tuple[str, bytes], Lexicon]) -> Extractor:
        """One trained model folder; ``lexicons`` shares a word lexicon between members built alike."""
        from safetensors.torch import load_file

        config = None
        if (folder / "config.json").exists():
            config = KgModelConfig.model_validate(json.loads((folder / "config.json").read_text(encoding="utf-8")))
        required = PRETRAINED_MODEL_FILES if config is not None and config.uses_pretrained else MODEL_FILES
        missing = [name for name in required if not (folder / name).exists()]
        if missing or config is None:  # no config: config.json is missing
            raise MissingArtifactError(f"{folder} lacks {', '.join(missing)}", hint="run `kgqa train kg`")
        schema = Schema.load(folder / "schema.jsonl")
        subject_types = channel_subject_types(schema)[1] if config.subject_types else None
        if config.uses_pretrained:
            from kgqa_cli.extraction.tokens import load_saved_encoder

            encoder, subwords = load_saved_encoder(folder)
            model = CasRel(0, len(channels_of(schema)), config, None, subject_types, encoder=encoder)
            model.load_state_dict(load_file(str(folder / "model.safetensors")))
            model.to(device).eval()
            return cls(model, None, schema, version=version, device=device, subwords=subwords)
        vocab = CharVocab.load(folder / "vocab.json")
        lexicon = _shared_lexicon(config, folder, lexicons) if config.lexicon.enabled else None
        bigram_vocab = CharVocab.load(folder / "bigrams.json") if config.bigram_dim else None
        model = CasRel(len(vocab), len(channels_of(schema)), config,
                       (lexicon.vocabulary_size, lexicon.tag_count) if lexicon is not None else None,
                       subject_types, len(bigram_vocab) if bigram_vocab is not None else None)
        model.load_state_dict(load_file(str(folder / "model.safetensors")))
        model.to(device).eval()
        return cls(model, vocab, schema, version=version, device=device, lexicon=lexicon, bigrams=bigram_vocab)

    def predict_batch(
        self, texts: list[str], subject_threshold: float, object_threshold: float, *, bfloat16: bool = False
    ) -> list[list[Triple]]:
        """Triples of each text (texts should already fit the model's comfortable length); with
        ``bfloat16`` the network runs in bfloat16 (the pointers' probabilities read in float32).
        An ensemble's members vote by their mean probability at every pointer."""
        if not texts:
            return []
        with torch.inference_mode():
            tokenized = self.members[0].tokenize(texts)  # None: positions are characters
            encoded = [member.encode(texts, self.device, bfloat16, tokenized) for member in self.members]
            heads, tails = (probabilities * encoded[0].mask for probabilities in subject_probabilities(encoded))
            subjects: list[SubjectSpan] = [
                (row, head, tail, score) for row, _, head, tail, score
                in decode_batch_spans(heads.cpu().numpy()[..., None], tails.cpu().numpy()[..., None], subject_threshold)]
            results: list[list[Triple]] = [[] for _ in texts]
            if not subjects:
                return results
            parts = sentence_parts(encoded)
            # The batch's subjects go through the object layers SUBJECT_CHUNK at a time: one
            # [subjects, characters, channels] block per chunk bounds the memory of long texts.
            for start in range(0, len(subjects), SUBJECT_CHUNK):
                chosen = subjects[start:start + SUBJECT_CHUNK]
                spans_of = self._object_spans(encoded, parts, chosen, object_threshold)
                for (row, head, tail, subject_score), spans in zip(chosen, spans_of, strict=True):
                    found = (((head, tail), spans) if tokenized is None
                             else _on_characters(tokenized[row], head, tail, spans))
                    if found is not None:
                        results[row].extend(self._maker.triples(found[0], subject_score, found[1], texts[row]))
        return [dedupe(triples) for triples in results]

    def _object_spans(self, encoded: list[MemberBatch], parts: list[torch.Tensor], chosen: list[SubjectSpan],
                      threshold: float) -> list[list[ObjectSpan]]:
        """The object spans (channel, head, tail, score) of each chosen subject."""
        index = torch.tensor([[s[0], s[1], s[2]] for s in chosen], device=self.device)
        object_mask = encoded[0].mask.index_select(0, index[:, 0]).unsqueeze(-1)
        object_heads, object_tails = ((probabilities * object_mask).cpu().numpy()
                                      for probabilities in object_probabilities(encoded, parts, index))
        spans_of: list[list[ObjectSpan]] = [[] for _ in chosen]
        for number, channel, head, tail, score in decode_batch_spans(object_heads, object_tails, threshold):
            spans_of[number].append((channel, head, tail, score))
        return spans_of

    def pointer_probabilities(
        self, texts: list[str], subjects: list[list[tuple[int, int]]], *, bfloat16: bool = False
    ) -> list[tuple[np.ndarray, ...]]:
        """The (members' mean) probability at every pointer, for a teacher: per text, the subject
        heads and tails ``[L]`` and, for each of the given ``(head, tail)`` subject spans, its
        object heads and tails ``[S, L, channels]`` (float16, cut to the text's length)."""
        if not texts:
            return []
        if any(member.subwords is not None for member in self.members):
            from kgqa_cli.errors import ConfigError

            raise ConfigError(f"{self.version or 'this extractor'} works on a pretrained encoder's tokens: it cannot "
                              "teach a model's characters", hint="name a teacher trained with kg.model.encoder lstm")
        found: list[tuple[np.ndarray, ...]] = []
        with torch.inference_mode():
            encoded = [member.encode(texts, self.device, bfloat16) for member in self.members]
            heads, tails = (half(probabilities) for probabilities in subject_probabilities(encoded))
            rows = [(row, head, tail) for row, spans in enumerate(subjects) for head, tail in spans]
            object_heads = object_tails = np.zeros((0, heads.shape[1], len(self.channels)), dtype=np.float16)
            if rows:
                parts = sentence_parts(encoded)
                chunks = [object_probabilities(encoded, parts,
                                               torch.tensor(rows[start:start + SUBJECT_CHUNK], device=self.device))
                          for start in range(0, len(rows), SUBJECT_CHUNK)]
                object_heads = np.concatenate([half(chunk_heads) for chunk_heads, _ in chunks])
                object_tails = np.concatenate([half(chunk_tails) for _, chunk_tails in chunks])
        position = 0
        for row, text in enumerate(texts):
            length, count = len(text), len(subjects[row])
            found.append((heads[row, :length].copy(), tails[row, :length].copy(),
                          object_heads[position:position + count, :length].copy(),
                          object_tails[position:position + count, :length].copy()))
            position += count
        return found

    def extract(
        self,
        texts: list[str],
        *,
        batch_size: int = 64,
        max_chars: int = 200,
        subject_threshold: float = 0.5,
        object_threshold: float = 0.5,
        on_progress: Callable[[int], None] | None = None,
        progress_in_chars: bool = False,
        bfloat16: bool | str = "auto",
        workers: int = 1,
    ) -> list[list[Triple]]:
        """Triples of every text; long texts are split into pieces and their triples merged.

        ``on_progress`` is called after each batch with the number of input texts finished, or
        with ``progress_in_chars`` the number of characters processed (which moves with the work
        even when one text is a megabyte long). ``bfloat16`` (true, false or ``"auto"``: where the
        device computes it natively) runs a bfloat16 copy of the network (the pointers'
        probabilities are still read in float32). ``workers`` batches run at once on a CPU, each
        on its share of torch's threads; the results are the same, in the same order.
        """
        subwords = self.members[0].subwords
        if subwords is not None:  # no piece longer than the encoder takes
            max_chars = min(max_chars, subwords.max_chars)
        pieces, starts = split_texts(texts, max_chars)
        remaining = [0] * len(texts)
        for number, _ in pieces:
            remaining[number] += 1
        results: list[list[Triple]] = [[] for _ in texts]
        # Sorting by length keeps padding small; results go back to their text by number.
        order = sorted(range(len(pieces)), key=lambda i: -len(pieces[i][1]))
        batches = [order[start:start + batch_size] for start in range(0, len(order), batch_size)]
        from kgqa_cli.torch_setup import resolve_bfloat16

        low_precision = resolve_bfloat16(bfloat16, self.device.type)

        def predict(batch: list[int]) -> list[list[Triple]]:
            return self.predict_batch([pieces[i][1] for i in batch], subject_threshold, object_threshold,
                                      bfloat16=low_precision)

        in_parallel = workers if self.device.type == "cpu" else 1
        for batch, found in zip(batches, ordered_map(predict, batches, in_parallel), strict=True):
            finished = 0
            for i, triples in zip(batch, found, strict=True):
                number = pieces[i][0]
                if starts[i]:
                    shift(triples, starts[i])
                results[number].extend(triples)
                remaining[number] -= 1
                finished += remaining[number] == 0
            if on_progress is not None:
                on_progress(sum(len(pieces[i][1]) for i in batch) if progress_in_chars else finished)
        return [dedupe(triples) for triples in results]


def _on_characters(tokenized: TokenizedText, head: int, tail: int,
                   spans: list[ObjectSpan]) -> tuple[tuple[int, int], list[ObjectSpan]] | None:
    """A subject's span and its objects' spans from token positions to the characters they cover;
    None when the subject covers none (an object that covers none is dropped)."""
    subject_span = tokenized.char_span(head, tail)
    if subject_span is None:
        return None
    return subject_span, [(channel, found[0], found[1], score) for channel, object_head, object_tail, score in spans
                          if (found := tokenized.char_span(object_head, object_tail)) is not None]


def _shared_lexicon(config: KgModelConfig, folder: Path, lexicons: dict[tuple[str, bytes], Lexicon]) -> Lexicon:
    """The word lexicon of a model folder, shared with the members built alike: loading one parses
    jieba's dictionary and builds its matcher, a second or two, done once."""
    from kgqa_cli.extraction.lexicon import Lexicon

    key = (config.lexicon.model_dump_json(), (folder / "lexicon.json").read_bytes())
    if key not in lexicons:
        lexicons[key] = Lexicon.load(config.lexicon, folder / "lexicon.json")
    return lexicons[key]


def load_registered(
    registry_root: Path, version: str | None, device: str = "cpu", *, include_rejected: bool = False,
    prefer_approved: bool = False,
) -> Extractor:
    """The extractor of registry group ``kg``: the version named, else the newest usable one
    (``include_rejected`` for evaluation, which may re-gate a rejected version). With
    ``prefer_approved`` (extraction for the graph), the newest Approved version comes before a
    newer one still pending approval, which is named in a warning; without any Approved one, the
    newest usable."""
    from kgqa_cli.mlops.registry import Registry, model_files

    registry = Registry(registry_root)
    model_version = registry.get("kg", version, include_rejected=include_rejected)
    if version is None and prefer_approved and model_version.status != "Approved":
        approved = [v for v in registry.versions("kg") if v.status == "Approved"]
        if approved:
            log.warning("%s is %s: extracting with %s, the newest Approved (approve it with `kgqa registry approve "
                        "%s`, or name it with --model)", model_version.name, model_version.status, approved[-1].name,
                        model_version.name)
            model_version = approved[-1]
    with model_files(model_version.path / "model"):
        return Extractor.load(model_version.path / "model", version=model_version.name, device=device)
