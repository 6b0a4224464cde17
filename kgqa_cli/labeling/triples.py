"""`kgqa label triples`: people review extracted triples, and the graph and training follow.

**The queue** holds the extracted triples of the graph (gold and reviewers' own left out), in the
order a review is worth most: those the endpoint used in answers (read from the data capture),
then those scored near the extractor's threshold (``graph.review.threshold`` ± ``band``), then
a uniform random sample. A triple belongs to the uniform sample by a hash of its uid
(``graph.review.sample_rate`` of them), whatever else puts it in the queue, so that the verdicts
on the sample estimate the extractor's precision without bias (:func:`precision_estimate`).

**Decisions** (accept, reject, correct; skip writes nothing) are appended to the decisions file
of :mod:`kgqa_cli.graph.reviews`, flushed and fsynced, one line each, under a lock; undo cuts
the session's last line off. That file is the one record: :func:`apply_reviews` makes the graph
follow it (rejected and corrected triples dropped by a merge, corrections added) and rewrites
the extractor's training feedback, ``data/feedback/kg.jsonl`` (accepted and corrected triples
with their sentences), which `kgqa preprocess` merges into the training split.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kgqa_cli.errors import InputDataError
from kgqa_cli.graph.model import GOLD_VERSION, triple_uid
from kgqa_cli.graph.reviews import DECISIONS, REVIEW_VERSION, read_reviews, reviews_file
from kgqa_cli.io import BadLines

SAMPLES = ("answers", "threshold", "uniform")
_EDGE_KEYS = {"uid", "score", "source", "model_version", "evidence", "evidence_count", "evidence_ids"}


def sample_rank(uid: str) -> float:
    """A triple's place in the uniform review sample, in [0, 1): a hash of its uid, the same in
    every session and every graph. The triples ranked below ``graph.review.sample_rate`` are the
    sample, reviewed in this order."""
    return int(hashlib.sha1(f"kgqa-review\x1f{uid}".encode()).hexdigest()[:12], 16) / 16**12


@dataclass
class ReviewItem:
    """One extracted triple to review, with the best sentence it was read from."""

    uid: str
    subject: str
    predicate: str
    object: str
    slots: dict[str, str]
    score: float
    model_version: str
    sentence: dict | None  # {"id", "text", "subject", "object"} (spans in text), None without evidence
    evidence_count: int
    sample: str = "uniform"  # why it is in the queue: answers, threshold, uniform
    rank: float = 1.0  # sample_rank of its uid
    uniform: bool = False  # in the uniform sample (counts for the precision estimate)
    used: int = 0  # answers it was used in (captured)

    def row(self, decision: str, corrected: dict | None, source: str) -> dict:
        """The decisions-file line of a verdict on this triple."""
        sentence = self.sentence or {"id": None, "text": "", "subject": None, "object": None}
        return {"uid": self.uid, "decision": decision, "subject": self.subject, "predicate": self.predicate,
                "object": self.object, "slots": self.slots, "score": self.score, "model_version": self.model_version,
                "sentence": {key: sentence.get(key) for key in ("id", "text", "subject", "object")},
                "corrected": corrected, "sample": self.sample, "uniform": self.uniform,
                "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "source": source}


def graph_triples(settings: Any) -> list[ReviewItem]:
    """Every extracted triple of the graph (not gold, not reviewers'), uid order."""
    from gremlin_python.process.graph_traversal import __

    from kgqa_cli.graph.evidence import edge_defaults, loads_evidence
    from kgqa_cli.graph.store import open_graph

    def single(value: Any) -> Any:
        return value[0] if isinstance(value, list) and len(value) == 1 else value

    rate = settings.graph.review.sample_rate
    items = []
    with open_graph(settings.graph, settings.paths, create=False) as store:
        rows = (store.g.E().project("predicate", "subject", "object", "props").by(__.label())
                .by(__.out_v().values("name")).by(__.in_v().values("name")).by(__.value_map()).to_list())
    for row in rows:
        props = {key: single(value) for key, value in row["props"].items()}
        version = str(props.get("model_version") or GOLD_VERSION)
        if version in (GOLD_VERSION, REVIEW_VERSION) or not props.get("uid"):
            continue
        evidence = loads_evidence(props.get("evidence"), edge_defaults(props))
        best = evidence[0] if evidence else None
        sentence = {key: best.get(key) for key in ("id", "text", "subject", "object")} if best else None
        items.append(ReviewItem(
            uid=props["uid"], subject=row["subject"], predicate=row["predicate"], object=row["object"],
            slots={key: str(value) for key, value in props.items() if key not in _EDGE_KEYS},
            score=float(props.get("score") or 0.0), model_version=version, sentence=sentence,
            evidence_count=int(props.get("evidence_count") or len(evidence)),
            rank=(rank := sample_rank(props["uid"])), uniform=rank < rate))
    return sorted(items, key=lambda item: item.uid)


def answered_facts(settings: Any, bad: BadLines) -> Counter:
    """(subject, predicate, object) -> how many captured answers stood on that fact."""
    from kgqa_cli.labeling.store import read_items
    from kgqa_cli.serving.config import capture_root

    used: Counter = Counter()
    root = capture_root(settings)
    if not root.exists():
        return used
    for item, _ in read_items(root, bad=bad):
        for answer in item.prediction.get("evidence") or []:
            for fact in (answer.get("facts") or []) if isinstance(answer, dict) else []:
                if isinstance(fact, dict) and all(isinstance(fact.get(k), str) for k in ("subject", "predicate", "object")):
                    used[(fact["subject"], fact["predicate"], fact["object"])] += 1
    return used


def review_queue(settings: Any, triples: list[ReviewItem], decided: set[str], bad: BadLines) -> list[ReviewItem]:
    """The triples not decided yet, most worth reviewing first: used in answers (most used
    first), near the threshold (nearest first), then the uniform sample (in hash order)."""
    review = settings.graph.review
    used = answered_facts(settings, bad)
    waiting = [item for item in triples if item.uid not in decided]
    for item in waiting:
        item.used = used.get((item.subject, item.predicate, item.object), 0)
    answers = sorted((i for i in waiting if i.used), key=lambda i: (-i.used, i.uid))
    near = sorted((i for i in waiting if abs(i.score - review.threshold) <= review.band),
                  key=lambda i: (abs(i.score - review.threshold), i.uid))
    uniform = sorted((i for i in waiting if i.uniform), key=lambda i: (i.rank, i.uid))
    queue: dict[str, ReviewItem] = {}
    for sample, items in zip(SAMPLES, (answers, near, uniform), strict=True):
        for item in items:
            if item.uid not in queue:
                item.sample = sample
                queue[item.uid] = item
    return list(queue.values())


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

    settings: Any
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

    def import_rows(self, rows: list[tuple[int, dict]], source: str = "import") -> dict:
        """Decisions made elsewhere (``--import``): each row names a triple by ``uid`` or by
        ``subject``, ``predicate`` and ``object``, and gives ``decision`` (and for ``correct``
        the ``corrected_subject``, ``corrected_predicate``, ``corrected_object``)."""
        lines = []
        for number, row in rows:
            uid = row.get("uid") or triple_uid(str(row.get("subject") or ""), str(row.get("predicate") or ""),
                                               str(row.get("object") or ""))
            item = self.by_uid.get(uid) or self._decided_item(uid)  # a decided triple may have left the graph
            where = f"{source}:{number}"
            if item is None:
                raise InputDataError(f"{where}: no extracted triple {uid} in the graph",
                                     hint="name a triple by its uid (kgqa label triples --export lists them) "
                                          "or by subject, predicate and object")
            decision = row.get("decision")
            if decision not in DECISIONS:
                raise InputDataError(f"{where}: decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
            corrected = None
            if decision == "correct":
                try:
                    corrected = corrected_triple(item, *(str(row.get(f"corrected_{key}") or "")
                                                         for key in ("subject", "predicate", "object")),
                                                 self.predicates, self.schema)
                except InputDataError as exc:
                    raise InputDataError(f"{where}: {exc.message}") from None
            lines.append(item.row(decision, corrected, "import"))
        if lines:
            self.writer.append(lines)
        counts = Counter(line["decision"] for line in lines)
        return {"rows": len(lines), **{decision: counts.get(decision, 0) for decision in DECISIONS}}

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
                     schema: Any) -> dict:
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
    relation = (schema.relations_of(predicate) or [None])[0] if schema is not None else None
    return {"subject": subject, "predicate": predicate, "object": obj, **spans,
            "subject_type": relation.subject_type if relation else "",
            "object_type": relation.object_value_type if relation else ""}


REVIEW_COLUMNS = ("uid", "subject", "predicate", "object", "decision", "corrected_subject", "corrected_predicate",
                  "corrected_object")


def read_review_import(path: Path) -> list[tuple[int, dict]]:
    """(line number, row) of a CSV (with its header) or JSON-lines file of decisions, values of
    text stripped; a bad header, row or line names the file and line."""
    from kgqa_cli.labeling.store import read_table

    rows = read_table(path, "file of decisions", REVIEW_COLUMNS, {"decision"}, {"uid", "subject"},
                      "uid or subject,predicate,object, decision, optional corrected_subject, corrected_predicate, "
                      "corrected_object")
    return [(number, {key: value.strip() if isinstance(value, str) else value for key, value in row.items()})
            for number, row in rows]


# ---------------------------------------------------------------------------------------------
# The graph and the training data follow the decisions


def feedback_records(latest: dict[str, dict], schema: Any) -> list[dict]:
    """The extractor's training feedback: per reviewed sentence, its accepted and corrected
    triples (types from the schema), in a stable order."""
    by_text: dict[str, list[dict]] = {}
    for _, row in sorted(latest.items()):
        text = (row.get("sentence") or {}).get("text")
        if not text or row["decision"] == "reject":
            continue
        if row["decision"] == "correct":
            triple = row["corrected"]
            spans = {key: triple.get(key) for key in ("subject_span", "object_span")}
        else:
            triple = {key: row[key] for key in ("subject", "predicate", "object")}
            spans = {"subject_span": row["sentence"].get("subject"), "object_span": row["sentence"].get("object")}
        relation = (schema.relations_of(triple["predicate"]) or [None])[0] if schema is not None else None
        spo = {"subject": triple["subject"], "subject_type": relation.subject_type if relation else "",
               "predicate": triple["predicate"],
               "object": {"@value": triple["object"], **(row.get("slots") or {})},
               "object_type": dict(relation.object_type) if relation else {"@value": ""}}
        spo.update({key: span for key, span in spans.items() if isinstance(span, list) and len(span) == 2
                    and text[span[0]:span[1]] == (spo["subject"] if key == "subject_span" else triple["object"])})
        by_text.setdefault(text, []).append(spo)
    return [{"text": text, "spo_list": spo_list} for text, spo_list in by_text.items()]


def apply_reviews(settings: Any) -> dict:
    """Make the graph and the training feedback follow the decisions file: the triples reviewed
    out are dropped from the graph (a merge: nothing else changes), the corrections merged in,
    and ``data/feedback/kg.jsonl`` written again. Running it twice changes nothing."""
    from gremlin_python.process.traversal import P

    from kgqa_cli.data.schema import Schema
    from kgqa_cli.graph.graph_file import graph_file, writer_lock
    from kgqa_cli.graph.load import choose_loader, load_graph_data
    from kgqa_cli.graph.model import build_graph_data
    from kgqa_cli.graph.reviews import REVIEW_SOURCE, review_overlay
    from kgqa_cli.graph.store import open_graph
    from kgqa_cli.io import write_text_atomic

    path = reviews_file(settings.paths)
    latest = read_reviews(path)
    out, corrected = review_overlay(path)
    config = settings.graph
    embedded = config.url is None
    lock = writer_lock(graph_file(config, settings.paths)) if embedded else nullcontext()  # a server locks itself
    removed = 0
    if embedded:
        from kgqa_cli.graph.graph_file import check_graph_file

        check_graph_file(graph_file(config, settings.paths))  # a review never creates a graph
    with lock, open_graph(config, settings.paths, create=True) as store:
        g = store.g
        uids = sorted(out)
        for start in range(0, len(uids), config.batch_size):
            chunk = uids[start:start + config.batch_size]
            present = g.E().has("uid", P.within(chunk)).values("uid").to_list()
            if present:
                g.E().has("uid", P.within(present)).drop().iterate()
                removed += len(present)
        store.commit()
        data = build_graph_data(corrected, source=REVIEW_SOURCE, evidence=config.evidence.policy())
        loader = choose_loader(config.loader, store)
        counts, _ = load_graph_data(store, data, config.direct_batch_size if loader == "direct" else config.batch_size,
                                    loader=loader)
        if removed and not counts.changed:
            store.count_change()  # long-lived readers must see the drop
    schema = Schema.load(settings.paths.schema_file) if settings.paths.schema_file.exists() else None
    records = feedback_records(latest, schema)
    feedback = settings.paths.kg_feedback_file
    write_text_atomic(feedback, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    decisions = Counter(row["decision"] for row in latest.values())
    return {"decisions": {d: decisions.get(d, 0) for d in DECISIONS}, "removed_from_graph": removed,
            "added_to_graph": sum(counts.edges_added.values()), "feedback_sentences": len(records),
            "feedback_file": str(feedback)}


def precision_estimate(latest: dict[str, dict], confidence_z: float = 1.96) -> dict:
    """The extractor's precision from the verdicts on the uniform sample alone: accepted over
    decided, with a Wilson score interval (z = 1.96: 95 %). None figures when nothing is decided."""
    sample = [row for row in latest.values() if row.get("uniform")]
    by_version: dict[str, list[dict]] = {}
    for row in sample:
        by_version.setdefault(str(row.get("model_version")), []).append(row)
    return {"overall": _wilson(sample, confidence_z),
            "by_model_version": {version: _wilson(rows, confidence_z) for version, rows in sorted(by_version.items())}}


def _wilson(rows: list[dict], z: float) -> dict:
    n = len(rows)
    right = sum(row["decision"] == "accept" for row in rows)
    if n == 0:
        return {"reviewed": 0, "accepted": 0, "precision": None, "low": None, "high": None}
    p = right / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return {"reviewed": n, "accepted": right, "precision": round(p, 4), "low": round(max(0.0, centre - half), 4),
            "high": round(min(1.0, centre + half), 4)}
