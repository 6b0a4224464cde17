"""Figures of the question model: intent accuracy, slot F1 (seqeval), sentence accuracy, per intent."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kgqa_cli.understanding.runtime import Prediction


def slot_f1(gold: list[list[str]], predicted: list[list[str]]) -> float:
    """Entity-level F1 over BIO sequences with seqeval's default (CoNLL) conventions."""
    from seqeval.metrics import f1_score

    if not any(tag != "O" for tags in gold for tag in tags) and not any(
        tag != "O" for tags in predicted for tag in tags
    ):
        return 1.0  # no slots to find and none invented
    return float(f1_score(gold, predicted, zero_division=0))


def score_questions(examples: list[dict[str, Any]], predictions: list[Prediction]) -> dict[str, Any]:
    """Overall and per-intent figures of predictions against gold examples."""
    gold_tags = [example["slots"] for example in examples]
    predicted_tags = [prediction.tags for prediction in predictions]
    intent_hits = [example["intent"] == p.intent for example, p in zip(examples, predictions, strict=True)]
    sentence_hits = [
        hit and example["slots"] == p.tags for hit, example, p in zip(intent_hits, examples, predictions, strict=True)
    ]
    by_intent: dict[str, list[int]] = defaultdict(list)
    for index, example in enumerate(examples):
        by_intent[example["intent"]].append(index)
    per_intent = {}
    for intent in sorted(by_intent):
        rows = by_intent[intent]
        per_intent[intent] = {
            "questions": len(rows),
            "intent_accuracy": round(sum(intent_hits[i] for i in rows) / len(rows), 4),
            "slot_f1": round(slot_f1([gold_tags[i] for i in rows], [predicted_tags[i] for i in rows]), 4),
            "sentence_accuracy": round(sum(sentence_hits[i] for i in rows) / len(rows), 4),
        }
    count = max(len(examples), 1)
    return {
        "questions": len(examples),
        "intent_accuracy": round(sum(intent_hits) / count, 4),
        "slot_f1": round(slot_f1(gold_tags, predicted_tags), 4),
        "sentence_accuracy": round(sum(sentence_hits) / count, 4),
        "per_intent": per_intent,
    }
