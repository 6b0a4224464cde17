"""What the routes of one endpoint share: its limits, counts, answering thread, capture and ratings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

from kgqa_cli.serving.feedback import RecentIds
from kgqa_cli.serving.handler import Limits

if TYPE_CHECKING:
    from fastapi.responses import JSONResponse

    from kgqa_cli.answering.conversation import Conversations
    from kgqa_cli.serving.answer_worker import AnswerWorker
    from kgqa_cli.serving.capture import CaptureWriter
    from kgqa_cli.serving.feedback import FeedbackWriter

JSON_TYPE = "application/json"

_ERROR_SCHEMA = {"content": {JSON_TYPE: {"schema": {"type": "object", "properties": {"error": {"type": "string"}}}}}}
# The refusals of the POST routes, for the OpenAPI document.
ERROR_RESPONSES: dict[str | int, dict[str, Any]] = {str(code): {"description": text, **_ERROR_SCHEMA} for code, text in (
    (400, "malformed request"), (406, "unacceptable Accept"), (413, "too large"),
    (415, "unsupported content type"), (503, "still loading"))}


class Counts(TypedDict):
    """Requests so far (``GET /stats``)."""

    requests: int
    answered: int
    client_errors: int
    server_errors: int
    ratings: int


def _no_counts() -> Counts:
    return {"requests": 0, "answered": 0, "client_errors": 0, "server_errors": 0, "ratings": 0}


@dataclass
class Endpoint:
    """One endpoint's state. ``conversations`` keeps the context of requests that carry a session
    id; ``feedback`` takes the ratings of ``POST /feedback`` (None: the endpoint takes none)."""

    limits: Limits
    capture: CaptureWriter | None
    model_version: str
    graph: str
    conversations: Conversations | None = None
    feedback: FeedbackWriter | None = None
    counts: Counts = field(default_factory=_no_counts)
    answered_ids: RecentIds = field(default_factory=RecentIds)  # what a rating may name
    worker: AnswerWorker | None = None  # from the start of the application to its end

    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
        """The JSON answer ``{"error": message}`` of a refused or failed request, counted."""
        from fastapi.responses import JSONResponse

        if status < 500:
            self.counts["client_errors"] += 1
        else:
            self.counts["server_errors"] += 1
        return JSONResponse({"error": message}, status_code=status, headers=headers)

    def body_refused(self) -> None:
        """Count a request whose body was over the limit (refused before it reached a route)."""
        self.counts["requests"] += 1
        self.counts["client_errors"] += 1
