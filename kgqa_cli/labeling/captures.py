"""Captured traffic read back as questions: one item per question of every captured request.

Every captured request (``kgqa_cli.serving.capture``'s format) is read back, JSON or BASE64,
oldest hour first; a batch request gives one item per question. Repeated questions form one
:class:`Group`, labelled once.

**Keys.** A captured request is keyed by its ``inferenceId`` when the caller gave one, else by
its ``eventId`` (as SageMaker's Model Monitor joins them); the i-th question of a batch request
adds ``#i`` to that key. An ``inferenceId`` that callers gave to more than one captured request
names none of them: those requests are keyed by their ``eventId``.

**Reading.** Captures are read line by line (:func:`kgqa_cli.io.read_json_lines`): a line that
is not UTF-8, not JSON, torn or not a record is skipped, counted and warned of as
``file:line: reason``, or stops the command when strict.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

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
