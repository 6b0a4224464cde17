"""What the decisions on extracted triples lead to: the graph and the training data follow them,
and the verdicts on the uniform sample estimate the extractor's precision.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from contextlib import nullcontext
from typing import TYPE_CHECKING

from kgqa_cli.data.records import SPAN_KEYS, VALUE, Record, SlotValues, Triple
from kgqa_cli.graph.reviews import DECISIONS, read_reviews, reviews_file

if TYPE_CHECKING:
    from kgqa_cli.data.schema import Schema
    from kgqa_cli.settings import KgqaConfig


def feedback_records(latest: dict[str, dict], schema: Schema | None) -> list[Record]:
    """The extractor's training feedback: per reviewed sentence, its accepted and corrected
    triples (types from the schema), in a stable order."""
    by_text: dict[str, list[Triple]] = {}
    for _, row in sorted(latest.items()):
        text = (row.get("sentence") or {}).get("text")
        if not text or row["decision"] == "reject":
            continue
        if row["decision"] == "correct":
            triple = row["corrected"]
            spans = {key: triple.get(key) for key in SPAN_KEYS}
        else:
            triple = {key: row[key] for key in ("subject", "predicate", "object")}
            spans = {"subject_span": row["sentence"].get("subject"), "object_span": row["sentence"].get("object")}
        relations = schema.relations_of(triple["predicate"]) if schema is not None else []
        relation = relations[0] if relations else None
        names = {"subject_span": triple["subject"], "object_span": triple["object"]}
        by_text.setdefault(text, []).append(Triple(
            subject=triple["subject"], subject_type=relation.subject_type if relation else "",
            predicate=triple["predicate"], object=SlotValues.of(triple["object"], row.get("slots") or {}),
            object_type=SlotValues.of(relation.object_value_type, {k: v for k, v in relation.object_type if k != VALUE})
            if relation else SlotValues.of(""),
            **{key: span for key, span in spans.items() if isinstance(span, list) and len(span) == 2
               and text[span[0]:span[1]] == names[key]}))
    return [Record(text=text, spo_list=spo_list) for text, spo_list in by_text.items()]


def apply_reviews(settings: KgqaConfig) -> dict:
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
    write_text_atomic(feedback, "".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in records))
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
