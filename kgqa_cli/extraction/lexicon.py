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
import zlib
from array import array
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from kgqa_cli.data.records import Record
from kgqa_cli.errors import InputDataError, MissingArtifactError
from kgqa_cli.extraction.config import LexiconConfig
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


def dictionary_lines(path: Path, max_length: int) -> Iterator[tuple[str, float, str]]:
    """(word, frequency, tag) of each dictionary word of 2 to ``max_length`` characters."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            parts = line.split()
            if len(parts) >= 2 and 2 <= len(parts[0]) <= max_length:
                yield parts[0], float(parts[1]), parts[2] if len(parts) > 2 else "x"


def corpus_names(records: Sequence[Record], max_length: int) -> dict[str, tuple[int, str]]:
    """Subject and object names of labelled records: name -> (times seen, its most common type)."""
    counts: Counter[str] = Counter()
    types: dict[str, Counter[str]] = {}
    for record in records:
        for spo in record.spo_list:
            for name, type_name in ((spo.subject, spo.subject_type), (spo.object.value, spo.object_type.value)):
                name = str(name).strip()
                if 2 <= len(name) <= max_length:
                    counts[name] += 1
                    types.setdefault(name, Counter())[f"type:{type_name or '-'}"] += 1
    return {name: (count, types[name].most_common(1)[0][0]) for name, count in sorted(counts.items())}


class Lexicon:
    """The matching automaton, the word and tag vocabularies, and the features of texts.

    The Aho-Corasick matcher (ahocorasick_rs: five times faster than pyahocorasick over these
    ~337k words, and half its memory) gives each match its entry number; the entries' word id,
    tag id and pooling weight are numpy columns (a Python tuple per word would take 80 MB more).
    """

    def __init__(self, config: LexiconConfig, words: list[str], tags: list[str], names: dict[str, tuple[int, str]],
                 dictionary_sha256: str, dictionary: Path | None = None) -> None:
        from ahocorasick_rs import AhoCorasick

        self.config = config
        self.tags = list(tags)  # id i + 1 is tags[i]; 0: padding
        self.names = dict(names)
        self.dictionary_sha256 = dictionary_sha256
        tag_id = {tag: number for number, tag in enumerate(self.tags, start=1)}
        entry_of: dict[str, int] = {}  # only while building: the matcher keeps the words
        tag_ids, frequencies = array("h"), array("d")
        for word, frequency, tag in dictionary_lines(dictionary or jieba_dictionary(), config.max_word_length):
            if word in entry_of:  # a word listed twice: the later line counts, as in a dict
                tag_ids[entry_of[word]], frequencies[entry_of[word]] = tag_id.get(tag, 0), frequency
            else:
                entry_of[word] = len(entry_of)
                tag_ids.append(tag_id.get(tag, 0))
                frequencies.append(frequency)
        for name, (count, tag) in self.names.items():  # a training name keeps its schema type
            if name not in entry_of:
                entry_of[name] = len(entry_of)
                tag_ids.append(0)
                frequencies.append(0.0)
            tag_ids[entry_of[name]] = tag_id.get(tag, 0)
            frequencies[entry_of[name]] += CORPUS_NAME_FREQUENCY * count
        self._matcher = AhoCorasick(list(entry_of))  # pattern i is entry i (dicts keep their order)
        del entry_of
        self._tag_ids = np.frombuffer(tag_ids, dtype=np.int16).astype(np.int32)
        self._weights = np.log1p(np.frombuffer(frequencies, dtype=np.float64))  # float64: ties as before
        self._word_ids = np.zeros(len(tag_ids), dtype=np.int32)
        self.words: list[str] = []
        self._assign_words(words)

    def _matches(self, text: str) -> list[tuple[int, int, int]]:
        """(entry, start, end + 1) of every dictionary word in ``text``, overlapping ones included."""
        return self._matcher.find_matches_as_indexes(text, overlapping=True)

    def _assign_words(self, words: list[str]) -> None:
        """Give ``words`` their own vectors: word i (0-based) has id i + 1; 0 is no vector."""
        self.words = list(words)
        self._word_ids[:] = 0
        for number, word in enumerate(self.words, start=1):
            for entry, start, end in self._matches(word):
                if start == 0 and end == len(word):
                    self._word_ids[entry] = number

    @property
    def vocabulary_size(self) -> int:
        return len(self.words) + 1

    @property
    def tag_count(self) -> int:
        return len(self.tags) + 1

    @classmethod
    def build(cls, config: LexiconConfig, records: Sequence[Record], max_len: int) -> Lexicon:
        """The lexicon of a training run: jieba's words and the training names; the word
        vocabulary from the words matched in the training sentences."""
        path = jieba_dictionary()
        names = corpus_names(records, config.max_word_length) if config.corpus_names else {}
        tags = sorted({tag for _, _, tag in dictionary_lines(path, config.max_word_length)}
                      | {tag for _, tag in names.values()})
        lexicon = cls(config, [], tags, names, _sha256(path), path)
        if config.word_vectors:
            seen: Counter[str] = Counter()
            for record in records:
                text = record.text[:max_len]
                seen.update(text[start:end] for _, start, end in lexicon._matches(text))
            ranked = sorted(seen.items(), key=lambda item: (-item[1], item[0]))
            lexicon._assign_words([word for word, count in ranked if count >= config.min_word_count]
                                  [: config.max_vocabulary])
        return lexicon

    def training_features(self, records: Sequence[Record], max_len: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Features of the training sentences ``records`` (the ones the corpus names came from).

        With ``name_folds`` N > 1 (and corpus names on) they are cross-fitted: each sentence falls
        in a fold by a checksum of its text, and its features come from a lexicon holding only the
        names of the other folds. Otherwise every gold name of a training sentence would be in
        its lexicon, while a new sentence's names are there only when train had them too: the
        model would learn to trust a name match far more than it should.
        """
        texts = [record.text[:max_len] for record in records]
        folds = self.config.name_folds if self.config.corpus_names else 0
        if folds <= 1:
            return [self.features(text) for text in texts]
        fold_of = [zlib.crc32(record.text.encode("utf-8")) % folds for record in records]
        features: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # each sentence's, from its fold
        for fold in range(folds):
            names = corpus_names([record for record, other in zip(records, fold_of, strict=True) if other != fold],
                                 self.config.max_word_length)
            held_out = Lexicon(self.config, self.words, self.tags, names, self.dictionary_sha256)
            for number, other in enumerate(fold_of):
                if other == fold:
                    features[number] = held_out.features(texts[number])
        return [features[number] for number in range(len(records))]

    def save(self, path: Path) -> None:
        """``lexicon.json``: the vocabularies, the corpus names and the dictionary's checksum."""
        write_json(path, {"words": self.words, "tags": self.tags, "names": self.names,
                          "dictionary_sha256": self.dictionary_sha256})

    @classmethod
    def load(cls, config: LexiconConfig, path: Path) -> Lexicon:
        """A saved lexicon; jieba's dictionary must be the one the model was trained with."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            names = {name: (int(count), tag) for name, (count, tag) in data["names"].items()}
            words, tags, expected = data["words"], data["tags"], data["dictionary_sha256"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputDataError(f"{path}: not a lexicon file ({exc})") from exc
        dictionary = jieba_dictionary()
        actual = _sha256(dictionary)
        if actual != expected:
            raise InputDataError(f"{path}: the model was trained with another jieba dictionary "
                                 f"(sha256 {expected[:12]}, installed {actual[:12]})",
                                 hint="install the jieba version of constraints.txt")
        return cls(config, words, tags, names, expected, dictionary)

    def features(self, text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Word ids, tag ids and pooling weights of each character and role, ``[L, 3, K]`` each
        (K = ``max_words_per_role``: the most frequent words kept)."""
        words, tags, weights = self.batch_features([text], len(text))
        return words[0], tags[0], weights[0]

    def batch_features(self, texts: list[str], width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``features`` of several texts at once, right-padded to ``[B, width, 3, K]``.

        Vectorised over every match of the batch: each match gives its start character role B,
        its end E and the characters between M; per character and role the K heaviest words are
        kept (ties: the higher word id, then tag id), and a character's kept weights are scaled
        to sum to 3 over its roles, as SoftLexicon normalises them.
        """
        limit = self.config.max_words_per_role
        matches: list[tuple[int, int, int]] = []
        counts = []
        for text in texts:
            found = self._matches(text[:width])
            matches.extend(found)
            counts.append(len(found))
        shape = (len(texts), width, len(ROLES), limit)
        word_ids, tag_ids = np.zeros(shape, dtype=np.int32), np.zeros(shape, dtype=np.int32)
        weights = np.zeros(shape, dtype=np.float32)
        if not matches:
            return word_ids, tag_ids, weights
        columns = np.array(matches, dtype=np.int64)
        row_of, entry_of = np.repeat(np.arange(len(texts)), counts), columns[:, 0]
        start_of, end_of = columns[:, 1], columns[:, 2] - 1
        inner = end_of - start_of - 1  # characters strictly inside each match
        match = np.concatenate([np.arange(len(entry_of)), np.arange(len(entry_of)),
                                np.repeat(np.arange(len(entry_of)), inner)])
        # The position of the k-th inner character of a match: its start + 1 + k.
        offsets = np.arange(inner.sum()) - np.repeat(np.cumsum(inner) - inner, inner)
        position = np.concatenate([start_of, end_of, np.repeat(start_of, inner) + 1 + offsets])
        role = np.concatenate([np.zeros(len(entry_of), np.int64), np.full(len(entry_of), 2),
                               np.ones(inner.sum(), np.int64)])
        entry, row = entry_of[match], row_of[match]
        weight, word, tag = self._weights[entry], self._word_ids[entry], self._tag_ids[entry]
        order = np.lexsort((-tag, -word, -weight, role, position, row))
        row, position, role = row[order], position[order], role[order]
        cell = (row * width + position) * len(ROLES) + role
        first = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]])
        rank = np.arange(len(cell)) - np.repeat(first, np.diff(np.r_[first, len(cell)]))
        kept = rank < limit
        where = (row[kept], position[kept], role[kept], rank[kept])
        word_ids[where], tag_ids[where], weights[where] = word[order][kept], tag[order][kept], weight[order][kept]
        total = weights.sum(axis=(2, 3), keepdims=True)
        np.divide(weights * len(ROLES), total, out=weights, where=total > 0)
        return word_ids, tag_ids, weights


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stack_features(features: list[tuple[np.ndarray, np.ndarray, np.ndarray]], width: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Right-padded ``[B, width, 3, K]`` arrays of several texts' features."""
    limit = features[0][0].shape[2] if features else 1
    words = np.zeros((len(features), width, 3, limit), dtype=np.int32)
    tags = np.zeros_like(words)
    weights = np.zeros((len(features), width, 3, limit), dtype=np.float32)
    for row, (w, t, v) in enumerate(features):
        size = min(len(w), width)
        words[row, :size], tags[row, :size], weights[row, :size] = w[:size], t[:size], v[:size]
    return words, tags, weights
