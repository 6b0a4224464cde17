"""Pointer decoding, metrics, text splitting and input reading of the triple extractor (no training)."""

from __future__ import annotations

import numpy as np
import pytest

from kgqa_cli.data.records import Record, SlotValues, Triple
from kgqa_cli.data.schema import Schema
from kgqa_cli.extraction.decode import decode_batch_spans
from kgqa_cli.extraction.extract import read_inputs
from kgqa_cli.extraction.labels import channels_of, make_example, split_channel
from kgqa_cli.extraction.metrics import score_triples
from kgqa_cli.extraction.pieces import split_text


def decode_spans(heads: np.ndarray, tails: np.ndarray, threshold: float) -> list[tuple[int, int, float]]:
    """(head, tail, score) of one sentence's ``[L]`` subject pointers."""
    return [(h, t, s) for _, _, h, t, s in decode_batch_spans(heads[None, :, None], tails[None, :, None], threshold)]


def decode_channel_spans(heads: np.ndarray, tails: np.ndarray, threshold: float) -> list[tuple[int, int, int, float]]:
    """(channel, head, tail, score) of one subject's ``[L, channels]`` object pointers."""
    return [span[1:] for span in decode_batch_spans(heads[None], tails[None], threshold)]


def probs(length: int, positions: list[int], value: float = 0.9) -> np.ndarray:
    array = np.full(length, 0.05, dtype=np.float32)
    array[positions] = value
    return array


def test_several_subjects_pair_each_head_with_the_nearest_tail_after_it():
    heads = probs(12, [0, 5, 9])
    tails = probs(12, [2, 6, 11])
    assert [(h, t) for h, t, _ in decode_spans(heads, tails, 0.5)] == [(0, 2), (5, 6), (9, 11)]


def test_a_head_without_a_tail_after_it_gives_nothing_and_scores_are_means():
    heads = probs(8, [1, 6])
    tails = probs(8, [3], value=0.7)
    spans = decode_spans(heads, tails, 0.5)
    assert [(h, t) for h, t, _ in spans] == [(1, 3)]
    assert spans[0][2] == pytest.approx((0.9 + 0.7) / 2)
    assert decode_spans(probs(8, []), tails, 0.5) == []


def test_single_character_span_and_threshold():
    heads, tails = probs(5, [2], 0.6), probs(5, [2], 0.6)
    assert [(h, t) for h, t, _ in decode_spans(heads, tails, 0.5)] == [(2, 2)]
    assert decode_spans(heads, tails, 0.7) == []


def test_overlapping_objects_and_one_subject_with_several_predicates():
    length, channels = 10, 3
    heads = np.zeros((length, channels), dtype=np.float32)
    tails = np.zeros((length, channels), dtype=np.float32)
    # channel 0: two overlapping objects 2..6 and 4..6 (nested spans share a tail)
    heads[2, 0] = heads[4, 0] = 0.9
    tails[6, 0] = 0.8
    # channel 2: the same span 2..3 under another predicate, and a second object 8..9
    heads[2, 2] = heads[8, 2] = 0.95
    tails[3, 2] = tails[9, 2] = 0.85
    spans = decode_channel_spans(heads, tails, 0.5)
    assert sorted((c, h, t) for c, h, t, _ in spans) == [(0, 2, 6), (0, 4, 6), (2, 2, 3), (2, 8, 9)]
    # a tail of another channel is never borrowed
    heads[1, 1] = 0.9
    assert all(c != 1 for c, _, _, _ in decode_channel_spans(heads, tails, 0.5))


def _reference_spans(heads: np.ndarray, tails: np.ndarray, threshold: float) -> list[tuple]:
    """The plain per-channel loop: each head pairs with the nearest tail at or after it."""
    spans = []
    for channel in range(heads.shape[1]):
        tail_positions = [t for t in range(len(tails)) if tails[t, channel] > threshold]
        for head in range(len(heads)):
            if heads[head, channel] > threshold:
                later = [t for t in tail_positions if t >= head]
                if later:
                    score = float(heads[head, channel] + tails[later[0], channel]) / 2
                    spans.append((channel, head, later[0], score))
    return spans


def test_a_block_of_items_decodes_as_the_plain_loop_decodes_each_item():
    """The vectorised decoder over [items, L, channels] gives each item what a plain loop over
    its channels and heads gives, in the order item, channel, head; a tail never comes from
    another item."""
    rng = np.random.default_rng(3)
    heads = (rng.random((6, 15, 4)) > 0.85) * rng.uniform(0.6, 1.0, (6, 15, 4)).astype(np.float32)
    tails = (rng.random((6, 15, 4)) > 0.85) * rng.uniform(0.6, 1.0, (6, 15, 4)).astype(np.float32)
    tails[2] = 0  # heads but no tail: the next item's tails must not be borrowed
    block = decode_batch_spans(heads, tails, 0.5)
    assert block == sorted(block, key=lambda span: span[:3]) and len(block) > 10
    for item in range(6):
        expected = _reference_spans(heads[item], tails[item], 0.5)
        assert [span[1:] for span in block if span[0] == item] == expected
    assert not [span for span in block if span[0] == 2] and decode_batch_spans(heads, tails * 0, 0.5) == []


def record(text: str, *triples: tuple[str, str, str]) -> Record:
    return Record(text=text, spo_list=[Triple(subject=s, predicate=p, object=SlotValues.of(o)) for s, p, o in triples])


def test_micro_and_per_predicate_metrics():
    gold = [
        record("a", ("A", "导演", "B"), ("A", "作者", "C")),
        record("b", ("D", "妻子", "E")),
        record("c"),
    ]
    predicted = [
        record("a", ("A", "导演", "B"), ("A", "作者", "X")),
        record("b", ("D", "妻子", "E "), ("E", "丈夫", "D")),  # values are stripped before comparing
        record("c", ("F", "导演", "G")),
    ]
    report = score_triples(gold, predicted)
    assert (report["correct"], report["predicted"], report["support"]) == (2, 5, 3)
    assert report["precision"] == pytest.approx(0.4)
    assert report["recall"] == pytest.approx(2 / 3)
    assert report["f1"] == pytest.approx(2 * 0.4 * (2 / 3) / (0.4 + 2 / 3), abs=1e-6)
    per = report["per_predicate"]
    assert per["导演"]["precision"] == 0.5 and per["导演"]["recall"] == 1.0
    assert per["作者"]["f1"] == 0.0 and per["丈夫"]["support"] == 0
    assert per["妻子"]["f1"] == 1.0


def test_metrics_of_nothing_and_mismatched_lengths():
    assert score_triples([record("a")], [record("a")])["f1"] == 0.0
    with pytest.raises(ValueError):
        score_triples([record("a")], [])


def test_split_text_keeps_every_character():
    text = "第一句很短。" + "第二句有逗号，" * 10 + "结尾！" + "无标点" * 30
    pieces = split_text(text, 40)
    assert "".join(pieces) == text
    assert all(0 < len(piece) <= 40 for piece in pieces)
    assert pieces[0].startswith("第一句很短。")
    assert split_text("短句。", 40) == ["短句。"]


SCHEMA = Schema.parse([
    '{"subject_type": "影视作品", "predicate": "导演", "object_type": {"@value": "人物"}}',
    '{"subject_type": "娱乐人物", "predicate": "饰演", "object_type": {"@value": "人物", "inWork": "影视作品"}}',
], "test")


def test_channels_and_training_targets_with_slots():
    channels = channels_of(SCHEMA)
    assert channels == ["导演", "饰演", "饰演|inWork"]
    assert split_channel("饰演|inWork") == ("饰演", "inWork") and split_channel("导演") == ("导演", "@value")
    index = {name: number for number, name in enumerate(channels)}
    rec = Record.parse({"text": "张三在《大片》中饰演李四", "spo_list": [{
        "subject": "张三", "predicate": "饰演", "object": {"@value": "李四", "inWork": "大片"},
    }]})
    example = make_example(rec, lambda text: list(range(1, len(text) + 1)), index, max_len=50)
    assert example.subjects == {(0, 1): {(1, 10, 11), (2, 4, 5)}}
    truncated = make_example(rec, lambda text: [1] * len(text), index, max_len=8)
    assert truncated.subjects == {(0, 1): {(2, 4, 5)}}  # the object beyond max_len is dropped


def test_read_inputs_plain_json_and_malformed(tmp_path):
    plain = tmp_path / "in.txt"
    plain.write_bytes('一句话。\n\n{"text": "另一句"}\n{"text": "broken\n{"title": "x"}\n坏\xff字节\n'
                      .encode("utf-8", "surrogateescape").replace(b"\xc3\xbf", b"\xff"))
    texts, skipped = read_inputs(plain)
    assert texts == ["一句话。", "另一句"]  # a broken record in a text file is reported, not taken as text
    assert [(s.line, s.reason.split(" (")[0]) for s in skipped] == [
        (4, "invalid JSON"), (5, "no 'text' field"), (6, "not valid UTF-8")]
    lines = tmp_path / "in.jsonl"
    lines.write_text('{"text": "甲"}\n{broken\n[1, 2]\n{"text": ""}\n{"text": "乙"}\n', encoding="utf-8")
    texts, skipped = read_inputs(lines)
    assert texts == ["甲", "乙"]
    assert [s.line for s in skipped] == [2, 3, 4]
    assert all(str(lines) in str(s) for s in skipped)
