"""The endpoint's routes besides ``/invocations``: health, ratings, counts, the chat page.

``GET /ping`` (200 once the model and graph are loaded, 503 before), ``POST /feedback`` (a
person's rating of an answer, :mod:`kgqa_cli.serving.feedback`), ``GET /stats`` (requests and
capture counts), ``GET /`` (the chat page, assets under ``/static``).
"""

# No `from __future__ import annotations` here: FastAPI reads the routes' `Request` annotations,
# imported where the routes are made, as objects.

import asyncio
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgqa_cli.errors import KgqaError
from kgqa_cli.serving.capture import media_type
from kgqa_cli.serving.endpoint import ERROR_RESPONSES, JSON_TYPE, Endpoint
from kgqa_cli.serving.feedback import MAX_ANSWER_CHARS, MAX_QUESTION_CHARS, parse_rating
from kgqa_cli.serving.handler import BadRequest, check_json_nesting
from kgqa_cli.serving.headers import MAX_INFERENCE_ID_CHARS

if TYPE_CHECKING:
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")

RATING_BODY = {"required": True, "content": {JSON_TYPE: {"schema": {
    "type": "object", "additionalProperties": False, "required": ["inference_id", "rating"],
    "properties": {"inference_id": {"type": "string", "minLength": 1, "maxLength": MAX_INFERENCE_ID_CHARS},
                   "rating": {"enum": ["up", "down"]},
                   "correct_answer": {"type": ["string", "null"], "maxLength": MAX_ANSWER_CHARS},
                   "question": {"type": ["string", "null"], "maxLength": MAX_QUESTION_CHARS}}},
    "example": {"inference_id": "chat-3f2a", "rating": "down", "correct_answer": "何藩"}}}}


def register_ping(app: "FastAPI", endpoint: Endpoint) -> None:
    """Add ``GET /ping``: 200 with the model version and graph once loaded, 503 before."""
    from fastapi.responses import JSONResponse

    @app.get("/ping", summary="Health: 200 once the model and graph are loaded, 503 before")
    async def ping() -> Any:  # Any: the document keeps an open response schema
        worker = endpoint.worker
        if worker is None or not worker.ready.is_set():
            detail = f"loading failed: {worker.error}" if worker is not None and worker.error else "loading"
            return JSONResponse({"status": detail}, status_code=503)
        return {"status": "ok", "model_version": endpoint.model_version, "graph": endpoint.graph}


async def store_rating(endpoint: Endpoint, request: "Request") -> "JSONResponse | dict[str, Any]":
    """Check a rating and append it to the feedback file; a JSON error when it cannot be."""
    endpoint.counts["requests"] += 1
    feedback = endpoint.feedback
    if feedback is None:
        return endpoint.error(404, "this endpoint takes no feedback")
    if media_type(request.headers.get("content-type")) != JSON_TYPE:
        return endpoint.error(415, "feedback is application/json")
    try:
        text = (await request.body()).decode("utf-8")
        check_json_nesting(text)
        row = parse_rating(json.loads(text))
    except BadRequest as exc:
        return endpoint.error(exc.status, exc.message)
    except UnicodeDecodeError:
        return endpoint.error(400, "the body is not UTF-8")
    except ValueError as exc:  # json.JSONDecodeError is one
        return endpoint.error(400, str(exc))
    if row["inferenceId"] not in endpoint.answered_ids:
        return endpoint.error(404, "no answer with this inference_id: rate an answer this endpoint gave")
    try:
        await asyncio.to_thread(feedback.append, row)
    except (OSError, KgqaError) as exc:  # a full disk, a folder that cannot be written
        log.error("cannot store feedback in %s: %s", feedback.path, exc)
        return endpoint.error(500, "the feedback could not be stored")
    endpoint.counts["ratings"] += 1
    return {"stored": True, "inference_id": row["inferenceId"], "rating": row["rating"]}


def register_feedback(app: "FastAPI", endpoint: Endpoint) -> None:
    """Add ``POST /feedback``."""
    from fastapi import Request

    @app.post("/feedback", summary="Rate an answer: up or down, and optionally what the right answer is",
              openapi_extra={"requestBody": RATING_BODY, "responses": ERROR_RESPONSES})
    async def rate(request: Request) -> Any:  # Any: the document keeps an open response schema
        """A person's 👍 or 👎 on an answer this endpoint gave (named by the inference id it was
        asked with), stored beside the data capture; 404 for an id it did not answer lately."""
        return await store_rating(endpoint, request)


def register_stats(app: "FastAPI", endpoint: Endpoint) -> None:
    """Add ``GET /stats``: the counts so far, and the data capture's."""

    @app.get("/stats", summary="Requests so far and the data capture's counts")
    async def stats() -> Any:  # Any: the document keeps an open response schema
        capture = endpoint.capture
        return {**endpoint.counts, "model_version": endpoint.model_version, "graph": endpoint.graph,
                "capture": capture.stats() if capture is not None else None}


def register_page(app: "FastAPI") -> None:
    """Add the chat page, ``GET /``, and its assets under ``/static``."""
    from fastapi.responses import FileResponse
    from fastapi.staticfiles import StaticFiles

    @app.get("/", include_in_schema=False)
    async def page() -> Any:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
