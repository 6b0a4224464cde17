"""Ground truth from captured traffic: the queue of questions to label, and the decisions' files.

**Queue.** Every captured request (``kgqa_cli.serving.capture``'s format) is read back, JSON or
BASE64, oldest hour first; a batch request gives one item per question. Items whose key already
has ground truth are done. Repeated questions form one group, labelled once.

**Keys.** A captured request is keyed by its ``inferenceId`` when the caller gave one, else by
its ``eventId`` (as SageMaker's Model Monitor joins them); the i-th question of a batch request
adds ``#i`` to that key.

**Writes.** Each decision appends, flushes and fsyncs at once:

* ground truth in the **contract** format, one record per captured item, under
  ``<workspace>/groundtruth/yyyy/mm/dd/hh/`` (the hour of the decision):
  ``{"groundTruthData": {"data": "<intent>", "encoding": "CSV"}, "eventMetadata": {"eventId":
  "<key>"}, "eventVersion": "0"}``;
* one labelled question (``text``, ``intent``, ``slots``: one BIO tag per character) per group in
  ``<workspace>/data/feedback/feedback.jsonl``, the format of the generated questions, for
  retraining.

A crash loses nothing decided, and the next session starts at the first undecided item.
"""

from __future__ import annotations

import base64
import calendar
import csv
import json
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kgqa_cli.errors import InputDataError
from kgqa_cli.serving.capture import media_type


@dataclass(frozen=True)
class Item:
    """One captured question and what the endpoint answered."""

    key: str
    question: str
    at: str  # inferenceTime
    prediction: dict  # the answer JSON of `kgqa ask --json`


@dataclass
class Group:
    """The items of one question text (labelled once for all of them)."""

    question: str
    items: list[Item] = field(default_factory=list)

    @property
    def prediction(self) -> dict:
        """What the endpoint answered (the first request's answer; {} when none was captured)."""
        return self.items[0].prediction if self.items else {}


def _decode(payload: dict) -> str:
    data = payload.get("data", "")
    if payload.get("encoding") == "BASE64":
        return base64.b64decode(data).decode("utf-8", errors="replace")
    return data


def _questions(content_type: str, body: str) -> tuple[list[str], bool]:
    """The questions of a request body and whether it was a batch (as the handler parsed it)."""
    if media_type(content_type) == "text/plain":
        return [body.strip()], False
    data = json.loads(body)
    if "questions" in data:
        return list(data["questions"]), True
    return [data["question"]], False


def capture_files(root: Path, start: float | None = None, end: float | None = None) -> list[Path]:
    """Capture files under ``root`` (``<endpoint>/<variant>``), oldest hour first; with a window,
    only the hour folders that overlap [start, end)."""
    files = []
    for path in root.rglob("*.jsonl"):
        parts = path.relative_to(root).parts
        if len(parts) != 5:
            continue
        try:
            hour = calendar.timegm(time.strptime("/".join(parts[:4]), "%Y/%m/%d/%H"))
        except ValueError:
            continue
        if (start is None or hour + 3600 > start) and (end is None or hour < end):
            files.append((parts[:4], path.name, path))
    return [path for *_, path in sorted(files)]


def _records(paths: Iterable[Path], what: str) -> Iterator[tuple[Path, int, dict]]:
    """(file, line number, parsed record) of every non-empty JSON line, file by file; a line
    that is not JSON is reported as ``file:line``."""
    for path in paths:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    try:
                        yield path, number, json.loads(line)
                    except ValueError as exc:
                        raise InputDataError(f"{path}:{number}: not a {what} ({exc})") from exc


def read_items(root: Path, start: float | None = None, end: float | None = None) -> Iterator[tuple[Item, float]]:
    """Every captured question under ``root``, with its inference time in epoch seconds,
    streamed file by file; a line that cannot be read is reported with its file and line."""
    for path, number, record in _records(capture_files(root, start, end), "capture record of kgqa"):
        try:
            capture, meta = record["captureData"], record["eventMetadata"]
            at = meta["inferenceTime"]
            when = calendar.timegm(time.strptime(at, "%Y-%m-%dT%H:%M:%SZ"))
            if (start is not None and when < start) or (end is not None and when >= end):
                continue
            questions, batch = _questions(capture["endpointInput"]["observedContentType"],
                                          _decode(capture["endpointInput"]))
            output = json.loads(_decode(capture["endpointOutput"]))
            answers = output["answers"] if batch else [output]
            key = meta.get("inferenceId") or meta["eventId"]
        except (ValueError, KeyError, TypeError) as exc:
            raise InputDataError(f"{path}:{number}: not a capture record of kgqa ({exc})") from exc
        for index, (question, answer) in enumerate(zip(questions, answers, strict=False)):
            yield Item(f"{key}#{index}" if batch else key, question, at, answer), when


def ground_truth_files(root: Path) -> list[Path]:
    """Ground-truth files under ``root`` (``yyyy/mm/dd/hh/*.jsonl``), oldest first (their names
    start with the time their session started)."""
    return sorted(path for path in root.rglob("*.jsonl") if len(path.relative_to(root).parts) == 5)


def read_ground_truth(root: Path) -> dict[str, str]:
    """key -> label of every ground-truth record (a later record of a key wins)."""
    labels: dict[str, str] = {}
    for path, number, record in _records(ground_truth_files(root), "ground-truth record"):
        try:
            labels[record["eventMetadata"]["eventId"]] = record["groundTruthData"]["data"]
        except (KeyError, TypeError) as exc:
            raise InputDataError(f"{path}:{number}: not a ground-truth record ({exc})") from exc
    return labels


def label_queue(capture_root: Path, ground_truth_root: Path) -> list[Group]:
    """The questions still to label, grouped by text, in the order of their first capture."""
    done = set(read_ground_truth(ground_truth_root))
    groups: dict[str, Group] = {}
    for item, _ in read_items(capture_root):
        if item.key not in done and item.question.strip():
            groups.setdefault(item.question, Group(item.question)).items.append(item)
    return list(groups.values())


def bio_tags(question: str, spans: dict[str, Iterable[str]]) -> list[str]:
    """One BIO tag per character: each span text tagged at its first untagged occurrence."""
    tags = ["O"] * len(question)
    for name, texts in spans.items():
        for text in texts:
            if not text:
                continue
            start = question.find(text)
            while start != -1 and any(tag != "O" for tag in tags[start:start + len(text)]):
                start = question.find(text, start + 1)
            if start == -1:
                continue
            tags[start] = f"B-{name}"
            for index in range(start + 1, start + len(text)):
                tags[index] = f"I-{name}"
    return tags


@dataclass
class Decision:
    """What one decision appended, so that it can be undone."""

    group: Group
    intent: str
    slots: list[str]
    writes: list[tuple[Path, int]]  # (file, its size before the decision)


class LabelWriter:
    """Appends decisions to the ground-truth and feedback files, durably, and undoes them."""

    def __init__(self, ground_truth_root: Path, feedback_file: Path) -> None:
        self.ground_truth_root = Path(ground_truth_root)
        self.feedback_file = Path(feedback_file)
        # Files sort by the session's start, so that a later label of a key wins when read back.
        self.session = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + str(uuid.uuid4())[:8]

    def _append(self, path: Path, lines: list[str]) -> tuple[Path, int]:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab") as handle:
            size = handle.tell()
            handle.write("".join(lines).encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        return path, size

    def decide(self, group: Group, intent: str, slots: list[str], source: str = "label") -> Decision:
        """Record ``intent`` and the BIO ``slots`` for every item of ``group``."""
        if len(slots) != len(group.question):
            raise InputDataError(f"{len(slots)} tags for a question of {len(group.question)} characters")
        now = time.gmtime()
        hour = self.ground_truth_root / time.strftime("%Y/%m/%d/%H", now)
        truth = [json.dumps({"groundTruthData": {"data": intent, "encoding": "CSV"},
                             "eventMetadata": {"eventId": item.key}, "eventVersion": "0"}, ensure_ascii=False) + "\n"
                 for item in group.items]
        feedback = json.dumps({
            "text": group.question, "intent": intent, "slots": slots, "source": source,
            "predicted": group.prediction.get("intent"), "keys": [item.key for item in group.items],
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", now),
        }, ensure_ascii=False) + "\n"
        writes = [self._append(hour / f"labels-{self.session}.jsonl", truth), self._append(self.feedback_file, [feedback])]
        return Decision(group, intent, slots, writes)

    def undo(self, decision: Decision) -> None:
        """Take a decision back: its lines are cut off the files it appended to."""
        for path, size in reversed(decision.writes):
            with path.open("r+b") as handle:
                handle.truncate(size)
                handle.flush()
                os.fsync(handle.fileno())



def intent_slots(model_folder: Path) -> dict[str, str | None]:
    """Every intent of a question model and the slot its entity fills: ``subject`` when the
    question asks for the object of an entity, ``object`` for a reverse question, None for
    ``none``. Read from the model's ``config.json`` (no weights are loaded)."""
    try:
        meta = json.loads((Path(model_folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputDataError(f"{model_folder}: cannot read the question model's intents ({exc})") from exc
    slots: dict[str, str | None] = {}
    for intent in meta["intents"]:
        routes = meta["routes"].get(intent) or []
        slots[intent] = None if not routes else ("object" if routes[0]["direction"] == "reverse" else "subject")
    return slots


def predicted_entity(group: Group) -> str | None:
    """The entity text the answer was read with (when it is a text of the question, not one taken
    from the conversation), else the first tagged slot; None when there is neither."""
    used = group.prediction.get("entity") or {}
    mention = used.get("mention") if used.get("method") != "context" else None
    if mention and mention in group.question:
        return mention
    slots = group.prediction.get("slots") or {}
    texts = [text for values in slots.values() for text in values]
    return texts[0] if texts else None


def tags_for(group: Group, intent: str, slots_of: dict[str, str | None], entity: str | None = None) -> list[str]:
    """The BIO tags of a decision: the ``entity`` text (or else the predicted entity: the mention
    the answer was read with, else the first tagged slot) tagged as the slot the intent fills; all
    ``O`` for an intent without one (``none``)."""
    slot = slots_of.get(intent)
    if slot is None:
        return ["O"] * len(group.question)
    if entity is None:
        entity = predicted_entity(group)
    if entity is None:
        return ["O"] * len(group.question)
    if entity not in group.question:
        raise InputDataError(f"{entity!r} does not occur in the question {group.question!r}")
    return bio_tags(group.question, {slot: [entity]})


@dataclass(frozen=True)
class ImportRow:
    """One label made elsewhere: a captured request's key or a question, its intent, maybe its entity."""

    source: str
    key: str | None
    question: str | None
    intent: str
    entity: str | None


def read_import(path: Path) -> list[ImportRow]:
    """Labels from a CSV file (header: eventId or question, intent, entity) or JSON lines (the
    same keys); a bad row is reported with its line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise InputDataError(f"{path}: no such labels file") from exc
    except UnicodeDecodeError as exc:
        raise InputDataError(f"{path}: not UTF-8 text ({exc})") from exc
    if path.suffix.lower() == ".csv":
        rows = [(number, row) for number, row in enumerate(csv.DictReader(text.splitlines()), start=2)]
    else:
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    rows.append((number, json.loads(line)))
                except ValueError as exc:
                    raise InputDataError(f"{path}:{number}: invalid JSON ({exc})") from exc
    result = []
    for number, row in rows:
        if not isinstance(row, dict):
            raise InputDataError(f"{path}:{number}: a label row must be an object")
        key = (row.get("eventId") or row.get("inferenceId") or "").strip() or None
        question = (row.get("question") or "").strip() or None
        intent = (row.get("intent") or "").strip()
        if not intent or (key is None) == (question is None):
            raise InputDataError(f"{path}:{number}: needs an intent and one of eventId or question")
        result.append(ImportRow(f"{path}:{number}", key, question, intent, (row.get("entity") or "").strip() or None))
    return result
