"""Micro precision, recall and F1 on exact (subject, predicate, object) matches."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from kgqa_cli.data.records import Record

TripleKey = tuple[str, str, str]  # (subject, predicate, object value)


def triples_of(record: Record) -> set[TripleKey]:
    """The (subject, predicate, object@value) set of one record, values stripped."""
    return {
        (spo.subject.strip(), spo.predicate.strip(), spo.object.value.strip())
        for spo in record.spo_list
    }


def _prf(correct: int, predicted: int, gold: int) -> dict[str, Any]:
    precision = correct / predicted if predicted else 0.0
    recall = correct / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 6), "recall": round(recall, 6), "f1": round(f1, 6),
        "support": gold, "predicted": predicted, "correct": correct,
    }


def score_triples(gold_records: Sequence[Record], predicted_records: Sequence[Record]) -> dict[str, Any]:
    """Micro P/R/F1 over sentence-aligned records, and the same figures per predicate.

    ``support`` is the number of gold triples; records are compared position by position.
    """
    if len(gold_records) != len(predicted_records):
        raise ValueError(f"{len(gold_records)} gold records but {len(predicted_records)} predicted")
    correct: Counter[str] = Counter()
    predicted: Counter[str] = Counter()
    gold: Counter[str] = Counter()
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


ERROR_KINDS = ("wrong span boundary", "wrong predicate", "missed subject", "missed object", "spurious triple")


def _overlaps(a: str, b: str) -> bool:
    """Two mentions that share text, one inside the other or overlapping at an end (a boundary error)."""
    if not a or not b or a == b:
        return False
    if a in b or b in a:
        return True
    shortest = min(len(a), len(b))
    return any(a.endswith(b[:k]) or b.endswith(a[:k]) for k in range(1, shortest))


def classify_errors(gold_set: set[TripleKey],
                    predicted_set: set[TripleKey]) -> list[tuple[str, TripleKey | None, TripleKey | None]]:
    """The errors of one sentence as (kind, gold triple or None, predicted triple or None).

    A wrong predicate pairs a missed and a spurious triple with the same subject and object; a
    wrong span boundary pairs two with the same predicate whose subjects (or objects) are equal
    and whose objects (or subjects) overlap. What stays unpaired is a missed subject (no
    predicted triple has its subject), a missed object (its subject was found, the triple was
    not) or a spurious triple.
    """
    missed = sorted(gold_set - predicted_set)
    spurious = sorted(predicted_set - gold_set)
    errors: list[tuple[str, TripleKey | None, TripleKey | None]] = []

    def pair(kind: str, fits: Callable[[TripleKey, TripleKey], bool]) -> None:
        for gold in list(missed):
            match = next((p for p in spurious if fits(gold, p)), None)
            if match is not None:
                errors.append((kind, gold, match))
                missed.remove(gold)
                spurious.remove(match)

    pair("wrong predicate", lambda g, p: (g[0], g[2]) == (p[0], p[2]) and g[1] != p[1])
    pair("wrong span boundary", lambda g, p: g[1] == p[1] and (
        (g[0] == p[0] and _overlaps(g[2], p[2])) or (g[2] == p[2] and _overlaps(g[0], p[0]))
        or (_overlaps(g[0], p[0]) and _overlaps(g[2], p[2]))))
    subjects = {p[0] for p in predicted_set}
    for gold in missed:
        errors.append(("missed object" if gold[0] in subjects else "missed subject", gold, None))
    errors.extend(("spurious triple", None, p) for p in spurious)
    return errors


def error_analysis(gold_records: Sequence[Record], predicted_records: Sequence[Record],
                   examples: int = 20) -> dict[str, Any]:
    """Errors by kind over sentence-aligned records, and the ``examples`` most frequent
    (kind, predicate) patterns, each with its count and up to two sentences showing it."""
    kinds: Counter[str] = Counter()
    patterns: Counter[tuple[str, str]] = Counter()
    shown: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for gold_record, predicted_record in zip(gold_records, predicted_records, strict=True):
        for kind, gold, predicted in classify_errors(triples_of(gold_record), triples_of(predicted_record)):
            kinds[kind] += 1
            named = gold or predicted
            assert named is not None  # every error names its gold or its predicted triple
            predicate = named[1]
            patterns[(kind, predicate)] += 1
            found = shown.setdefault((kind, predicate), [])
            if len(found) < 2:
                found.append({"text": gold_record.text, "gold": list(gold) if gold else None,
                              "predicted": list(predicted) if predicted else None})
    total = sum(kinds.values())
    return {
        "errors": total,
        "by_kind": {kind: {"count": kinds[kind], "share": round(kinds[kind] / total, 4) if total else 0.0}
                    for kind in ERROR_KINDS},
        "most_frequent": [{"kind": kind, "predicate": predicate, "count": count, "examples": shown[(kind, predicate)]}
                          for (kind, predicate), count in patterns.most_common(examples)],
    }


def error_report(analysis: dict[str, Any], title: str, html: bool = False) -> str:
    """The error analysis as Markdown, or as a standalone HTML page (every text escaped)."""
    import html as escaping

    def triple(t: list[str] | None) -> str:
        return "—" if t is None else f"({t[0]}, {t[1]}, {t[2]})"

    lines = [f"# {title}", "", f"{analysis['errors']} errors.", "", "| kind | count | share |", "|---|---:|---:|"]
    lines += [f"| {kind} | {v['count']} | {v['share']:.1%} |" for kind, v in analysis["by_kind"].items()]
    lines += ["", "## The most frequent errors", ""]
    for number, item in enumerate(analysis["most_frequent"], start=1):
        lines.append(f"{number}. **{item['kind']}**, {item['predicate']}: {item['count']}")
        for example in item["examples"]:
            lines.append(f"   - {example['text']}")
            lines.append(f"     gold {triple(example['gold'])}; predicted {triple(example['predicted'])}")
    markdown = "\n".join(lines) + "\n"
    if not html:
        return markdown
    rows = "".join(f"<tr><td>{escaping.escape(k)}</td><td>{v['count']}</td><td>{v['share']:.1%}</td></tr>"
                   for k, v in analysis["by_kind"].items())
    items = []
    for item in analysis["most_frequent"]:
        cases = "".join(
            f"<li>{escaping.escape(e['text'])}<br><small>gold {escaping.escape(triple(e['gold']))}; "
            f"predicted {escaping.escape(triple(e['predicted']))}</small></li>" for e in item["examples"])
        items.append(f"<li><b>{escaping.escape(item['kind'])}</b>, {escaping.escape(item['predicate'])}: "
                     f"{item['count']}<ul>{cases}</ul></li>")
    return (f"<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><title>{escaping.escape(title)}</title>"
            f"<h1>{escaping.escape(title)}</h1><p>{analysis['errors']} errors.</p>"
            f"<table><tr><th>kind</th><th>count</th><th>share</th></tr>{rows}</table>"
            f"<h2>The most frequent errors</h2><ol>{''.join(items)}</ol></html>\n")
