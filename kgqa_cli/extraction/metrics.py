"""Micro precision, recall and F1 on exact (subject, predicate, object) matches."""

from __future__ import annotations

from collections import Counter


def triples_of(record: dict) -> set[tuple[str, str, str]]:
    """The (subject, predicate, object@value) set of one record, values stripped."""
    return {
        (spo["subject"].strip(), spo["predicate"].strip(), spo["object"]["@value"].strip())
        for spo in record["spo_list"]
    }


def _prf(correct: int, predicted: int, gold: int) -> dict:
    precision = correct / predicted if predicted else 0.0
    recall = correct / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 6), "recall": round(recall, 6), "f1": round(f1, 6),
        "support": gold, "predicted": predicted, "correct": correct,
    }


def score_triples(gold_records: list[dict], predicted_records: list[dict]) -> dict:
    """Micro P/R/F1 over sentence-aligned records, and the same figures per predicate.

    ``support`` is the number of gold triples; records are compared position by position.
    """
    if len(gold_records) != len(predicted_records):
        raise ValueError(f"{len(gold_records)} gold records but {len(predicted_records)} predicted")
    correct, predicted, gold = Counter(), Counter(), Counter()
    for gold_record, predicted_record in zip(gold_records, predicted_records, strict=True):
        gold_set, predicted_set = triples_of(gold_record), triples_of(predicted_record)
        for triple in gold_set:
            gold[triple[1]] += 1
        for triple in predicted_set:
            predicted[triple[1]] += 1
        for triple in gold_set & predicted_set:
            correct[triple[1]] += 1
    report = _prf(sum(correct.values()), sum(predicted.values()), sum(gold.values()))
    report["per_predicate"] = {
        predicate: _prf(correct[predicate], predicted[predicate], gold[predicate])
        for predicate in sorted(set(gold) | set(predicted))
    }
    return report
