"""The queue of `kgqa label triples`: the graph's extracted triples, most worth a review first.

The queue holds the extracted triples of the graph (gold and reviewers' own left out), in the
order a review is worth most: those the endpoint used in answers (read from the data capture),
then those scored near the extractor's threshold (``graph.review.threshold`` ± ``band``), then
a uniform random sample. A triple belongs to the uniform sample by a hash of its uid
(``graph.review.sample_rate`` of them), whatever else puts it in the queue, so that the verdicts
on the sample estimate the extractor's precision without bias
(:func:`~kgqa_cli.labeling.review_results.precision_estimate`).
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kgqa_cli.graph.model import GOLD_VERSION
from kgqa_cli.graph.reviews import REVIEW_VERSION
from kgqa_cli.io import BadLines

if TYPE_CHECKING:
    from kgqa_cli.settings import KgqaConfig

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


def graph_triples(settings: KgqaConfig) -> list[ReviewItem]:
    """Every extracted triple of the graph (not gold, not reviewers'), uid order."""
    from gremlin_python.process.graph_traversal import __

    from kgqa_cli.graph.evidence import edge_defaults, loads_evidence, property_value
    from kgqa_cli.graph.store import open_graph

    rate = settings.graph.review.sample_rate
    items = []
    with open_graph(settings.graph, settings.paths, create=False) as store:
        rows = (store.g.E().project("predicate", "subject", "object", "props").by(__.label())
                .by(__.out_v().values("name")).by(__.in_v().values("name")).by(__.value_map()).to_list())
    for row in rows:
        props = {key: property_value(value) for key, value in row["props"].items()}
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


def answered_facts(settings: KgqaConfig, bad: BadLines) -> Counter:
    """(subject, predicate, object) -> how many captured answers stood on that fact."""
    from kgqa_cli.labeling.captures import read_items
    from kgqa_cli.serving.capture import capture_root

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


def review_queue(settings: KgqaConfig, triples: list[ReviewItem], decided: set[str], bad: BadLines) -> list[ReviewItem]:
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
