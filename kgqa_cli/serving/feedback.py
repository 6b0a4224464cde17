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
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypedDict

from pydantic import AfterValidator, BaseModel, ConfigDict, StrictStr, ValidationError, ValidationInfo
from pydantic_core import ErrorDetails, PydanticCustomError

from kgqa_cli.serving.headers import inference_id_problem

if TYPE_CHECKING:
    from kgqa_cli.io import BadLines

RATINGS = ("up", "down")
MAX_ANSWER_CHARS = 200
MAX_QUESTION_CHARS = 500
FIELDS = {"inference_id", "rating", "correct_answer", "question"}


def feedback_file(capture_destination: Path, endpoint: str, variant: str) -> Path:
    """Where an endpoint variant's ratings go: beside its capture folder, never inside it."""
    return Path(capture_destination) / endpoint / f"{variant}.feedback.jsonl"


class RatingRow(TypedDict):
    """One line of a feedback file."""

    inferenceId: str
    rating: str
    correctAnswer: str | None
    question: str | None
    at: str


def _inference_id(value: str) -> str:
    problem = inference_id_problem(value)
    if problem is not None:
        raise PydanticCustomError("inference_id", "inference_id: {problem}", {"problem": problem})
    return value


def _user_text(value: str | None, info: ValidationInfo) -> str | None:
    """An optional user text: None, or printable text of at most its field's limit (stripped)."""
    if value is None:
        return None
    name = info.field_name or "text"
    limit = MAX_ANSWER_CHARS if name == "correct_answer" else MAX_QUESTION_CHARS
    value = value.strip()
    if len(value) > limit:
        raise PydanticCustomError("text_too_long", "{name} must be at most {limit} characters, not {length}",
                                  {"name": name, "limit": limit, "length": len(value)})
    if any(ord(char) < 32 or 0x7F <= ord(char) < 0xA0 or 0x202A <= ord(char) <= 0x202E or 0x2066 <= ord(char) <= 0x2069
           for char in value):
        raise PydanticCustomError("control_characters", "{name} must not hold control characters", {"name": name})
    return value or None


UserText = Annotated[StrictStr | None, AfterValidator(_user_text)]


class RatingRequest(BaseModel):
    """The body of ``POST /feedback``: which answer (the inference id it was asked with), up or
    down, and optionally the right answer and the question as the person saw it."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    inference_id: Annotated[StrictStr, AfterValidator(_inference_id)]
    rating: Literal["up", "down"]
    correct_answer: UserText = None
    question: UserText = None


def _rating_problem(errors: list[ErrorDetails]) -> str:
    """The first problem of a rating, in the order the fields are checked: unknown fields (by
    name), then inference_id, rating, correct_answer, question."""
    order = list(RatingRequest.model_fields)

    def rank(error: ErrorDetails) -> tuple[int, str]:
        field = str(error["loc"][0]) if error["loc"] else ""
        return (0, field) if error["type"] == "extra_forbidden" else (1, f"{order.index(field):02d}")

    error = min(errors, key=rank)
    field = str(error["loc"][0]) if error["loc"] else ""
    if error["type"] == "extra_forbidden":
        return f"unknown field {field!r}: the fields are {', '.join(sorted(FIELDS))}"
    if field == "rating":
        return "rating must be \"up\" or \"down\""
    if field == "inference_id" and error["type"] != "inference_id":
        return "inference_id is required: the id the question was asked with"
    if error["type"] == "string_type":
        return f"{field} must be text"
    return error["msg"]


def parse_rating(data: object) -> RatingRow:
    """A rating request's JSON (``{"inference_id", "rating", "correct_answer"?, "question"?}``)
    as the stored row; raises ValueError naming the field at fault."""
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    try:
        request = RatingRequest.model_validate(data)
    except ValidationError as exc:
        raise ValueError(_rating_problem(exc.errors())) from None
    return {"inferenceId": request.inference_id, "rating": request.rating, "correctAnswer": request.correct_answer,
            "question": request.question, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


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

    def append(self, row: RatingRow) -> None:
        """Write ``row``; an OSError goes to the caller (the endpoint answers 500, keeps serving)."""
        from kgqa_cli.io import append_durably, exclusive_lock

        line = (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock, exclusive_lock(self.path.with_name(f".{self.path.name}.lock"), wait=True, what="ratings"):
            append_durably(self.path, line)


def read_answer_feedback(path: Path, bad: BadLines | None = None) -> dict[str, dict[str, Any]]:
    """inference id -> its latest rating row, from a feedback file (absent: none). Bad lines are
    skipped and counted in ``bad`` (a :class:`~kgqa_cli.io.BadLines`)."""
    from kgqa_cli.io import BadLines, read_json_lines

    bad = bad if bad is not None else BadLines()
    rows: dict[str, dict[str, Any]] = {}
    if not Path(path).exists():
        return rows
    for file, number, row in read_json_lines([Path(path)], bad):
        if row.get("rating") not in RATINGS or not isinstance(row.get("inferenceId"), str):
            bad.report(file, number, "not a rating (inferenceId and rating up or down)")
            continue
        rows[row["inferenceId"]] = row
    return rows
