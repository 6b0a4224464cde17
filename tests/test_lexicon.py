"""The word lexicon of the extractor: matching, roles, pooling weights, corpus names, saving."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kgqa_cli.data.records import Record, SlotValues, Triple
from kgqa_cli.errors import InputDataError
from kgqa_cli.extraction.config import LexiconConfig
from kgqa_cli.extraction.lexicon import Lexicon, corpus_names, stack_features


def _record(text, subject, predicate, obj, subject_type="影视作品", object_type="人物"):
    return Record(text=text, spo_list=[Triple(subject=subject, subject_type=subject_type, predicate=predicate,
                                              object=SlotValues.of(obj), object_type=SlotValues.of(object_type))])


RECORDS = [_record("《星河往事》是由柳云帆执导的电影", "星河往事", "导演", "柳云帆"),
           _record("柳云帆的新片星河往事上映", "星河往事", "导演", "柳云帆")]


@pytest.fixture(scope="module")
def lexicon():
    return Lexicon.build(LexiconConfig(enabled=True, max_words_per_role=4, word_vectors=True, corpus_names=True), RECORDS, max_len=200)


def test_training_names_join_the_dictionary_with_their_type(lexicon):
    assert corpus_names(RECORDS, 8) == {"星河往事": (2, "type:影视作品"), "柳云帆": (2, "type:人物")}
    assert "type:人物" in lexicon.tags and "nr" in lexicon.tags  # jieba's tags too
    assert "柳云帆" in lexicon.words and "电影" in lexicon.words  # matched in the training text


def test_features_give_each_character_its_words_by_role(lexicon):
    text = "柳云帆执导电影"
    words, tags, weights = lexicon.features(text)
    assert words.shape == tags.shape == weights.shape == (len(text), 3, 4)
    name = lexicon.words.index("柳云帆") + 1
    assert name in words[0, 0] and name in words[1, 1] and name in words[2, 2]  # B, M, E of 柳云帆
    film = lexicon.words.index("电影") + 1
    assert film in words[5, 0] and film in words[6, 2]
    # Weights of a character's words sum to 3 over its roles (SoftLexicon's normalisation).
    assert np.allclose(weights.sum(axis=(1, 2))[weights.sum(axis=(1, 2)) > 0], 3.0)
    padded = stack_features([lexicon.features("电影"), lexicon.features(text)], width=9)
    assert padded[0].shape == (2, 9, 3, 4) and not padded[0][0, 2:].any()


def test_words_outside_the_vocabulary_count_through_their_tag(lexicon):
    words, tags, weights = lexicon.features("中华人民共和国")  # in jieba, not in the training text
    assert tags[0, 0].any() and weights[0, 0].any() and not words[0, 0].any()


def test_save_load_round_trip_and_a_changed_dictionary(lexicon, tmp_path):
    lexicon.save(tmp_path / "lexicon.json")
    again = Lexicon.load(lexicon.config, tmp_path / "lexicon.json")
    for a, b in zip(again.features("柳云帆执导星河往事"), lexicon.features("柳云帆执导星河往事"), strict=True):
        assert np.array_equal(a, b)
    data = json.loads((tmp_path / "lexicon.json").read_text(encoding="utf-8"))
    data["dictionary_sha256"] = "0" * 64
    (tmp_path / "other.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(InputDataError, match="another jieba dictionary"):
        Lexicon.load(lexicon.config, tmp_path / "other.json")


def test_by_default_jieba_words_count_through_their_tags_only():
    plain = Lexicon.build(LexiconConfig(enabled=True), RECORDS, max_len=200)
    assert plain.words == [] and plain.vocabulary_size == 1 and plain.names == {}
    words, tags, weights = plain.features("电影由柳云帆执导")  # 电影 begins at 0
    assert not words.any() and tags[0, 0].any() and weights[0, 0].any()


def _reference_features(lexicon, text):
    """SoftLexicon's features by a plain loop: every word found (a dictionary lookup of every
    substring) gives its characters B, M or E; per character and role the K heaviest words
    (ties: the higher word id, then tag id); weights scaled to sum to 3 per character."""
    limit, entries = lexicon.config.max_words_per_role, {}
    for start in range(len(text)):
        for end in range(start + 2, min(len(text), start + lexicon.config.max_word_length) + 1):
            found = [entry for entry, first, last in lexicon._matches(text[start:end])
                     if first == 0 and last == end - start]
            for entry in found:
                item = (lexicon._weights[entry], lexicon._word_ids[entry], lexicon._tag_ids[entry])
                entries.setdefault((start, 0), []).append(item)
                entries.setdefault((end - 1, 2), []).append(item)
                for middle in range(start + 1, end - 1):
                    entries.setdefault((middle, 1), []).append(item)
    words, tags = np.zeros((len(text), 3, limit), np.int32), np.zeros((len(text), 3, limit), np.int32)
    weights = np.zeros((len(text), 3, limit), np.float32)
    for (position, role), items in entries.items():
        for slot, (weight, word, tag) in enumerate(sorted(items, reverse=True)[:limit]):
            words[position, role, slot], tags[position, role, slot], weights[position, role, slot] = word, tag, weight
    total = weights.sum(axis=(1, 2), keepdims=True)
    np.divide(weights * 3, total, out=weights, where=total > 0)
    return words, tags, weights


def test_a_batch_gets_each_texts_features_right_padded(lexicon):
    """The vectorised batch path gives every text what a plain loop over its substrings gives
    (the K heaviest words per character and role, weights scaled to 3), zero beyond its length."""
    texts = ["柳云帆执导电影星河往事", "电影", "中华人民共和国成立于北京大学", "x"]
    batch = lexicon.batch_features(texts, 14)
    assert batch[0].shape == (4, 14, 3, 4)
    for row, text in enumerate(texts):
        for part, expected in zip(batch, _reference_features(lexicon, text), strict=True):
            assert np.allclose(part[row, :len(text)], expected) and not part[row, len(text):].any()
    assert (batch[2][:, :, 1, 2] > 0).any()  # some character has three words around it: ranking matters
    assert np.all(np.diff(batch[2], axis=-1) <= 0)  # the heaviest first
    one = Lexicon.build(LexiconConfig(enabled=True, max_words_per_role=1, word_vectors=True, corpus_names=True),
                        RECORDS, max_len=200)
    kept = one.batch_features(texts, 14)
    assert kept[1].shape == (4, 14, 3, 1) and np.array_equal(kept[1][..., 0], batch[1][..., 0])


@pytest.mark.slow
def test_cross_fitted_training_sentences_see_only_the_names_of_other_folds():
    """With name_folds, a training sentence's lexicon lacks the names only its own fold has (a
    new sentence meets only names train had), while the saved lexicon keeps every train name."""
    records = [_record(f"《{title}》是由{director}执导的电影", title, "导演", director)
               for title, director in [("星河往事", "柳云帆"), ("青石长歌", "柳云帆"), ("海角来信", "莫青禾"),
                                       ("云端渡口", "秦望舒")]]
    config = LexiconConfig(enabled=True, corpus_names=True, name_folds=2)
    lexicon = Lexicon.build(config, records, max_len=200)
    assert set(lexicon.names) >= {"星河往事", "柳云帆", "莫青禾", "秦望舒"}
    director_tag = lexicon.tags.index("type:人物") + 1
    crossed = lexicon.training_features(records, max_len=200)
    plain = [lexicon.features(record.text) for record in records]
    for record, (_, tags, _), (_, all_tags, _) in zip(records, crossed, plain, strict=True):
        start = record.text.index(record.spo_list[0].object.value)
        assert director_tag in all_tags[start, 0]  # every train name is known to the full lexicon
        others = [r for r in records if r is not record]
        known_elsewhere = any(r.spo_list[0].object.value == record.spo_list[0].object.value for r in others)
        if not known_elsewhere:  # 莫青禾 and 秦望舒 are in one sentence each: never in their own lexicon
            assert director_tag not in tags[start, 0]
    folds_off = Lexicon.build(LexiconConfig(enabled=True, corpus_names=True), records, max_len=200)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds_off.training_features(records, 200), plain, strict=True))
