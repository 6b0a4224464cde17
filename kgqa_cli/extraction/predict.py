"""Inference: load a saved extractor and turn texts into corpus-format triples, batch by batch."""

from __future__ import annotations

import copy
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kgqa_cli.data.schema import Schema
from kgqa_cli.errors import CorruptArtifactError, MissingArtifactError
from kgqa_cli.extraction.config import KgModelConfig
from kgqa_cli.extraction.decode import decode_batch_spans
from kgqa_cli.extraction.labels import channel_subject_types, channels_of, split_channel
from kgqa_cli.extraction.model import CasRel
from kgqa_cli.extraction.vocab import CharVocab, bigrams

log = logging.getLogger(__name__)

MODEL_FILES = ("model.safetensors", "vocab.json", "schema.jsonl", "config.json")
# A pretrained encoder's model folder: its tokenizer and encoder config in encoder/, no vocab.json.
PRETRAINED_MODEL_FILES = ("model.safetensors", "schema.jsonl", "config.json", "encoder/config.json")
ENSEMBLE_FILE = "ensemble.json"  # in an ensemble's folder: its members' folders
SUBJECT_CHUNK = 64  # subjects through the object layers at once
_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])")
_CLAUSE_END = re.compile(r"(?<=[，,、：:])")


def split_text(text: str, max_chars: int) -> list[str]:
    """Pieces of at most ``max_chars`` characters, cut at sentence punctuation, then at commas.

    A clause still longer than ``max_chars`` is cut at ``max_chars``; the pieces always join back
    to the whole text, so nothing is dropped.
    """
    if len(text) <= max_chars:
        return [text]
    pieces: list[str] = []
    for sentence in _pack(_SENTENCE_END.split(text), max_chars):
        if len(sentence) <= max_chars:
            pieces.append(sentence)
            continue
        for clause in _pack(_CLAUSE_END.split(sentence), max_chars):
            pieces.extend(clause[start:start + max_chars] for start in range(0, len(clause), max_chars))
    return [piece for piece in pieces if piece]


def _pack(parts: list[str], max_chars: int) -> list[str]:
    """Join consecutive parts greedily while they fit in ``max_chars``."""
    packed: list[str] = []
    for part in parts:
        if packed and len(packed[-1]) + len(part) <= max_chars:
            packed[-1] += part
        elif part:
            packed.append(part)
    return packed


def choose_device(device: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    from kgqa_cli.errors import ConfigError

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device cuda was asked for, but torch sees no CUDA GPU", hint="use --kg.train.device cpu")
    return torch.device(device)


def batch_ids(token_ids: list[list[int]], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ``[B, L]`` ids and their boolean mask."""
    width = max(1, max(len(ids) for ids in token_ids))
    array = np.zeros((len(token_ids), width), dtype=np.int64)
    for row, ids in enumerate(token_ids):
        array[row, : len(ids)] = ids
    ids = torch.from_numpy(array).to(device)
    return ids, ids != 0


class Member:
    """One network of an extractor, with the vocabulary, lexicon and bigrams it reads its input
    through, or the tokenizer of its pretrained encoder (``subwords``)."""

    def __init__(self, model: CasRel, vocab: CharVocab | None, lexicon: Any = None, bigrams: CharVocab | None = None,
                 subwords: Any = None) -> None:
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

    def tokenize(self, texts: list[str]) -> list | None:
        """The texts on the pretrained encoder's tokens (``TokenizedText``); None for a model that
        reads characters."""
        return self.subwords.tokenize(texts) if self.subwords is not None else None

    def encode(self, texts: list[str], device: torch.device, bfloat16: bool,
               tokenized: list | None = None) -> tuple[CasRel, torch.Tensor, torch.Tensor]:
        """(network, features ``[B, L, H]``, mask ``[B, L]``) of a batch of texts: one position per
        character, or with a pretrained encoder per token (``tokenized``, else tokenized here)."""
        model = self.network(bfloat16)
        if self.subwords is not None:
            tokenized = tokenized if tokenized is not None else self.tokenize(texts)
            ids, mask = batch_ids([text.ids for text in tokenized], device)
            return model, model.encode(ids, mask), mask
        ids, mask = batch_ids([self.vocab.encode(text) for text in texts], device)
        lexicon = None
        if self.lexicon is not None:
            lexicon = tuple(torch.from_numpy(part).to(device) for part in self.lexicon.batch_features(texts, ids.shape[1]))
        bigram_ids = None
        if self.bigrams is not None:
            bigram_ids, _ = batch_ids([self.bigrams.encode(bigrams(text)) for text in texts], device)
        return model, model.encode(ids, mask, lexicon, bigram_ids), mask


def _mean_probabilities(logits: list[torch.Tensor]) -> torch.Tensor:
    """The members' sigmoid probabilities in float32, averaged (one member: its own, untouched)."""
    total = torch.sigmoid(logits[0].float())
    for more in logits[1:]:
        total = total + torch.sigmoid(more.float())
    return total / len(logits) if len(logits) > 1 else total


def _subject_probabilities(encoded: list[tuple]) -> tuple[torch.Tensor, torch.Tensor]:
    """The members' mean subject head and tail probabilities, ``[B, L]`` each (``encoded``: each
    member's ``Member.encode`` of one batch)."""
    logits = [model.subject_logits(features) for model, features, _ in encoded]
    return _mean_probabilities([h for h, _ in logits]), _mean_probabilities([t for _, t in logits])


def _sentence_parts(encoded: list[tuple]) -> list[torch.Tensor]:
    """Each member's per-sentence part of its object layers, computed once for all subjects."""
    return [model.sentence_conv(model.object_conv, features) for model, features, _ in encoded]


def _object_probabilities(encoded: list[tuple], sentence_parts: list[torch.Tensor],
                          index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The members' mean object head and tail probabilities, ``[S, L, channels]`` each, of the
    subjects in the rows of ``index`` (sentence, head, tail)."""
    logits = [model.object_logits(features, index[:, 0], index[:, 1], index[:, 2], sentence_part=part)
              for (model, features, _), part in zip(encoded, sentence_parts, strict=True)]
    return _mean_probabilities([h for h, _ in logits]), _mean_probabilities([t for _, t in logits])


def _half(probabilities: torch.Tensor) -> np.ndarray:
    """Probabilities as a float16 array: a teacher's targets, kept for every training sentence."""
    return probabilities.cpu().numpy().astype(np.float16)


class Extractor:
    """A trained extractor with its vocabulary, schema and output channels.

    An ensemble (:mod:`kgqa_cli.extraction.ensemble`) has several members that share the schema:
    their pointer probabilities are averaged, for the subjects and then for each subject's objects.
    """

    def __init__(
        self, model: CasRel, vocab: CharVocab | None, schema: Schema, *, version: str | None = None,
        device: torch.device | None = None, lexicon: Any = None, bigrams: CharVocab | None = None,
        subwords: Any = None,
    ) -> None:
        self.members = [Member(model, vocab, lexicon, bigrams, subwords)]
        self.schema = schema
        self.channels = channels_of(schema)
        self.version = version
        self.device = device or torch.device("cpu")
        self._types = {
            predicate: dict(schema.relations_of(predicate)[0].object_type) | {
                "@subject": schema.relations_of(predicate)[0].subject_type
            }
            for predicate in schema.predicates
        }

    @classmethod
    def load(cls, folder: Path, *, version: str | None = None, device: str = "cpu") -> Extractor:
        """Load a model folder written by training (weights, vocabulary, schema, config), or an
        ensemble's folder (``ensemble.json`` naming one such folder per member)."""
        from kgqa_cli.torch_setup import limit_primitive_cache

        limit_primitive_cache()  # before the first forward pass of this process
        folder = Path(folder)
        target = choose_device(device)
        if (folder / ENSEMBLE_FILE).exists():
            members = json.loads((folder / ENSEMBLE_FILE).read_text(encoding="utf-8"))["members"]
            lexicons: dict = {}
            loaded = [cls._load_one(folder / member["folder"], version, target, lexicons) for member in members]
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
        return cls._load_one(folder, version, target, {})

    @classmethod
    def _load_one(cls, folder: Path, version: str | None, device: torch.device, lexicons: dict) -> Extractor:
        """One trained model folder; ``lexicons`` shares a word lexicon between members built alike."""
        from safetensors.torch import load_file

        config = None
        if (folder / "config.json").exists():
            config = KgModelConfig.model_validate(json.loads((folder / "config.json").read_text(encoding="utf-8")))
        required = PRETRAINED_MODEL_FILES if config is not None and config.uses_pretrained else MODEL_FILES
        missing = [name for name in required if not (folder / name).exists()]
        if missing:
            raise MissingArtifactError(f"{folder} lacks {', '.join(missing)}", hint="run `kgqa train kg`")
        schema = Schema.load(folder / "schema.jsonl")
        if config.uses_pretrained:
            from kgqa_cli.extraction.tokens import load_saved_encoder

            encoder, subwords = load_saved_encoder(folder)
            model = CasRel(0, len(channels_of(schema)), config, None,
                           channel_subject_types(schema)[1] if config.subject_types else None, encoder=encoder)
            model.load_state_dict(load_file(str(folder / "model.safetensors")))
            model.to(device).eval()
            return cls(model, None, schema, version=version, device=device, subwords=subwords)
        vocab = CharVocab.load(folder / "vocab.json")
        lexicon = None
        if config.lexicon.enabled:
            from kgqa_cli.extraction.lexicon import Lexicon

            # Loading one parses jieba's dictionary and builds its matcher: a second or two, done once.
            key = (config.lexicon.model_dump_json(), (folder / "lexicon.json").read_bytes())
            if key not in lexicons:
                lexicons[key] = Lexicon.load(config.lexicon, folder / "lexicon.json")
            lexicon = lexicons[key]
        bigram_vocab = CharVocab.load(folder / "bigrams.json") if config.bigram_dim else None
        model = CasRel(len(vocab), len(channels_of(schema)), config,
                       (lexicon.vocabulary_size, lexicon.tag_count) if lexicon is not None else None,
                       channel_subject_types(schema)[1] if config.subject_types else None,
                       len(bigram_vocab) if bigram_vocab is not None else None)
        model.load_state_dict(load_file(str(folder / "model.safetensors")))
        model.to(device).eval()
        return cls(model, vocab, schema, version=version, device=device, lexicon=lexicon, bigrams=bigram_vocab)

    def predict_batch(
        self, texts: list[str], subject_threshold: float, object_threshold: float, *, bfloat16: bool = False
    ) -> list[list[dict]]:
        """Triples of each text (texts should already fit the model's comfortable length); with
        ``bfloat16`` the network runs in bfloat16 (the pointers' probabilities read in float32).
        An ensemble's members vote by their mean probability at every pointer."""
        if not texts:
            return []
        with torch.inference_mode():
            tokenized = self.members[0].tokenize(texts)  # None: positions are characters
            encoded = [member.encode(texts, self.device, bfloat16, tokenized) for member in self.members]
            mask = encoded[0][2]
            heads, tails = (probabilities * mask for probabilities in _subject_probabilities(encoded))
            heads, tails = heads.cpu().numpy(), tails.cpu().numpy()
            subjects = [(row, head, tail, score)  # (sentence, head, tail, score)
                        for row, _, head, tail, score in decode_batch_spans(heads[..., None], tails[..., None],
                                                                            subject_threshold)]
            results: list[list[dict]] = [[] for _ in texts]
            if not subjects:
                return results
            sentence_parts = _sentence_parts(encoded)
            # The batch's subjects go through the object layers SUBJECT_CHUNK at a time: one
            # [subjects, characters, channels] block per chunk bounds the memory of long texts.
            for start in range(0, len(subjects), SUBJECT_CHUNK):
                chosen = subjects[start:start + SUBJECT_CHUNK]
                index = torch.tensor([[s[0], s[1], s[2]] for s in chosen], device=self.device)
                object_mask = mask.index_select(0, index[:, 0]).unsqueeze(-1)
                object_heads, object_tails = (
                    (probabilities * object_mask).cpu().numpy()
                    for probabilities in _object_probabilities(encoded, sentence_parts, index))
                spans_of: list[list] = [[] for _ in chosen]
                for number, *span in decode_batch_spans(object_heads, object_tails, object_threshold):
                    spans_of[number].append(span)
                for (row, head, tail, subject_score), spans in zip(chosen, spans_of, strict=True):
                    text = texts[row]
                    if tokenized is not None:  # token positions -> the characters they cover
                        subject_span = tokenized[row].char_span(head, tail)
                        if subject_span is None:
                            continue
                        head, tail = subject_span
                        spans = [(channel, *found, score) for channel, object_head, object_tail, score in spans
                                 if (found := tokenized[row].char_span(object_head, object_tail)) is not None]
                    results[row].extend(self._triples((head, tail), subject_score, spans, text))
        return [_dedupe(triples) for triples in results]

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
            heads, tails = (_half(probabilities) for probabilities in _subject_probabilities(encoded))
            rows = [(row, head, tail) for row, spans in enumerate(subjects) for head, tail in spans]
            object_heads = object_tails = np.zeros((0, heads.shape[1], len(self.channels)), dtype=np.float16)
            if rows:
                sentence_parts = _sentence_parts(encoded)
                chunks = [_object_probabilities(encoded, sentence_parts,
                                                torch.tensor(rows[start:start + SUBJECT_CHUNK], device=self.device))
                          for start in range(0, len(rows), SUBJECT_CHUNK)]
                object_heads = np.concatenate([_half(chunk_heads) for chunk_heads, _ in chunks])
                object_tails = np.concatenate([_half(chunk_tails) for _, chunk_tails in chunks])
        position = 0
        for row, text in enumerate(texts):
            length, count = len(text), len(subjects[row])
            found.append((heads[row, :length].copy(), tails[row, :length].copy(),
                          object_heads[position:position + count, :length].copy(),
                          object_tails[position:position + count, :length].copy()))
            position += count
        return found

    def _triples(self, subject_span: tuple[int, int], subject_score: float, spans: list, text: str) -> list[dict]:
        """Corpus-format triples of one subject (its first and last character in ``text``); slot
        channels fill the nearest main object. Each triple carries the character offsets of its
        subject and object in ``text`` (``subject_span``, ``object_span``: start, end exclusive)."""
        subject_head, subject_tail = subject_span
        subject = text[subject_head: subject_tail + 1]
        values: dict[str, list[tuple[int, int, str, float]]] = {}
        slots: dict[tuple[str, str], list[tuple[int, int, str, float]]] = {}
        for channel, head, tail, score in spans:
            predicate, slot = split_channel(self.channels[channel])
            entry = (head, tail, text[head: tail + 1], score)
            if slot == "@value":
                values.setdefault(predicate, []).append(entry)
            else:
                slots.setdefault((predicate, slot), []).append(entry)
        triples = []
        for predicate, objects in values.items():
            types = self._types[predicate]
            for position, end, value, score in objects:
                obj = {"@value": value}
                obj_type = {"@value": types["@value"]}
                for (slot_predicate, slot), candidates in slots.items():
                    if slot_predicate == predicate and slot in types:
                        nearest = min(candidates, key=lambda c, p=position: (abs(c[0] - p), -c[3]))
                        obj[slot] = nearest[2]
                        obj_type[slot] = types[slot]
                triples.append({
                    "subject": subject,
                    "subject_type": types["@subject"],
                    "predicate": predicate,
                    "object": obj,
                    "object_type": obj_type,
                    "score": round(subject_score * score, 4),
                    "subject_span": [subject_head, subject_tail + 1],
                    "object_span": [position, end + 1],
                })
        return triples

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
    ) -> list[list[dict]]:
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
        pieces: list[tuple[int, str]] = []
        starts: list[int] = []  # where each piece begins in its text: offsets go back to the whole text
        for number, text in enumerate(texts):
            start = 0
            for piece in split_text(text, max_chars):
                pieces.append((number, piece))
                start = text.index(piece, start)  # pieces join back to the text, in order
                starts.append(start)
                start += len(piece)
        remaining = [0] * len(texts)
        for number, _ in pieces:
            remaining[number] += 1
        results: list[list[dict]] = [[] for _ in texts]
        # Sorting by length keeps padding small; results go back to their text by number.
        order = sorted(range(len(pieces)), key=lambda i: -len(pieces[i][1]))
        from kgqa_cli.torch_setup import resolve_bfloat16

        low_precision = resolve_bfloat16(bfloat16, self.device.type)
        batches = [[pieces[i] for i in order[start:start + batch_size]] for start in range(0, len(order), batch_size)]
        batch_starts = [[starts[i] for i in order[start:start + batch_size]] for start in range(0, len(order), batch_size)]

        def predict(chosen: list[tuple[int, str]]) -> list[list[dict]]:
            return self.predict_batch([piece for _, piece in chosen], subject_threshold, object_threshold,
                                      bfloat16=low_precision)

        in_parallel = workers if self.device.type == "cpu" else 1
        for chosen, piece_starts, found in zip(batches, batch_starts, _ordered_map(predict, batches, in_parallel),
                                               strict=True):
            finished = 0
            for (number, _), offset, triples in zip(chosen, piece_starts, found, strict=True):
                if offset:
                    for triple in triples:
                        for key in ("subject_span", "object_span"):
                            triple[key] = [triple[key][0] + offset, triple[key][1] + offset]
                results[number].extend(triples)
                remaining[number] -= 1
                finished += remaining[number] == 0
            if on_progress is not None:
                on_progress(sum(len(piece) for _, piece in chosen) if progress_in_chars else finished)
        return [_dedupe(triples) for triples in results]


_THREAD_SHARE = threading.Lock()  # held while torch's thread count is lowered for parallel batches


def _ordered_map(function: Callable, items: list, workers: int) -> Iterator:
    """``map(function, items)``, with ``workers`` items at once in threads that share torch's CPU
    threads between them (the kernels release the GIL): the small sequential steps of the
    Bi-LSTM keep one thread busier than they keep two.

    Torch's thread count is process-wide, and a thread keeps the count it saw when it first ran
    torch: so one call at a time lowers it (for its new pool threads) and restores it, and a call
    that finds it lowered by another runs its batches one by one instead.
    """
    threads = torch.get_num_threads()
    workers = min(workers, threads)  # never more threads at work than the caller allowed (kg.train.threads)
    if workers <= 1 or len(items) <= 1 or not _THREAD_SHARE.acquire(blocking=False):
        yield from map(function, items)
        return
    from concurrent.futures import ThreadPoolExecutor

    try:
        torch.set_num_threads(max(1, threads // workers))  # taken up by the pool's threads as they start
        pool = ThreadPoolExecutor(workers, thread_name_prefix="extract")
        try:
            yield from pool.map(function, items)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # a failed batch cancels the batches not yet started
            torch.set_num_threads(threads)
    finally:
        _THREAD_SHARE.release()


def _dedupe(triples: list[dict]) -> list[dict]:
    """One triple per (subject, predicate, object), the best-scored kept, in a stable order."""
    best: dict[tuple, dict] = {}
    for triple in triples:
        key = (triple["subject"], triple["predicate"], triple["object"]["@value"])
        if key not in best or triple["score"] > best[key]["score"]:
            best[key] = triple
    return sorted(best.values(), key=lambda t: (t["subject"], t["predicate"], t["object"]["@value"]))


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
