"""Benchmark of compositional questions; writes bench/compositional.json (the repository's bench/).

What `kgqa ask` is asked, and how it is scored:

* **A generated test set** over the measured workspace's graph (`make all`'s ``workspace/``, read
  from a private copy). Entities and predicate pairs are found by walking the graph along chains
  the schema allows (the object type of one predicate is the subject type of the next), and each
  question's gold answers come from a Gremlin traversal of the same graph. The phrasings are
  those of configs/compositional_test.yaml, written for this test and never used in training.
  Four kinds, at least 200 questions in all:

  - ``chain``: entity -p1-> y -p2-> answer (X的导演的妻子是谁); a share of them has no p2 edge
    after the first hop, so the right output is an honest abstention (no answer, a reason);
  - ``reverse_chain``: y -p1-> entity, y -p2-> answer (何藩导演的电影都有谁主演);
  - ``intersection``: answer -p1-> A and answer -p2-> B (A导演、B主演的电影是哪部);
  - ``count``: how many answers one hop has (何藩导演了几部电影 -> 3).

  Per kind: ``accuracy`` (answered and the answer set is exactly the gold set; a count is right
  when ``answers == [str(n)]`` or ``count == n``; a no-answer question is right when it is not
  answered), ``confidently_wrong`` (answered, i.e. ``reason`` is None, and not right) and
  ``abstained`` (a ``reason`` given), with the targets beside them, and up to 20 failures.
* **CCKS shapes**: when ../shared/data/ccks-kbqa/ccks2021_valid.txt is present, each question's
  shape is derived from its gold SPARQL (one_hop, chain, reverse_chain, intersection, count,
  other) and compared with the shape of the query graph `kgqa ask` read (the Answer's ``shape``,
  ``none`` when it reports none). The demo graph cannot answer these questions, so only the
  shapes are compared: per gold shape the share read alike, and the confusion matrix. Nothing
  is trained on them.

Usage: python scripts/bench_compositional.py [--config FILE] [--workspace DIR] [--out FILE]
       [--ccks FILE] [--ccks-limit N] [--seed N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "bench" / "compositional.json"
DEFAULT_PHRASINGS = REPO / "configs" / "compositional_test.yaml"
DEFAULT_CCKS = REPO.parent / "shared" / "data" / "ccks-kbqa" / "ccks2021_valid.txt"

KINDS = ("chain", "reverse_chain", "intersection", "count")
SHAPES = ("one_hop", "chain", "reverse_chain", "intersection", "count", "other")
TARGETS = {"accuracy": 0.85, "confidently_wrong": 0.05}

# How many questions of each kind the generated set holds (answerable chains and chains whose
# second hop is missing are drawn separately, so the abstention share is fixed).
QUOTAS = {"chain": 70, "chain_no_answer": 24, "reverse_chain": 50, "intersection": 50, "count": 50}
MAX_GOLD = 5            # small gold sets: an exact-set comparison stays meaningful
MAX_FIRST_HOP = 3       # a chain through many intermediate entities reads as a list question
MAX_COUNT = 10
FAILURES_KEPT = 20

# The types a DuIE schema names are a shallow hierarchy: a 娱乐人物 is a 人物, a 学校 an 机构.
# A chain is type-compatible when one type is the other or an ancestor of it.
PARENT_TYPE = {
    "娱乐人物": "人物", "历史人物": "人物",
    "城市": "地点", "国家": "地点", "行政区": "地点", "景点": "地点",
    "学校": "机构", "企业": "机构",
    "影视作品": "作品", "图书作品": "作品", "文学作品": "作品", "歌曲": "作品", "音乐专辑": "作品",
    "电视综艺": "作品",
}
# Literal values, never the entity a question is about.
LITERAL_TYPES = {"Number", "Date", "Text"}
# Punctuation inside a name marks a clause the extractor took for a name, not a real entity.
_PUNCTUATION = re.compile(r"[\s,，、。;；:：!！?？()（）\"“”'‘’《》]")


# --- the graph as the generator sees it ------------------------------------------------------

def type_ancestors(type_name: str) -> list[str]:
    """The type and its ancestors, nearest first."""
    chain = [type_name]
    while chain[-1] in PARENT_TYPE:
        chain.append(PARENT_TYPE[chain[-1]])
    return chain


def types_compatible(first: str, second: str) -> bool:
    """Whether one type is the other or an ancestor of it."""
    return first in type_ancestors(second) or second in type_ancestors(first)


def fits(types: set[str], expected: str) -> bool:
    """Whether an entity with these types can stand where the schema expects ``expected``."""
    return any(types_compatible(t, expected) for t in types)


def load_schema(path: Path) -> dict[str, tuple[str, str]]:
    """predicate -> (subject type, object type) from a DuIE schema file (JSON lines)."""
    schema = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            object_type = row["object_type"]
            schema[row["predicate"]] = (row["subject_type"],
                                        object_type["@value"] if isinstance(object_type, dict) else object_type)
    return schema


class GraphSnapshot:
    """Every edge and vertex type of a (small) graph, read once, for walking candidate questions.

    The gold answers are not taken from here but from traversals of the graph itself
    (:func:`gold_by_traversal`), so a slip in this walk cannot make a wrong gold answer.
    """

    def __init__(self, g: Any) -> None:
        from gremlin_python.process.graph_traversal import __

        from kgqa_cli.graph.model import VERTEX_LABEL

        self.objects: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        self.subjects: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        self.types: dict[str, set[str]] = defaultdict(set)
        rows = (g.V().has_label(VERTEX_LABEL).project("name", "types")
                .by(__.values("name")).by(__.values("types").fold()).to_list())
        for row in rows:
            self.types[row["name"]].update(row["types"])
        edges = (g.E().project("subject", "predicate", "object")
                 .by(__.out_v().values("name")).by(__.label()).by(__.in_v().values("name")).to_list())
        self.predicates: set[str] = set()
        for edge in edges:
            self.objects[edge["subject"]][edge["predicate"]].add(edge["object"])
            self.subjects[edge["object"]][edge["predicate"]].add(edge["subject"])
            self.predicates.add(edge["predicate"])
        self.names = sorted(self.types)
        # Names joined by a separator no name holds: a name found twice lies inside another name.
        self._joined = "\x00" + "\x00".join(self.names) + "\x00"
        self._name_set = set(self.names)
        self._unambiguous: dict[str, bool] = {}

    def unambiguous(self, name: str) -> bool:
        """Whether a question can name this entity and no other one: a clean name (two to
        twenty characters, no punctuation, not a literal value) that neither lies inside another
        entity's name nor holds one."""
        if name not in self._unambiguous:
            self._unambiguous[name] = (
                2 <= len(name) <= 20 and not _PUNCTUATION.search(name)
                and bool(self.types[name] - LITERAL_TYPES)
                and self._joined.count(name) == 1
                and not any(name[start:end] in self._name_set
                            for start in range(len(name)) for end in range(start + 2, len(name) + 1)
                            if end - start < len(name))
            )
        return self._unambiguous[name]


def gold_by_traversal(g: Any, question: dict) -> list[str]:
    """The gold answers of a generated question, by traversing the graph (sorted names; a count
    question's answers are the entities counted)."""
    from kgqa_cli.graph.model import VERTEX_LABEL

    def start(name: str) -> Any:
        return g.V().has("name", name).has_label(VERTEX_LABEL)

    kind, predicates = question["kind"], question["predicates"]
    if kind == "chain":
        names = start(question["entities"][0]).out(predicates[0]).out(predicates[1]).values("name").to_list()
    elif kind == "reverse_chain":
        names = start(question["entities"][0]).in_(predicates[0]).out(predicates[1]).values("name").to_list()
    elif kind == "intersection":
        first = set(start(question["entities"][0]).in_(predicates[0]).values("name").to_list())
        second = set(start(question["entities"][1]).in_(predicates[1]).values("name").to_list())
        names = list(first & second)
    elif question["direction"] == "forward":
        names = start(question["entities"][0]).out(predicates[0]).values("name").to_list()
    else:
        names = start(question["entities"][0]).in_(predicates[0]).values("name").to_list()
    return sorted(set(names))


# --- generating the test set -----------------------------------------------------------------

def load_phrasings(path: Path) -> dict[str, list[dict]]:
    """The test phrasings per kind (see configs/compositional_test.yaml)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {kind: list(data.get(kind) or []) for kind in KINDS}


def _clean(answers: set[str]) -> bool:
    """Whether every gold answer is a clean name (a clause the extractor took for a name would
    make the exact-set comparison a test of the extractor)."""
    return not any(_PUNCTUATION.search(name) for name in answers)


def _chain_candidates(snapshot: GraphSnapshot, schema: dict, p1: str, p2: str) -> tuple[list, list]:
    """(answerable, no-answer) chain candidates ``(entities, gold)`` for entity -p1-> y -p2-> ?."""
    answerable, unanswerable = [], []
    subject_type, middle_type = schema[p1][0], schema[p2][0]
    for name in snapshot.names:
        middles = snapshot.objects[name].get(p1)
        if not middles or len(middles) > MAX_FIRST_HOP or not snapshot.unambiguous(name):
            continue
        if not fits(snapshot.types[name], subject_type) or name in middles:
            continue
        answers = set().union(*(snapshot.objects[middle].get(p2, set()) for middle in middles))
        if name in answers:  # 妻子 then 丈夫 comes back: not a question anyone asks
            continue
        if 1 <= len(answers) <= MAX_GOLD and _clean(answers):
            answerable.append(([name], sorted(answers)))
        elif not answers and all(fits(snapshot.types[middle], middle_type) for middle in middles):
            # The first hop exists and its entities are of a type that could have p2: the
            # honest reply names no one (not the director himself).
            unanswerable.append(([name], []))
    return answerable, unanswerable


def _reverse_chain_candidates(snapshot: GraphSnapshot, schema: dict, p1: str, p2: str) -> list:
    """Candidates for y -p1-> entity, y -p2-> ?."""
    found = []
    object_type = schema[p1][1]
    for name in snapshot.names:
        middles = snapshot.subjects[name].get(p1)
        if not middles or not snapshot.unambiguous(name) or not fits(snapshot.types[name], object_type):
            continue
        answers = set().union(*(snapshot.objects[middle].get(p2, set()) for middle in middles))
        if name not in answers and 1 <= len(answers) <= MAX_GOLD and _clean(answers):
            found.append(([name], sorted(answers)))
    return found


def _intersection_candidates(snapshot: GraphSnapshot, p1: str, p2: str) -> tuple[list, list]:
    """(telling, plain) candidates ``([A, B], gold)`` for ? -p1-> A and ? -p2-> B. A telling
    one tests the intersection: one constraint alone would give more answers than both."""
    seen, telling, plain = set(), [], []
    for subject in snapshot.names:
        for first in sorted(snapshot.objects[subject].get(p1, ())):
            for second in sorted(snapshot.objects[subject].get(p2, ())):
                if first == second or (p1 == p2 and second < first) or (first, second) in seen:
                    continue
                seen.add((first, second))
                if not (snapshot.unambiguous(first) and snapshot.unambiguous(second)):
                    continue
                if first in second or second in first:
                    continue
                by_first = snapshot.subjects[first].get(p1, set())
                by_second = snapshot.subjects[second].get(p2, set())
                answers = by_first & by_second
                if not 1 <= len(answers) <= MAX_GOLD or not _clean(answers):
                    continue
                candidate = ([first, second], sorted(answers))
                (telling if max(len(by_first), len(by_second)) > len(answers) else plain).append(candidate)
    return telling, plain


def _count_candidates(snapshot: GraphSnapshot, schema: dict, predicate: str, direction: str) -> tuple[list, list]:
    """(several, single) candidates ``([entity], counted)`` of one hop: counts of two or more,
    and counts of one (used only when the first run short)."""
    several, single = [], []
    expected = schema[predicate][0] if direction == "forward" else schema[predicate][1]
    for name in snapshot.names:
        hop = snapshot.objects if direction == "forward" else snapshot.subjects
        counted = hop[name].get(predicate)
        if not counted or len(counted) > MAX_COUNT or not snapshot.unambiguous(name):
            continue
        if not fits(snapshot.types[name], expected):
            continue
        (several if len(counted) >= 2 else single).append(([name], sorted(counted)))
    return several, single


def _schema_allows(schema: dict, kind: str, predicates: list[str]) -> str | None:
    """Why the schema rules out this kind over these predicates, or None when it allows it."""
    missing = [p for p in predicates if p not in schema]
    if missing:
        return f"not in the schema: {', '.join(missing)}"
    if kind == "chain" and not types_compatible(schema[predicates[0]][1], schema[predicates[1]][0]):
        return f"{predicates[0]} ends at {schema[predicates[0]][1]}, {predicates[1]} starts at {schema[predicates[1]][0]}"
    if kind in ("reverse_chain", "intersection") and not types_compatible(schema[predicates[0]][0],
                                                                           schema[predicates[1]][0]):
        return f"{predicates[0]} and {predicates[1]} have different subject types"
    return None


def _shuffled(rng: random.Random, *preferred_first: list) -> list:
    """Each list shuffled, then joined in the order given (the preferred candidates first)."""
    joined = []
    for items in preferred_first:
        items = list(items)
        rng.shuffle(items)
        joined += items
    return joined


def _draw(queues: list[tuple[dict, list]], quota: int, used: set[str]) -> list[tuple[dict, list, list, int]]:
    """Round-robin over the predicate groups, one candidate each turn, until ``quota``: every
    pair gets its share and no entity is asked about twice within a kind. Returns
    ``(group, entities, gold, index within the group)``."""
    drawn, taken = [], Counter()
    positions = [0] * len(queues)
    while len(drawn) < quota:
        progressed = False
        for at, (group, queue) in enumerate(queues):
            while positions[at] < len(queue):
                entities, gold = queue[positions[at]]
                positions[at] += 1
                if any(name in used for name in entities):
                    continue
                used.update(entities)
                key = id(group)
                drawn.append((group, entities, gold, taken[key]))
                taken[key] += 1
                progressed = True
                break
            if len(drawn) >= quota:
                break
        if not progressed:
            break
    return drawn


def generate_questions(g: Any, schema: dict, phrasings: dict, quotas: dict | None = None, seed: int = 13,
                       notes: list[str] | None = None) -> list[dict]:
    """The compositional test set over graph ``g``: a list of
    ``{"kind", "question", "predicates", "direction", "entities", "gold", "gold_count", "no_answer",
    "phrasing"}``, gold answers taken from traversals of ``g``. ``notes`` collects why a group of
    phrasings gave no question."""
    quotas = {**QUOTAS, **(quotas or {})}
    notes = notes if notes is not None else []
    snapshot = GraphSnapshot(g)
    rng = random.Random(seed)
    questions = []

    def group_predicates(group: dict) -> list[str]:
        return list(group["predicates"]) if "predicates" in group else [group["predicate"]]

    def usable(kind: str, group: dict) -> bool:
        predicates = group_predicates(group)
        problem = _schema_allows(schema, kind, predicates)
        absent = [p for p in predicates if p not in snapshot.predicates]
        if problem is None and absent:
            problem = f"no {', '.join(absent)} edge in the graph"
        if problem:
            notes.append(f"{kind} {'/'.join(predicates)}: skipped, {problem}")
        return problem is None

    def emit(kind: str, drawn: list, no_answer: bool = False) -> None:
        for group, entities, gold, index in drawn:
            phrasing = group["phrasings"][index % len(group["phrasings"])]
            if kind == "intersection":
                text = phrasing.format(first=entities[0], second=entities[1])
            else:
                text = phrasing.format(entity=entities[0])
            questions.append({
                "kind": kind, "question": text, "predicates": group_predicates(group),
                "direction": group.get("direction"), "entities": entities,
                "gold": [] if kind == "count" else gold, "gold_count": len(gold) if kind == "count" else None,
                "no_answer": no_answer, "phrasing": phrasing,
            })

    chain_groups = [group for group in phrasings["chain"] if usable("chain", group)]
    answerable, unanswerable = [], []
    for group in chain_groups:
        found, empty = _chain_candidates(snapshot, schema, *group["predicates"])
        answerable.append((group, _shuffled(rng, found)))
        unanswerable.append((group, _shuffled(rng, empty)))
    used: set[str] = set()
    emit("chain", _draw(answerable, quotas["chain"], used))
    emit("chain", _draw(unanswerable, quotas["chain_no_answer"], used), no_answer=True)

    queues = [(group, _shuffled(rng, _reverse_chain_candidates(snapshot, schema, *group["predicates"])))
              for group in phrasings["reverse_chain"] if usable("reverse_chain", group)]
    emit("reverse_chain", _draw(queues, quotas["reverse_chain"], set()))

    queues = [(group, _shuffled(rng, *_intersection_candidates(snapshot, *group["predicates"])))
              for group in phrasings["intersection"] if usable("intersection", group)]
    emit("intersection", _draw(queues, quotas["intersection"], set()))

    queues = [(group, _shuffled(rng, *_count_candidates(snapshot, schema, group["predicate"], group["direction"])))
              for group in phrasings["count"] if usable("count", group)]
    emit("count", _draw(queues, quotas["count"], set()))

    for question in questions:
        # The gold answers are those of a traversal of the graph itself; the walk above only
        # chose the questions, and must agree with it.
        traversed = gold_by_traversal(g, question)
        if question["kind"] == "count":
            question["gold_count"] = len(traversed)
        else:
            question["gold"] = traversed
    return questions


# --- scoring ---------------------------------------------------------------------------------

def judge(question: dict, reply: dict) -> str:
    """``right``, ``confidently_wrong`` or ``abstained`` for one reply (an Answer's JSON).

    Fields the Answer may not carry yet (``count``, ``shape``) are read with ``get``."""
    from kgqa_cli.graph.normalize import normalize_name

    answered = reply.get("reason") is None
    answers = [normalize_name(a) for a in reply.get("answers") or []]
    if question["no_answer"]:
        return "confidently_wrong" if answered else "right"
    if not answered:
        return "abstained"
    if question["kind"] == "count":
        gold = question["gold_count"]
        right = answers == [str(gold)] or reply.get("count") == gold
    else:
        right = set(answers) == set(question["gold"])
    return "right" if right else "confidently_wrong"


def _rates(outcomes: list[str], abstentions: list[bool]) -> dict:
    total = len(outcomes)
    share = (lambda n: round(n / total, 4)) if total else (lambda n: None)
    return {"questions": total, "accuracy": share(outcomes.count("right")),
            "confidently_wrong": share(outcomes.count("confidently_wrong")),
            "abstained": share(sum(abstentions))}


def score_questions(answerer: Any, questions: list[dict]) -> dict:
    """Ask every question and gather the figures per kind (and for the no-answer chains apart)."""
    per_kind: dict[str, dict] = {}
    groups: dict[str, list] = defaultdict(list)
    for question in questions:
        reply = answerer.answer(question["question"]).to_json()
        outcome = judge(question, reply)
        groups[question["kind"]].append((question, reply, outcome))
        if question["kind"] == "chain":
            groups["chain_no_answer" if question["no_answer"] else "chain_answerable"].append((question, reply, outcome))
    for name in (*KINDS, "chain_answerable", "chain_no_answer"):
        rows = groups.get(name, [])
        figures = _rates([o for _, _, o in rows], [r.get("reason") is not None for _, r, _ in rows])
        expected_shape = "chain" if name.startswith("chain") else name
        figures["shape_read"] = (round(sum(r.get("shape") == expected_shape for _, r, _ in rows) / len(rows), 4)
                                 if rows else None)
        if name in KINDS:
            figures["failures"] = [_failure(q, r, o) for q, r, o in rows if o != "right"][:FAILURES_KEPT]
        per_kind[name] = figures
    everything = [o for rows in (groups.get(k, []) for k in KINDS) for _, _, o in rows]
    abstained = [r.get("reason") is not None for rows in (groups.get(k, []) for k in KINDS) for _, r, _ in rows]
    return {"overall": _rates(everything, abstained), "per_kind": per_kind}


def _failure(question: dict, reply: dict, outcome: str) -> dict:
    return {
        "question": question["question"], "outcome": outcome, "predicates": question["predicates"],
        "entities": question["entities"],
        "gold": question["gold_count"] if question["kind"] == "count" else question["gold"],
        "got": reply.get("answers"), "count": reply.get("count"), "shape": reply.get("shape"),
        "reason": reply.get("reason"), "read": {"entity": (reply.get("entity") or {}).get("name"),
                                                "predicate": reply.get("predicate"), "direction": reply.get("direction")},
    }


# --- CCKS question shapes --------------------------------------------------------------------

_TOKEN = re.compile(r'<[^>]*>|"(?:[^"\\]|\\.)*"(?:@[\w-]+|\^\^<[^>]*>)?|\?\w+|\$\w+|[{}().;,*]|[^\s{}().;,"<?]+')
_STRUCTURE_WORDS = {"filter", "optional", "union", "minus", "bind", "values", "graph", "service", "not", "exists"}
_MODIFIERS = re.compile(r"\b(order\s+by|group\s+by|having|limit|offset)\b", re.IGNORECASE)


def _is_variable(term: str) -> bool:
    return term.startswith(("?", "$"))


def _joins_constant(triple: tuple[str, str, str], answer: str) -> bool:
    """Whether a pattern links the answer variable to a constant (either way round)."""
    subject, _, obj = triple
    return (subject == answer and not _is_variable(obj)) or (obj == answer and not _is_variable(subject))


def _triples(body: str) -> list[tuple[str, str, str]] | None:
    """The triple patterns of a WHERE body (``;`` and ``,`` shorthands expanded), or None when it
    holds anything else (FILTER, OPTIONAL, nested groups...)."""
    tokens = _TOKEN.findall(body)
    if any(t.lower() in _STRUCTURE_WORDS or t in "{}()" for t in tokens):
        return None
    triples, current = [], []
    for token in tokens:
        if token == ".":
            if current:
                return None
            continue
        if token == ";" and len(current) == 0 and triples:
            current = [triples[-1][0]]
            continue
        if token == "," and len(current) == 0 and triples:
            current = list(triples[-1][:2])
            continue
        if token in ";,":
            return None
        current.append(token)
        if len(current) == 3:
            triples.append(tuple(current))
            current = []
    return None if current else triples


def sparql_shape(sparql: str) -> str:
    """The shape of a gold SPARQL query: one_hop, chain, reverse_chain, intersection, count or other.

    one_hop: one pattern, one constant; chain: ``<E> <p1> ?y. ?y <p2> ?x``; reverse_chain:
    ``?y <p1> <E>. ?y <p2> ?x``; intersection: two patterns each joining the answer to a constant;
    count: COUNT in the select clause; other: anything else (filters, ordering, more patterns,
    variable predicates, other joins).
    """
    text = sparql.strip()
    match = re.match(r"\s*select\s+(.*?)\s*(?:where\s*)?\{(.*)\}(.*)$", text, re.IGNORECASE | re.DOTALL)
    if not match:
        return "other"
    selected, body, after = match.groups()
    if re.search(r"\bcount\s*\(", selected, re.IGNORECASE):
        return "count"
    if after.strip() and _MODIFIERS.search(after):
        return "other"
    variables = re.findall(r"[?$]\w+", selected)
    if len(variables) != 1:
        return "other"
    answer = variables[0]
    triples = _triples(body)
    if not triples or any(_is_variable(p) for _, p, _ in triples):
        return "other"
    if len(triples) == 1:
        return "one_hop" if _joins_constant(triples[0], answer) else "other"
    if len(triples) != 2:
        return "other"
    first, second = triples
    for start, end in ((first, second), (second, first)):
        middle = start[2] if _is_variable(start[2]) else start[0]
        if not _is_variable(middle) or middle == answer:
            continue
        if end[0] == middle and end[2] == answer:
            if not _is_variable(start[0]) and start[2] == middle:
                return "chain"
            if not _is_variable(start[2]) and start[0] == middle:
                return "reverse_chain"
    if all(_joins_constant(triple, answer) for triple in triples):
        return "intersection"
    return "other"


def read_ccks(path: Path) -> list[tuple[str, str]]:
    """(question, gold SPARQL) pairs of a CCKS KBQA file: a ``qN:question`` line, then the SPARQL."""
    pairs, question = [], None
    for line in path.read_text(encoding="utf-8").splitlines():
        head = re.match(r"^q\d+[:：](.*)$", line)
        if head:
            question = head.group(1).strip()
        elif question is not None and line.strip():
            pairs.append((question, line.strip()))
            question = None
    return pairs


def ccks_figures(answerer: Any, path: Path, limit: int) -> dict:
    """Gold shape from SPARQL vs the shape `kgqa ask` read, over the CCKS questions."""
    pairs = read_ccks(path)
    used = pairs[:limit] if limit else pairs
    gold_counts, matrix = Counter(), defaultdict(Counter)
    for question, sparql in used:
        gold = sparql_shape(sparql)
        read = answerer.answer(question).to_json().get("shape") or "none"
        gold_counts[gold] += 1
        matrix[gold][read] += 1
    return {
        "file": str(path), "questions": len(used), "questions_in_file": len(pairs),
        "gold_shapes": {shape: gold_counts[shape] for shape in SHAPES},
        "read_alike": {shape: round(matrix[shape][shape] / gold_counts[shape], 4) if gold_counts[shape] else None
                       for shape in SHAPES},
        "read_alike_overall": round(sum(matrix[s][s] for s in SHAPES) / len(used), 4) if used else None,
        "confusion": {gold: dict(sorted(row.items())) for gold, row in sorted(matrix.items())},
    }


# --- running it ------------------------------------------------------------------------------

def private_workspace(source: Path, scratch: Path) -> Path:
    """A copy of the measured workspace (the graph, models and registry; not raw data), so that
    nothing in it is touched."""
    target = scratch / "ws"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("raw", "datacapture", "bench", ".*.lock"))
    return target


def code_provenance() -> dict:
    """Which kgqa code answered: where the package was imported from, and the git commit and
    locally changed files of its checkout (None outside a git checkout)."""
    import subprocess

    import kgqa_cli

    package = Path(kgqa_cli.__file__).resolve().parent
    provenance: dict[str, Any] = {"package": str(package), "git_commit": None, "changed_files": None}
    try:
        def git(*command: str) -> str:
            return subprocess.run(["git", *command], cwd=package.parent, capture_output=True, text=True,
                                  check=True, timeout=30).stdout

        provenance["git_commit"] = git("rev-parse", "HEAD").strip()
        provenance["changed_files"] = sorted(line[3:] for line in git("status", "--porcelain").splitlines()
                                             if line[3:].startswith(("kgqa_cli/", "configs/")))
    except (OSError, subprocess.SubprocessError):
        pass
    return provenance


def _print_summary(result: dict) -> None:
    generated = result["generated"]
    print(f"compositional test set: {generated['overall']['questions']} questions "
          f"(targets: accuracy >= {TARGETS['accuracy']}, confidently wrong <= {TARGETS['confidently_wrong']})")
    for name, figures in generated["per_kind"].items():
        if not figures["questions"]:
            continue
        print(f"  {name:18s} n={figures['questions']:4d}  accuracy {figures['accuracy']:.3f}  "
              f"confidently wrong {figures['confidently_wrong']:.3f}  abstained {figures['abstained']:.3f}  "
              f"shape read {figures['shape_read']:.3f}")
    overall = generated["overall"]
    print(f"  {'all':18s} n={overall['questions']:4d}  accuracy {overall['accuracy']:.3f}  "
          f"confidently wrong {overall['confidently_wrong']:.3f}  abstained {overall['abstained']:.3f}")
    ccks = result.get("ccks")
    if ccks and "questions" in ccks:
        print(f"CCKS shapes ({ccks['questions']} questions): read alike overall {ccks['read_alike_overall']}")
        for shape in SHAPES:
            print(f"  {shape:14s} gold {ccks['gold_shapes'][shape]:5d}  read alike {ccks['read_alike'][shape]}")
    elif ccks:
        print(f"CCKS shapes: {ccks.get('skipped')}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=None, help="project config [default: configs/kgqa.yaml]")
    parser.add_argument("--workspace", type=Path, default=None, help="workspace to measure [default: the config's]")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"result file [default: {DEFAULT_OUT}]")
    parser.add_argument("--phrasings", type=Path, default=DEFAULT_PHRASINGS, help="test phrasings (YAML)")
    parser.add_argument("--ccks", type=Path, default=DEFAULT_CCKS, help="CCKS KBQA file with gold SPARQL")
    parser.add_argument("--ccks-limit", type=int, default=0, help="ask at most this many CCKS questions (0: all)")
    parser.add_argument("--seed", type=int, default=13, help="seed of the question draw")
    parser.add_argument("--label", default=None, help="a note kept in the result (e.g. which code was measured)")
    args = parser.parse_args(argv)
    os.chdir(REPO)  # relative paths of the config (templates file) are the repository's

    from kgqa_cli.answering.pipeline import Answerer
    from kgqa_cli.errors import KgqaError
    from kgqa_cli.settings import load_settings

    started = time.perf_counter()
    settings = load_settings(args.config, {"workspace": str(args.workspace)} if args.workspace else None)
    source = settings.paths.root
    schema_path = settings.paths.schema_file
    if not schema_path.is_file():
        print(f"{schema_path}: no schema; run `make all` first", file=sys.stderr)
        return 1
    schema = load_schema(schema_path)
    phrasings = load_phrasings(args.phrasings)
    with tempfile.TemporaryDirectory(prefix="kgqa-compositional-") as scratch:
        copy = private_workspace(Path(source), Path(scratch))
        asking = load_settings(args.config, {"workspace": str(copy), "graph.path": None, "graph.url": None})
        try:
            answerer = Answerer(asking)
        except KgqaError as exc:
            print(f"{source}: cannot answer from this workspace ({exc}); run `make all` first", file=sys.stderr)
            return 1
        with answerer:
            notes: list[str] = []
            questions = generate_questions(answerer.store.g, schema, phrasings, seed=args.seed, notes=notes)
            probe = answerer.answer(questions[0]["question"]).to_json() if questions else {}
            result: dict[str, Any] = {
                "command": " ".join([Path(sys.executable).name, *sys.argv]),
                "machine": {"cpus": os.cpu_count()},
                "workspace": str(Path(source).resolve()),
                "model_version": answerer.version_name,
                "label": args.label,
                "code": code_provenance(),
                "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "phrasings": str(args.phrasings.resolve().relative_to(REPO)) if args.phrasings.resolve().is_relative_to(REPO)
                else str(args.phrasings),
                "targets": TARGETS,
                # Whether the Answer carries the fields of a query-graph reading (they came later).
                "answer_fields": {name: name in probe for name in ("shape", "count", "hops")},
                "generation": {"seed": args.seed, "quotas": QUOTAS, "max_gold": MAX_GOLD, "notes": notes,
                               "questions_per_kind": dict(Counter(q["kind"] for q in questions)),
                               "no_answer_chains": sum(q["no_answer"] for q in questions)},
            }
            scoring_started = time.perf_counter()
            result["generated"] = score_questions(answerer, questions)
            result["generated"]["seconds"] = round(time.perf_counter() - scoring_started, 1)
            if args.ccks.is_file():
                ccks_started = time.perf_counter()
                result["ccks"] = ccks_figures(answerer, args.ccks, args.ccks_limit)
                result["ccks"]["seconds"] = round(time.perf_counter() - ccks_started, 1)
            else:
                message = f"{args.ccks} is absent: CCKS shapes skipped"
                print(message, file=sys.stderr)
                result["ccks"] = {"skipped": message}
            result["questions"] = questions
    result["seconds"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    _print_summary(result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
