"""People's verdicts on extracted triples (`kgqa label triples`), as the graph applies them.

Decisions are appended to ``<workspace>/reviews/triples.jsonl``, one JSON object a line, the
latest line of a triple (its edge ``uid``) being its verdict::

    {"uid", "decision": "accept" | "reject" | "correct", "subject", "predicate", "object",
     "slots", "score", "model_version", "sentence": {"id", "text", "subject", "object"},
     "corrected": {"subject", "predicate", "object", "subject_span", "object_span"} (correct only),
     "sample": "answers" | "threshold" | "uniform", "uniform": bool, "at", "source": "label" | "import"}

What the graph makes of them (:func:`review_overlay`): a rejected or corrected triple is
*reviewed out*, and every load leaves it out, a ``bulkload --replace`` of the same extraction
included; a corrected triple is added as the reviewer wrote it, its evidence the sentence
reviewed. The decisions file is the one record: the graph and the extractor's training data
(``data/feedback/kg.jsonl``) are made to follow it (:mod:`kgqa_cli.labeling.review_results`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgqa_cli.data.records import SPAN_KEYS, Record, SlotValues, Triple

if TYPE_CHECKING:
    from kgqa_cli.io import BadLines
    from kgqa_cli.workspace import Workspace

# A line of the decisions file, JSON as described above.
Decision = dict[str, Any]

DECISIONS = ("accept", "reject", "correct")
REVIEW_VERSION = "review"  # model_version of the triples reviewers wrote
REVIEW_SOURCE = "reviews"  # source of their edges


def reviews_file(workspace: Workspace) -> Path:
    """Where a workspace's triple decisions are appended."""
    return Path(workspace.root) / "reviews" / "triples.jsonl"


def read_reviews(path: Path, bad: BadLines | None = None) -> dict[str, Decision]:
    """uid -> the latest decision on that triple (absent file: none). Lines that are not a
    decision are skipped and counted in ``bad`` (a :class:`~kgqa_cli.io.BadLines`)."""
    from kgqa_cli.io import BadLines, read_json_lines

    bad = bad if bad is not None else BadLines()
    latest: dict[str, Decision] = {}
    if not Path(path).exists():
        return latest
    for file, number, row in read_json_lines([Path(path)], bad):
        problem = decision_problem(row)
        if problem is not None:
            bad.report(file, number, problem)
            continue
        latest[row["uid"]] = row
    return latest


def decision_problem(row: Decision) -> str | None:
    """Why a decisions-file row cannot be used, or None."""
    if not isinstance(row.get("uid"), str) or not row["uid"]:
        return "no uid"
    if row.get("decision") not in DECISIONS:
        return f"decision must be one of {', '.join(DECISIONS)}"
    if not all(isinstance(row.get(key), str) and row[key] for key in ("subject", "predicate", "object")):
        return "subject, predicate and object must be text"
    if row["decision"] == "correct":
        corrected = row.get("corrected")
        if not isinstance(corrected, dict) or not all(isinstance(corrected.get(k), str) and corrected[k]
                                                      for k in ("subject", "predicate", "object")):
            return "a correction needs corrected subject, predicate and object"
    sentence = row.get("sentence")
    if not isinstance(sentence, dict) or not isinstance(sentence.get("text"), str):
        return "no sentence"
    return None


def corrected_record(row: Decision) -> Record:
    """A corrected decision as a corpus record: the reviewed sentence and the triple as the
    reviewer wrote it (its spans when given), scored 1."""
    corrected = row["corrected"]
    spans = {key: span for key in SPAN_KEYS  # offsets that are not two whole numbers are looked up again
             if isinstance(span := corrected.get(key), list) and len(span) == 2 and all(type(v) is int for v in span)}
    triple = Triple(subject=corrected["subject"], subject_type=corrected.get("subject_type", ""),
                    predicate=corrected["predicate"], object=SlotValues.of(corrected["object"], row.get("slots") or {}),
                    object_type=SlotValues.of(corrected.get("object_type", "")), score=1.0, **spans)
    return Record(text=row["sentence"]["text"], spo_list=[triple], model_version=REVIEW_VERSION)


def review_overlay(path: Path, bad: BadLines | None = None) -> tuple[set[str], list[Record]]:
    """What every load applies: the uids reviewed out (rejected or corrected) and the corrected
    triples as corpus records (their edges' source :data:`REVIEW_SOURCE`)."""
    from kgqa_cli.graph.model import triple_uid

    latest = read_reviews(path, bad)
    out = {uid for uid, row in latest.items() if row["decision"] in ("reject", "correct")}
    records = [corrected_record(row) for row in latest.values() if row["decision"] == "correct"]
    # A correction of the spans alone names the same triple: it stays in.
    out -= {triple_uid(spo.subject, spo.predicate, spo.object.value, spo.object.slots)
            for record in records for spo in record.spo_list}
    return out, records
