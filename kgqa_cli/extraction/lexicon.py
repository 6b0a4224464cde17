"""Word-lexicon features of each character, SoftLexicon-style (Ma et al., 2020).

Chinese extraction without a pretrained encoder gains from knowing which dictionary words a
character belongs to. The lexicon is jieba's dictionary (``jieba/dict.txt`` of the pinned jieba
release: about 337k words of two characters or more, each with a frequency and a part-of-speech
tag, among them ~73k person names ``nr``, ~18k places ``ns``, ~5k organisations ``nt``), plus the
subject and object names of the *training* split, tagged with their schema type (never dev or
test names). Every word found in a sentence gives its characters a role: B (the word begins
there), M (inside) or E (ends there). Per character and role, the words' vectors (a word
embedding when the word is in the model's word vocabulary, plus an embedding of its tag) are
averaged with weights ``log(1 + frequency)`` normalised over the character's words of all three
roles, as SoftLexicon pools them; the three pooled vectors join the character embedding.

With ``word_vectors`` a word also has a vector of its own: the words matched in the training
sentences (most frequent first, at most ``max_vocabulary``); a word outside it still counts
through its tag. Off by default: with no pretrained word vectors to start from they let the
model memorise the training names instead of learning what a name looks like. A saved model keeps its
vocabulary, its tags and its corpus names in ``lexicon.json``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from kgqa_cli.errors import InputDataError, MissingArtifactError
from kgqa_cli.io import write_json

ROLES = ("B", "M", "E")
# Corpus names count as this many dictionary occurrences each time they appear in train.
CORPUS_NAME_FREQUENCY = 1000


def jieba_dictionary() -> Path:
    """The dictionary file of the installed jieba package."""
    try:
        import jieba
    except ImportError as exc:  # pragma: no cover - jieba is a dependency
        raise MissingArtifactError("jieba is not installed: the word lexicon needs its dictionary",
                                   hint="reinstall with `make install`") from exc
    path = Path(jieba.__file__).parent / "dict.txt"
    if not path.is_file():  # pragma: no cover
        raise MissingArtifactError(f"{path} is missing from the jieba package")
    return path


def _dictionary_words(path: Path, max_length: int) -> dict[str, tuple[float, str]]:
    words: dict[str, tuple[float, str]] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            parts = line.split()
            if len(parts) >= 2 and 2 <= len(parts[0]) <= max_length:
                words[parts[0]] = (float(parts[1]), parts[2] if len(parts) > 2 else "x")
    return words


def corpus_names(records: list[dict], max_length: int) -> dict[str, tuple[int, str]]:
    """Subject and object names of labelled records: name -> (times seen, its most common type)."""
    counts: Counter = Counter()
    types: dict[str, Counter] = {}
    for record in records:
        for spo in record["spo_list"]:
            for name, type_name in ((spo["subject"], spo.get("subject_type")),
                                    (spo["object"]["@value"], spo.get("object_type", {}).get("@value"))):
                name = str(name).strip()
                if 2 <= len(name) <= max_length:
                    counts[name] += 1
                    types.setdefault(name, Counter())[f"type:{type_name or '-'}"] += 1
    return {name: (count, types[name].most_common(1)[0][0]) for name, count in sorted(counts.items())}


class Lexicon:
    """The matching automaton, the word and tag vocabularies, and the features of a text."""

    def __init__(self, config: Any, words: list[str], tags: list[str], names: dict[str, tuple[int, str]],
                 dictionary_sha256: str, entries: dict[str, tuple[float, str]] | None = None) -> None:
        import ahocorasick

        self.config = config
        self.words = list(words)  # id i + 1 is words[i]; 0: no word vector (padding, out of vocabulary)
        self.tags = list(tags)  # id i + 1 is tags[i]; 0: padding
        self.names = dict(names)
        self.dictionary_sha256 = dictionary_sha256
        word_id = {word: number for number, word in enumerate(self.words, start=1)}
        tag_id = {tag: number for number, tag in enumerate(self.tags, start=1)}
        entries = dict(entries if entries is not None else _dictionary_words(jieba_dictionary(), config.max_word_length))
        for name, (count, tag) in self.names.items():
            frequency, _ = entries.get(name, (0.0, tag))
            entries[name] = (frequency + CORPUS_NAME_FREQUENCY * count, tag)
        self._automaton = ahocorasick.Automaton()
        for word, (frequency, tag) in entries.items():
            self._automaton.add_word(word, (len(word), word_id.get(word, 0), tag_id.get(tag, 0),
                                            math.log1p(frequency)))
        self._automaton.make_automaton()

    @property
    def vocabulary_size(self) -> int:
        return len(self.words) + 1

    @property
    def tag_count(self) -> int:
        return len(self.tags) + 1

    @classmethod
    def build(cls, config: Any, records: list[dict], max_len: int) -> Lexicon:
        """The lexicon of a training run: jieba's words and the training names; the word
        vocabulary from the words matched in the training sentences."""
        import ahocorasick

        path = jieba_dictionary()
        names = corpus_names(records, config.max_word_length) if config.corpus_names else {}
        entries = _dictionary_words(path, config.max_word_length)
        tags = sorted({tag for _, tag in entries.values()} | {tag for _, tag in names.values()})
        automaton = ahocorasick.Automaton()
        for word in set(entries) | set(names):
            automaton.add_word(word, word)
        automaton.make_automaton()
        seen: Counter = Counter(word for record in records for _, word in automaton.iter(record["text"][:max_len]))
        words = [word for word, count in sorted(seen.items(), key=lambda item: (-item[1], item[0]))
                 if count >= config.min_word_count][: config.max_vocabulary] if config.word_vectors else []
        return cls(config, words, tags, names, _sha256(path), entries)  # the dictionary read once

    def save(self, path: Path) -> None:
        """``lexicon.json``: the vocabularies, the corpus names and the dictionary's checksum."""
        write_json(path, {"words": self.words, "tags": self.tags, "names": self.names,
                          "dictionary_sha256": self.dictionary_sha256})

    @classmethod
    def load(cls, config: Any, path: Path) -> Lexicon:
        """A saved lexicon; jieba's dictionary must be the one the model was trained with."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            names = {name: (int(count), tag) for name, (count, tag) in data["names"].items()}
            words, tags, expected = data["words"], data["tags"], data["dictionary_sha256"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputDataError(f"{path}: not a lexicon file ({exc})") from exc
        actual = _sha256(jieba_dictionary())
        if actual != expected:
            raise InputDataError(f"{path}: the model was trained with another jieba dictionary "
                                 f"(sha256 {expected[:12]}, installed {actual[:12]})",
                                 hint="install the jieba version of constraints.txt")
        return cls(config, words, tags, names, expected)

    def features(self, text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Word ids, tag ids and pooling weights of each character and role, ``[L, 3, K]`` each
        (K = ``max_words_per_role``: the most frequent words kept)."""
        size, limit = len(text), self.config.max_words_per_role
        found: dict[tuple[int, int], list[tuple[float, int, int]]] = {}
        for end, (length, word, tag, weight) in self._automaton.iter(text):
            start = end - length + 1
            found.setdefault((start, 0), []).append((weight, word, tag))
            found.setdefault((end, 2), []).append((weight, word, tag))
            for middle in range(start + 1, end):
                found.setdefault((middle, 1), []).append((weight, word, tag))
        word_ids = np.zeros((size, 3, limit), dtype=np.int64)
        tag_ids = np.zeros((size, 3, limit), dtype=np.int64)
        weights = np.zeros((size, 3, limit), dtype=np.float32)
        for (position, role), entries in found.items():
            entries.sort(reverse=True)
            for slot, (weight, word, tag) in enumerate(entries[:limit]):
                word_ids[position, role, slot], tag_ids[position, role, slot] = word, tag
                weights[position, role, slot] = weight
        total = weights.sum(axis=(1, 2), keepdims=True)
        np.divide(weights * len(ROLES), total, out=weights, where=total > 0)
        return word_ids, tag_ids, weights


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stack_features(features: list[tuple[np.ndarray, np.ndarray, np.ndarray]], width: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Right-padded ``[B, width, 3, K]`` arrays of several texts' features."""
    limit = features[0][0].shape[2] if features else 1
    words = np.zeros((len(features), width, 3, limit), dtype=np.int64)
    tags = np.zeros_like(words)
    weights = np.zeros((len(features), width, 3, limit), dtype=np.float32)
    for row, (w, t, v) in enumerate(features):
        size = min(len(w), width)
        words[row, :size], tags[row, :size], weights[row, :size] = w[:size], t[:size], v[:size]
    return words, tags, weights
