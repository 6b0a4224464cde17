"""`kgqa label triples`: people review extracted triples, and the graph and training follow.

The session walks the review queue (:mod:`kgqa_cli.labeling.triple_queue`). **Decisions**
(accept, reject, correct; skip writes nothing) are appended to the decisions file of
:mod:`kgqa_cli.graph.reviews`, flushed and fsynced, one line each, under a lock; undo cuts the
session's last line off. That file is the one record: :func:`~kgqa_cli.labeling.review_results.apply_reviews`
makes the graph follow it (rejected and corrected triples dropped by a merge, corrections added)
and rewrites the extractor's training feedback, ``data/feedback/kg.jsonl`` (accepted and
corrected triples with their sentences), which `kgqa preprocess` merges into the training split.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgqa_cli.errors import InputDataError
from kgqa_cli.graph.model import triple_uid
from kgqa_cli.graph.reviews import DECISIONS, read_reviews, reviews_file
from kgqa_cli.io import BadLines
from kgqa_cli.labeling.triple_queue import ReviewItem, graph_triples, review_queue

if TYPE_CHECKING:
    from kgqa_cli.data.schema import Schema
    from kgqa_cli.settings import KgqaConfig


class ReviewWriter:
    """Appends decisions to the decisions file durably, one writer at a time, and takes back
    the last one (only when nothing was appended after it)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _lock(self):
        from kgqa_cli.io import exclusive_lock

        return exclusive_lock(self.path.with_name(".triples.lock"), wait=True, what="reviewing triples")

    def append(self, rows: list[dict]) -> tuple[int, int]:
        """Write ``rows`` in one write (all land or none); returns (start, end) offsets."""
        from kgqa_cli.io import append_durably

        data = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")
        with self._lock():
            return append_durably(self.path, data)

    def take_back(self, start: int, end: int) -> None:
        """Cut the lines written at [start, end) off the file."""
        with self._lock():
            if self.path.stat().st_size != end:
                raise InputDataError(f"{self.path}: written to since this decision; it cannot be taken back "
                                     "(decide on the triple again instead)")
            with self.path.open("r+b") as handle:
                handle.truncate(start)
                handle.flush()
                os.fsync(handle.fileno())


@dataclass
class Verdict:
    """One decision taken in a session (for undo)."""

    item: ReviewItem
    decision: str
    written: tuple[int, int]


@dataclass
class ReviewSession:
    """The queue of a review session and the decisions taken in it."""

    settings: KgqaConfig
    strict: bool = False
    bad_lines: BadLines = field(init=False)
    triples: list[ReviewItem] = field(init=False)
    queue: list[ReviewItem] = field(init=False)
    position: int = 0
    history: list[Verdict] = field(default_factory=list)

    def __post_init__(self) -> None:
        from kgqa_cli.data.schema import Schema

        self.bad_lines = BadLines(strict=self.strict)
        self.path = reviews_file(self.settings.paths)
        self.writer = ReviewWriter(self.path)
        self.triples = graph_triples(self.settings)
        self.by_uid = {item.uid: item for item in self.triples}
        self.decided = read_reviews(self.path, self.bad_lines)
        self.queue = review_queue(self.settings, self.triples, set(self.decided), self.bad_lines)
        schema_path = self.settings.paths.schema_file
        self.schema = Schema.load(schema_path) if schema_path.exists() else None
        self.predicates = self.schema.predicates if self.schema else sorted({i.predicate for i in self.triples})

    @property
    def current(self) -> ReviewItem | None:
        return self.queue[self.position] if self.position < len(self.queue) else None

    @property
    def reviewed(self) -> int:
        return len(self.history)

    def _decide(self, decision: str, corrected: dict | None = None) -> None:
        item = self.current
        if item is None:
            return
        start, end = self.writer.append([item.row(decision, corrected, "label")])
        self.history.append(Verdict(item, decision, (start, end)))
        self.position += 1

    def accept(self) -> None:
        """The current triple is right."""
        self._decide("accept")

    def reject(self) -> None:
        """The current triple is wrong: it leaves the graph."""
        self._decide("reject")

    def correct(self, subject: str, predicate: str, obj: str) -> None:
        """The sentence states another triple: ``subject -predicate-> obj`` (both names as they
        stand in the sentence, the predicate one of the schema's)."""
        item = self.current
        if item is None:
            return
        self._decide("correct", corrected_triple(item, subject, predicate, obj, self.predicates, self.schema))

    def skip(self) -> None:
        """Leave the current triple for a later session (nothing is written)."""
        if self.current is not None:
            self.position += 1

    def undo(self) -> ReviewItem | None:
        """Take the last decision of this session back; returns its triple (None: nothing to undo)."""
        if not self.history:
            return None
        verdict = self.history[-1]
        self.writer.take_back(*verdict.written)
        self.history.pop()
        self.position = self.queue.index(verdict.item)
        return verdict.item

    def import_rows(self, rows: list[tuple[int, dict[str, Any]]], source: str = "import") -> dict[str, int]:
        """Decisions made elsewhere (``--import``): each row names a triple by ``uid`` or by
        ``subject``, ``predicate`` and ``object``, and gives ``decision`` (and for ``correct``
        the ``corrected_subject``, ``corrected_predicate``, ``corrected_object``)."""
        lines = [self._imported_line(row, f"{source}:{number}") for number, row in rows]
        if lines:
            self.writer.append(lines)
        counts = Counter(line["decision"] for line in lines)
        return {"rows": len(lines), **{decision: counts.get(decision, 0) for decision in DECISIONS}}

    def _imported_line(self, row: dict[str, Any], where: str) -> dict[str, Any]:
        """The decisions-file line of one imported row; :class:`InputDataError` naming ``where``."""
        uid = row.get("uid") or triple_uid(str(row.get("subject") or ""), str(row.get("predicate") or ""),
                                           str(row.get("object") or ""))
        item = self.by_uid.get(uid) or self._decided_item(uid)  # a decided triple may have left the graph
        if item is None:
            raise InputDataError(f"{where}: no extracted triple {uid} in the graph",
                                 hint="name a triple by its uid (kgqa label triples --export lists them) "
                                      "or by subject, predicate and object")
        decision = row.get("decision")
        if decision not in DECISIONS:
            raise InputDataError(f"{where}: decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
        corrected = None
        if decision == "correct":
            subject, predicate, obj = (str(row.get(f"corrected_{key}") or "") for key in ("subject", "predicate", "object"))
            try:
                corrected = corrected_triple(item, subject, predicate, obj, self.predicates, self.schema)
            except InputDataError as exc:
                raise InputDataError(f"{where}: {exc.message}") from None
        return item.row(str(decision), corrected, "import")

    def _decided_item(self, uid: str) -> ReviewItem | None:
        """The triple of an earlier decision, as that decision recorded it (None: never decided)."""
        row = self.decided.get(uid)
        if row is None:
            return None
        return ReviewItem(uid=uid, subject=row["subject"], predicate=row["predicate"], object=row["object"],
                          slots=row.get("slots") or {}, score=float(row.get("score") or 0.0),
                          model_version=str(row.get("model_version")), sentence=row.get("sentence"),
                          evidence_count=0, sample=str(row.get("sample") or "uniform"),
                          uniform=bool(row.get("uniform")))

    def export(self, path: Path) -> int:
        """Every triple's latest decision, as JSON lines at ``path``; returns how many."""
        from kgqa_cli.io import write_text_atomic

        latest = read_reviews(self.path, self.bad_lines)
        write_text_atomic(Path(path), "".join(json.dumps(row, ensure_ascii=False) + "\n"
                                              for _, row in sorted(latest.items())))
        return len(latest)


def corrected_triple(item: ReviewItem, subject: str, predicate: str, obj: str, predicates: list[str],
                     schema: Schema | None) -> dict:
    """The correction of ``item``: names that stand in its sentence, a predicate of the schema,
    with their spans in the sentence and the schema's types. :class:`InputDataError` otherwise."""
    text = (item.sentence or {}).get("text") or ""
    subject, predicate, obj = subject.strip(), predicate.strip(), obj.strip()
    if predicate not in predicates:
        raise InputDataError(f"predicate {predicate!r} is not in the schema")
    spans = {}
    for role, name in (("subject", subject), ("object", obj)):
        if not name or name not in text:
            raise InputDataError(f"the {role} {name!r} does not stand in the sentence")
        old = (item.sentence or {}).get(role)
        start = text.find(name, max(0, old[0] - len(name)) if isinstance(old, list) and old else 0)
        start = start if start >= 0 else text.find(name)
        spans[f"{role}_span"] = [start, start + len(name)]
    if subject == obj:
        raise InputDataError("subject and object are the same name")
    relations = schema.relations_of(predicate) if schema is not None else []
    relation = relations[0] if relations else None
    return {"subject": subject, "predicate": predicate, "object": obj, **spans,
            "subject_type": relation.subject_type if relation else "",
            "object_type": relation.object_value_type if relation else ""}


REVIEW_COLUMNS = ("uid", "subject", "predicate", "object", "decision", "corrected_subject", "corrected_predicate",
                  "corrected_object")


def read_review_import(path: Path) -> list[tuple[int, dict]]:
    """(line number, row) of a CSV (with its header) or JSON-lines file of decisions, values of
    text stripped; a bad header, row or line names the file and line."""
    from kgqa_cli.labeling.imports import read_table

    rows = read_table(path, "file of decisions", REVIEW_COLUMNS, {"decision"}, {"uid", "subject"},
                      "uid or subject,predicate,object, decision, optional corrected_subject, corrected_predicate, "
                      "corrected_object")
    return [(number, {key: value.strip() if isinstance(value, str) else value for key, value in row.items()})
            for number, row in rows]
