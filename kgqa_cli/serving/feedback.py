"""Feedback from the people who ask: a 👍 or 👎 on an answer, and what the right answer is.

The chat page sends every question with an inference id of its own, so its capture record can
be found again; a rating names that id. Ratings are appended as JSON lines beside the capture
of the endpoint (``<destination>/<endpoint>/<variant>.feedback.jsonl``), flushed and fsynced:

    {"inferenceId", "rating": "up" | "down", "correctAnswer": text or null, "question": text or null,
     "at": "2026-12-07T10:00:00Z"}

A later rating of the same inference id replaces an earlier one for every reader
(:func:`read_answer_feedback`). `kgqa label` shows them beside the captured question, and the
question monitor counts them.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

RATINGS = ("up", "down")
MAX_ANSWER_CHARS = 200
MAX_QUESTION_CHARS = 500
FIELDS = {"inference_id", "rating", "correct_answer", "question"}


def feedback_file(capture_destination: Path, endpoint: str, variant: str) -> Path:
    """Where an endpoint variant's ratings go: beside its capture folder, never inside it."""
    return Path(capture_destination) / endpoint / f"{variant}.feedback.jsonl"


def _text(value: Any, name: str, limit: int) -> str | None:
    """An optional user text: None, or printable text of at most ``limit`` characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text")
    value = value.strip()
    if len(value) > limit:
        raise ValueError(f"{name} must be at most {limit} characters, not {len(value)}")
    if any(ord(char) < 32 or 0x7F <= ord(char) < 0xA0 or 0x202A <= ord(char) <= 0x202E or 0x2066 <= ord(char) <= 0x2069
           for char in value):
        raise ValueError(f"{name} must not hold control characters")
    return value or None


def parse_rating(data: Any, id_problem: Any) -> dict:
    """A rating request's JSON (``{"inference_id", "rating", "correct_answer"?, "question"?}``)
    as the stored row; raises ValueError naming the field at fault. ``id_problem(value)`` says
    why an inference id is refused (the endpoint's own rule), or None."""
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r}: the fields are {', '.join(sorted(FIELDS))}")
    inference_id = data.get("inference_id")
    if not isinstance(inference_id, str):
        raise ValueError("inference_id is required: the id the question was asked with")
    problem = id_problem(inference_id)
    if problem is not None:
        raise ValueError(f"inference_id: {problem}")
    rating = data.get("rating")
    if rating not in RATINGS:
        raise ValueError("rating must be \"up\" or \"down\"")
    return {"inferenceId": inference_id, "rating": rating,
            "correctAnswer": _text(data.get("correct_answer"), "correct_answer", MAX_ANSWER_CHARS),
            "question": _text(data.get("question"), "question", MAX_QUESTION_CHARS),
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


class RecentIds:
    """The inference ids this endpoint answered lately (at most ``limit``, oldest forgotten first):
    a rating must name one of them."""

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._ids: dict[str, None] = {}
        self._lock = threading.Lock()

    def add(self, inference_id: str) -> None:
        with self._lock:
            self._ids.pop(inference_id, None)
            self._ids[inference_id] = None
            while len(self._ids) > self.limit:
                del self._ids[next(iter(self._ids))]

    def __contains__(self, inference_id: str) -> bool:
        with self._lock:
            return inference_id in self._ids


class FeedbackWriter:
    """Appends ratings to one file: one line a rating, flushed and fsynced before the request is
    answered, under a lock (threads of this endpoint) and an ``flock`` (other processes)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def append(self, row: dict) -> None:
        """Write ``row``; an OSError goes to the caller (the endpoint answers 500, keeps serving)."""
        from kgqa_cli.io import append_durably, exclusive_lock

        line = (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock, exclusive_lock(self.path.with_name(f".{self.path.name}.lock"), wait=True, what="ratings"):
            append_durably(self.path, line)


def read_answer_feedback(path: Path, bad: Any = None) -> dict[str, dict]:
    """inference id -> its latest rating row, from a feedback file (absent: none). Bad lines are
    skipped and counted in ``bad`` (a :class:`~kgqa_cli.io.BadLines`)."""
    from kgqa_cli.io import BadLines, read_json_lines

    bad = bad if bad is not None else BadLines()
    rows: dict[str, dict] = {}
    if not Path(path).exists():
        return rows
    for file, number, row in read_json_lines([Path(path)], bad):
        if row.get("rating") not in RATINGS or not isinstance(row.get("inferenceId"), str):
            bad.report(file, number, "not a rating (inferenceId and rating up or down)")
            continue
        rows[row["inferenceId"]] = row
    return rows
