"""Ground truth from captured traffic: the queue of questions to label, and the decisions' files.

**Queue.** Every captured request (``kgqa_cli.serving.capture``'s format) is read back, JSON or
BASE64, oldest hour first; a batch request gives one item per question. Items whose key already
has ground truth are done. Repeated questions form one group, labelled once.

**Keys.** A captured request is keyed by its ``inferenceId`` when the caller gave one, else by
its ``eventId`` (as SageMaker's Model Monitor joins them); the i-th question of a batch request
adds ``#i`` to that key. An ``inferenceId`` that callers gave to more than one captured request
names none of them: those requests are keyed by their ``eventId``.

**Reading.** Captures, ground truth and feedback are read line by line
(:func:`kgqa_cli.io.read_json_lines`): a line that is not UTF-8, not JSON, torn or not a record
is skipped, counted and warned of as ``file:line: reason``, or stops the command when strict.

**Writes.** Each decision appends, flushes and fsyncs at once:

* ground truth in the **contract** format, one record per captured item, under
  ``<workspace>/groundtruth/yyyy/mm/dd/hh/`` (the hour of the decision):
  ``{"groundTruthData": {"data": "<intent>", "encoding": "CSV"}, "eventMetadata": {"eventId":
  "<key>"}, "eventVersion": "0"}``;
* one labelled question (``text``, ``intent``, ``slots``: one BIO tag per character) per group in
  ``<workspace>/data/feedback/feedback.jsonl``, the format of the generated questions, for
  retraining.

A crash loses nothing decided, and the next session starts at the first undecided item. A later
label of a key or text replaces the earlier one for every reader; the earlier stays in its file.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import csv
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kgqa_cli.errors import InputDataError
from kgqa_cli.io import BadLines, read_json_lines
from kgqa_cli.serving.capture import media_type


@dataclass(frozen=True)
class Item:
    """One captured question and what the endpoint answered."""

    event_key: str  # eventId, plus #i for the i-th question of a batch
    inference_key: str | None  # the caller's inferenceId (plus #i), when it gave one
    question: str
    at: str  # inferenceTime
    prediction: dict  # the answer JSON of `kgqa ask --json`
    shared: bool = False  # the caller gave the same inferenceId to another captured request too

    @property
    def key(self) -> str:
        """The key its ground truth is joined by: the inferenceId when it names this request
        alone, else the eventId."""
        return self.inference_key if self.inference_key is not None and not self.shared else self.event_key


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


def _in_window(when: float, start: float | None, end: float | None) -> bool:
    return (start is None or when >= start) and (end is None or when < end)


def _epoch(at: str) -> float:
    return calendar.timegm(time.strptime(at, "%Y-%m-%dT%H:%M:%SZ"))


def shared_inference_ids(files: list[Path], start: float | None = None, end: float | None = None) -> Counter:
    """inferenceId -> how many captured requests of the window carry it, for the ids that more
    than one request carries (callers may reuse an id; it then names none of them alone)."""
    counts: Counter = Counter()
    quiet = BadLines(shown=0)  # the reading pass proper reports the bad lines
    for _, _, record in read_json_lines(files, quiet):
        meta = record.get("eventMetadata")
        if not isinstance(meta, dict) or not isinstance(meta.get("inferenceId"), str) or not meta["inferenceId"]:
            continue
        try:
            if _in_window(_epoch(meta["inferenceTime"]), start, end):
                counts[meta["inferenceId"]] += 1
        except (KeyError, TypeError, ValueError):
            continue
    return Counter({key: count for key, count in counts.items() if count > 1})


def read_items(
    root: Path, start: float | None = None, end: float | None = None, *, bad: BadLines | None = None,
    shared: Counter | None = None,
) -> Iterator[tuple[Item, float]]:
    """Every captured question under ``root`` in the window [start, end), with its inference time
    in epoch seconds, streamed file by file. A line that is not a capture record goes to ``bad``
    (skipped and warned of, or fatal when strict). ``shared`` (computed when not given) marks the
    requests whose inferenceId another captured request carries too, in or out of the window, so
    that `label` and `monitor` key them alike: by eventId."""
    bad = bad if bad is not None else BadLines()
    files = capture_files(root, start, end)
    shared = shared if shared is not None else shared_inference_ids(capture_files(root))
    for path, number, record in read_json_lines(files, bad):
        try:
            capture, meta = record["captureData"], record["eventMetadata"]
            at = meta["inferenceTime"]
            when = _epoch(at)
            if not _in_window(when, start, end):
                continue
            questions, batch = _questions(capture["endpointInput"]["observedContentType"],
                                          _decode(capture["endpointInput"]))
            output = json.loads(_decode(capture["endpointOutput"]))
            answers = output["answers"] if batch else [output]
            event_id, inference_id = meta["eventId"], meta.get("inferenceId") or None
            if not isinstance(event_id, str) or not event_id or not isinstance(inference_id, str | None):
                raise TypeError("eventId and inferenceId must be texts")
            if not all(isinstance(q, str) for q in questions) or not all(isinstance(a, dict) for a in answers):
                raise TypeError("questions must be texts and answers objects")
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
            bad.report(path, number, f"not a capture record of kgqa ({type(exc).__name__}: {exc})")
            continue
        for index, (question, answer) in enumerate(zip(questions, answers, strict=False)):
            suffix = f"#{index}" if batch else ""
            yield Item(event_id + suffix, inference_id + suffix if inference_id else None, question, at, answer,
                       shared=inference_id in shared), when


def ground_truth_files(root: Path) -> list[Path]:
    """Ground-truth files under ``root`` (``yyyy/mm/dd/hh/*.jsonl``), oldest first (their names
    start with the time their session started)."""
    return sorted(path for path in root.rglob("*.jsonl") if len(path.relative_to(root).parts) == 5)


def read_ground_truth(root: Path, bad: BadLines | None = None) -> dict[str, str]:
    """key -> label of every ground-truth record: a later record of a key replaces an earlier one
    (which stays in its file as the history). A line that is not a record goes to ``bad``."""
    bad = bad if bad is not None else BadLines()
    labels: dict[str, str] = {}
    for path, number, record in read_json_lines(ground_truth_files(root), bad):
        try:
            key, label = record["eventMetadata"]["eventId"], record["groundTruthData"]["data"]
        except (KeyError, TypeError) as exc:
            bad.report(path, number, f"not a ground-truth record (no {exc})")
            continue
        if not isinstance(key, str) or not isinstance(label, str):
            bad.report(path, number, "not a ground-truth record (eventId and data must be texts)")
            continue
        labels[key] = label
    return labels


def label_queue(capture_root: Path, ground_truth_root: Path, bad: BadLines | None = None) -> list[Group]:
    """The questions still to label, grouped by text, in the order of their first capture."""
    done = set(read_ground_truth(ground_truth_root, bad))
    groups: dict[str, Group] = {}
    for item, _ in read_items(capture_root, bad=bad):
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
    writes: list[tuple[Path, int, int]]  # (file, its size before the decision, and after)


class LabelWriter:
    """Appends decisions to the ground-truth and feedback files, durably, and undoes them."""

    def __init__(self, ground_truth_root: Path, feedback_file: Path) -> None:
        self.ground_truth_root = Path(ground_truth_root)
        self.feedback_file = Path(feedback_file)
        # Files sort by the session's start, so that a later label of a key wins when read back:
        # to the microsecond, so that two imports within one second keep their order too.
        started = time.time_ns()
        self.session = (time.strftime("%Y%m%dT%H%M%S", time.gmtime(started // 1_000_000_000))
                        + f".{started // 1000 % 1_000_000:06d}Z-" + str(uuid.uuid4())[:8])

    def _append(self, path: Path, lines: list[str]) -> tuple[Path, int, int]:
        from kgqa_cli.io import append_durably

        return (path, *append_durably(path, "".join(lines).encode("utf-8")))

    def _ground_truth_file(self, now: time.struct_time) -> Path:
        return self.ground_truth_root / time.strftime("%Y/%m/%d/%H", now) / f"labels-{self.session}.jsonl"

    @staticmethod
    def _truth_line(key: str, intent: str) -> str:
        return json.dumps({"groundTruthData": {"data": intent, "encoding": "CSV"}, "eventMetadata": {"eventId": key},
                           "eventVersion": "0"}, ensure_ascii=False) + "\n"

    @staticmethod
    def feedback_row(group: Group, intent: str, slots: list[str], source: str, now: time.struct_time) -> dict:
        """The labelled question that the feedback file learns from one decision."""
        return {"text": group.question, "intent": intent, "slots": slots, "source": source,
                "predicted": group.prediction.get("intent"), "keys": [item.key for item in group.items],
                "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", now)}

    def decide(self, group: Group, intent: str, slots: list[str], source: str = "label") -> Decision:
        """Record ``intent`` and the BIO ``slots`` for every item of ``group``."""
        if len(slots) != len(group.question):
            raise InputDataError(f"{len(slots)} tags for a question of {len(group.question)} characters")
        now = time.gmtime()
        writes = self.write_all([(item.key, intent) for item in group.items],
                                [self.feedback_row(group, intent, slots, source, now)], now)
        return Decision(group, intent, slots, writes)

    def write_all(self, truth: list[tuple[str, str]], feedback: list[dict],
                  now: time.struct_time | None = None) -> list[tuple[Path, int, int]]:
        """Append ground truth ((key, intent) pairs) and feedback rows, each file in one write:
        both land or, when a write fails, neither does. Returns what :meth:`undo` needs."""
        now = now or time.gmtime()
        writes: list[tuple[Path, int, int]] = []
        with self._lock():
            try:
                if truth:
                    writes.append(self._append(self._ground_truth_file(now),
                                               [self._truth_line(key, intent) for key, intent in truth]))
                if feedback:
                    writes.append(self._append(self.feedback_file,
                                               [json.dumps(row, ensure_ascii=False) + "\n" for row in feedback]))
            except BaseException:
                self._truncate(writes)
                raise
        return writes

    def undo(self, decision: Decision) -> None:
        """Take a decision back: its lines are cut off the files it appended to (only when
        nothing was appended after them: another session's lines are never cut)."""
        with self._lock():
            for path, _, end in decision.writes:
                if path.stat().st_size != end:
                    raise InputDataError(f"{path}: written to since this label; it cannot be taken back "
                                         "(label the question again instead)")
            self._truncate(decision.writes)

    def _lock(self):
        """One writer at a time across processes (label sessions, imports), so that a rollback
        never cuts lines another one appended."""
        from kgqa_cli.io import exclusive_lock

        return exclusive_lock(self.feedback_file.with_name(".labels.lock"), wait=True, what="labelling")

    @staticmethod
    def _truncate(writes: list[tuple[Path, int, int]]) -> None:
        for path, size, _ in reversed(writes):
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


IMPORT_COLUMNS = ("eventId", "inferenceId", "question", "intent", "entity")
EXPECTED_COLUMNS = "eventId (or inferenceId) or question, intent, optional entity"


def _label_row_model():
    from pydantic import BaseModel, ConfigDict

    class LabelRow(BaseModel):
        """One imported label as written: texts only (strict), no other fields."""

        model_config = ConfigDict(strict=True, extra="forbid")

        eventId: str | None = None  # noqa: N815 - the capture's field name
        inferenceId: str | None = None  # noqa: N815
        question: str | None = None
        intent: str
        entity: str | None = None

    return LabelRow


def _row_error(exc) -> str:
    """A pydantic error in one line: each field at fault and what is wrong with it."""
    parts = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "row"
        got = error.get("input")
        shown = f" (got {got!r})" if not isinstance(got, dict) and error["type"] != "missing" else ""
        parts.append(f"{field}: {error['msg']}{shown}")
    return "; ".join(parts)


def read_table(path: Path, what: str, columns: tuple[str, ...], required: set[str], one_of: set[str],
               expected: str) -> list[tuple[int, dict]]:
    """(line, row) of a file of rows made elsewhere: a CSV whose first row is its header (the
    names of ``columns`` only, each once, all of ``required`` and one of ``one_of``; no row wider
    than it), or JSON lines of objects. A bad header, row or line is an :class:`InputDataError`
    naming the file and line (``expected`` says what the header should be)."""
    from kgqa_cli.io import read_user_text

    text = read_user_text(path, what)
    if Path(path).suffix.lower() == ".csv":
        reader = csv.reader(text.splitlines())
        header = [name.strip() for name in next(reader, [])]
        if (not required <= set(header) or not one_of & set(header) or not set(header) <= set(columns)
                or len(set(header)) != len(header)):
            found = ",".join(header) if header else "nothing"
            raise InputDataError(f"{path}:1: the first row must be the header {expected} (found {found!r})")
        rows = []
        for number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) > len(header):
                raise InputDataError(f"{path}:{number}: {len(cells)} cells for the {len(header)} columns of the header")
            rows.append((number, {name: cell for name, cell in zip(header, cells, strict=False)}))
        return rows
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise InputDataError(f"{path}:{number}: invalid JSON ({exc})") from exc
        if not isinstance(row, dict):
            raise InputDataError(f"{path}:{number}: a row must be an object, not {type(row).__name__}")
        rows.append((number, row))
    return rows


def read_import(path: Path) -> list[ImportRow]:
    """Labels from a CSV file (header: eventId or question, intent, entity) or JSON lines (the
    same keys, texts only). Every row is checked before any is used; the first bad one is
    reported with its line and field."""
    from pydantic import ValidationError

    path = Path(path)
    rows = read_table(path, "labels file", IMPORT_COLUMNS, {"intent"}, {"eventId", "inferenceId", "question"},
                      EXPECTED_COLUMNS)
    model = _label_row_model()
    result = []
    for number, row in rows:
        try:
            checked = model.model_validate(row)
        except ValidationError as exc:
            raise InputDataError(f"{path}:{number}: {_row_error(exc)}") from exc
        key = (checked.eventId or "").strip() or (checked.inferenceId or "").strip() or None
        question = (checked.question or "").strip() or None
        intent = checked.intent.strip()
        if not intent or (key is None) == (question is None):
            raise InputDataError(f"{path}:{number}: needs an intent and one of eventId or question")
        result.append(ImportRow(f"{path}:{number}", key, question, intent, (checked.entity or "").strip() or None))
    return result
