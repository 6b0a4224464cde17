"""The local endpoint: FastAPI on uvicorn, on the contract of SageMaker's inference containers.

``GET /ping`` (200 once the model and graph are loaded, 503 before), ``POST /invocations`` (the
four functions of :mod:`kgqa_cli.serving.handler`), ``GET /`` (the chat page, assets under
``/static``), ``GET /stats`` (requests and capture counts), ``/openapi.json``.

One thread owns the :class:`~kgqa_cli.answering.pipeline.Answerer` (the embedded graph's SQLite
connection belongs to the thread that opened it). Requests that arrive together are answered in
one pass of the question model (up to ``serve.batch_window`` questions), which is what lets two
cores keep up with many clients. The answering thread checks before each pass whether
``kgqa bulkload --replace`` swapped the graph file, and moves to the new graph without a restart.

Capture is recorded after the answer is sent to the queue of a background writer: it never
slows or fails a request. On SIGTERM uvicorn stops accepting, finishes the requests in flight,
then the shutdown here stops the answering thread and writes every queued capture record.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

# This module is imported only to serve (`kgqa deploy`), so FastAPI is imported at the top: its
# route functions need the annotations resolvable at module level.
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from kgqa_cli.serving.capture import CaptureWriter
from kgqa_cli.serving.config import capture_destination
from kgqa_cli.serving.handler import (
    BadRequest,
    Limits,
    Questions,
    accepts_json,
    input_fn,
    output_fn,
    predict_fn,
)

log = logging.getLogger(__name__)
access_log = logging.getLogger("kgqa.access")

STATIC = Path(__file__).with_name("static")
JSON_TYPE = "application/json"
CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
INFERENCE_ID = "X-Amzn-SageMaker-Inference-Id"
# SageMaker's stateful-session header: requests that carry the same id are one conversation.
SESSION_ID = "X-Amzn-SageMaker-Session-Id"


class _Job:
    """Questions of one request, waiting for the answering thread."""

    def __init__(self, data: Questions, loop: asyncio.AbstractEventLoop, session: str | None = None) -> None:
        self.data = data
        self.loop = loop
        self.session = session
        self.future: asyncio.Future = loop.create_future()

    def finish(self, result: Any = None, error: BaseException | None = None) -> None:
        def settle() -> None:
            if self.future.done():
                return  # the client went away
            if error is not None:
                self.future.set_exception(error)
            else:
                self.future.set_result(result)

        self.loop.call_soon_threadsafe(settle)


class AnswerWorker:
    """The one thread that loads the model, owns the graph connection and answers in batches."""

    def __init__(self, load: Callable[[], Any], batch_window: int, conversations: Any = None) -> None:
        self._load = load
        self.batch_window = batch_window
        self.conversations = conversations  # by session id; touched by this thread only
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.model: Any = None
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="kgqa-answer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.model = self._load()
        except BaseException as exc:  # reported by /ping and by every request
            self.error = exc
            log.error("the model or graph could not be loaded: %s", exc)
            return
        self.ready.set()
        stopping = False
        while not stopping:
            jobs = [self._queue.get()]
            if jobs[0] is None:
                break
            size = len(jobs[0].data.questions)
            while size < self.batch_window:  # whatever else is waiting joins this pass
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                jobs.append(job)
                size += len(job.data.questions)
            self._answer(jobs)
        self.model.close()

    def _answer(self, jobs: list[_Job]) -> None:
        questions = [q for job in jobs for q in job.data.questions]
        conversations = None
        if self.conversations is not None and any(job.session for job in jobs):
            conversations = [self.conversations.get(job.session) if job.session else None
                             for job in jobs for _ in job.data.questions]
        try:
            answers = predict_fn(Questions(questions, True), self.model, conversations)["answers"]
        except BaseException as exc:
            for job in jobs:
                job.finish(error=exc)
            return
        start = 0
        for job in jobs:
            count = len(job.data.questions)
            job.finish({"batch": job.data.batch, "answers": answers[start:start + count]})
            start += count

    async def answer(self, data: Questions, session: str | None = None) -> dict:
        """Answers of one parsed request (waits for the answering thread); with a ``session``
        id, its questions continue that session's conversation."""
        job = _Job(data, asyncio.get_running_loop(), session)
        self._queue.put(job)
        return await job.future

    def stop(self) -> None:
        """Finish the queued requests, close the graph, end the thread."""
        self._queue.put(None)
        self._thread.join(timeout=60)


class AccessLog:
    """One line per request on stderr: client, method, path, status, milliseconds, inference id.

    Plain ASGI (no BaseHTTPMiddleware, which costs a task and a stream per request).
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the application fails before answering

        async def send_and_note(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            client = scope["client"][0] if scope.get("client") else "-"
            inference = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-amzn-sagemaker-inference-id"),
                             None)
            access_log.info('%s "%s %s" %d %.1fms%s', client, scope["method"], scope["path"], status,
                            (time.perf_counter() - started) * 1000, f" inference-id={inference}" if inference else "")


def _setup_access_log() -> None:
    if any(getattr(h, "_kgqa_access", False) for h in access_log.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler._kgqa_access = True  # type: ignore[attr-defined]
    access_log.addHandler(handler)
    access_log.setLevel(logging.INFO)
    access_log.propagate = False


def create_app(
    load: Callable[[], Any], *, limits: Limits, batch_window: int, capture: CaptureWriter | None,
    model_version: str, graph: str, conversations: Any = None,
) -> Any:
    """The FastAPI application. ``load`` builds the Answerer (in the answering thread);
    ``conversations`` (a :class:`~kgqa_cli.answering.interpret.Conversations`) keeps the context
    of requests that carry a session id."""
    counts = {"requests": 0, "answered": 0, "client_errors": 0, "server_errors": 0}
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_app: Any):
        state["worker"] = AnswerWorker(load, batch_window, conversations)
        try:
            yield
        finally:
            state["worker"].stop()
            if capture is not None:
                capture.close()
            log.info("stopped: %d requests answered; capture %s", counts["answered"],
                     capture.stats() if capture else "off")

    app = FastAPI(
        title="kgqa endpoint", version="1",
        description="Chinese knowledge-graph question answering on the SageMaker inference-container contract.",
        lifespan=lifespan,
    )
    _setup_access_log()

    app.add_middleware(AccessLog)

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> Any:
        # A bug: this request gets a 500, the server goes on.
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        counts["server_errors"] += 1
        return JSONResponse({"error": "internal server error"}, status_code=500)

    def error(status: int, message: str, headers: dict | None = None) -> Any:
        if status < 500:
            counts["client_errors"] += 1
        else:
            counts["server_errors"] += 1
        return JSONResponse({"error": message}, status_code=status, headers=headers)

    @app.get("/ping", summary="Health: 200 once the model and graph are loaded, 503 before")
    async def ping() -> Any:
        worker = state.get("worker")
        if worker is None or not worker.ready.is_set():
            detail = f"loading failed: {worker.error}" if worker is not None and worker.error else "loading"
            return JSONResponse({"status": detail}, status_code=503)
        return {"status": "ok", "model_version": model_version, "graph": graph}

    invocation_body = {
        "required": True,
        "content": {
            JSON_TYPE: {"schema": {"oneOf": [
                {"type": "object", "properties": {"question": {"type": "string", "minLength": 1,
                                                               "maxLength": limits.max_question_chars}},
                 "required": ["question"], "additionalProperties": False},
                {"type": "object", "properties": {"questions": {
                    "type": "array", "minItems": 1, "maxItems": limits.max_batch,
                    "items": {"type": "string", "minLength": 1, "maxLength": limits.max_question_chars}}},
                 "required": ["questions"], "additionalProperties": False},
            ]}, "example": {"question": "三度诱惑的导演是谁"}},
            "text/plain": {"schema": {"type": "string", "minLength": 1, "maxLength": limits.max_question_chars},
                           "example": "三度诱惑的导演是谁"},
        },
    }
    error_schema = {"content": {JSON_TYPE: {"schema": {"type": "object", "properties": {"error": {"type": "string"}}}}}}
    responses = {str(code): {"description": text, **error_schema} for code, text in (
        (400, "malformed request"), (406, "unacceptable Accept"), (413, "too large"),
        (415, "unsupported content type"), (503, "still loading"))}

    @app.post("/invocations", summary="Answer a question, or a batch of questions",
              openapi_extra={"requestBody": invocation_body, "responses": responses})
    async def invocations(request: Request) -> Any:
        counts["requests"] += 1
        attributes = request.headers.get(CUSTOM_ATTRIBUTES)
        echo = {}
        if attributes is not None:
            if len(attributes) > 1024 or not all(32 < ord(c) < 127 or c == " " for c in attributes):
                return error(400, f"{CUSTOM_ATTRIBUTES} must be at most 1,024 visible ASCII characters")
            echo[CUSTOM_ATTRIBUTES] = attributes
        session = request.headers.get(SESSION_ID)
        if session is not None:
            if not 0 < len(session) <= 256 or not all(32 < ord(c) < 127 for c in session):
                return error(400, f"{SESSION_ID} must be 1 to 256 visible ASCII characters")
            echo[SESSION_ID] = session
        worker = state["worker"]
        if not worker.ready.is_set():
            return error(503, "the model is still loading" if worker.error is None else f"loading failed: {worker.error}",
                         echo)
        body = await request.body()
        content_type = request.headers.get("content-type", "")
        accept = request.headers.get("accept")
        try:
            if not accepts_json(accept):  # refused before any work is done
                raise BadRequest(406, f"cannot answer in {accept!r}: answers are application/json")
            data = input_fn(body, content_type, limits)
            prediction = await worker.answer(data, session if conversations is not None else None)
            payload = output_fn(prediction, accept)
        except BadRequest as exc:
            return error(exc.status, exc.message, echo)
        counts["answered"] += 1
        if capture is not None:
            capture.record(request_body=body, request_type=content_type, response_body=payload,
                           response_type=JSON_TYPE, inference_id=request.headers.get(INFERENCE_ID))
        return Response(payload, media_type=JSON_TYPE, headers=echo)

    @app.get("/stats", summary="Requests so far and the data capture's counts")
    async def stats() -> Any:
        return {**counts, "model_version": model_version, "graph": graph,
                "capture": capture.stats() if capture is not None else None}

    @app.get("/", include_in_schema=False)
    async def page() -> Any:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def serve(settings: Any, version: Any, *, host: str, port: int) -> dict:
    """Run the endpoint for a registered qa ``version`` until SIGTERM or Ctrl-C; returns the
    final counts. Binds ``host``:``port`` (port 0: any free port, logged)."""
    import uvicorn

    from kgqa_cli.answering.interpret import Conversations
    from kgqa_cli.answering.pipeline import Answerer

    serve_config = settings.serve
    capture = None
    if serve_config.capture.enabled:
        c = serve_config.capture
        capture = CaptureWriter(
            capture_destination(settings), c.endpoint_name, c.variant_name, c.sampling_percentage,
            queue_size=c.queue_size, flush_seconds=c.flush_seconds, json_content_types=tuple(c.json_content_types),
        )

    def load() -> Any:
        answerer = Answerer(settings, qa_model=version.number)
        answerer.warm()  # first-call costs (name dictionary, caches) before /ping says ready
        return answerer

    from kgqa_cli.graph.store import graph_file

    graph = settings.graph.url or str(graph_file(settings.graph, settings.paths))
    app = create_app(
        load, limits=Limits(serve_config.max_question_chars, serve_config.max_batch, serve_config.max_body_bytes),
        batch_window=serve_config.batch_window, capture=capture, model_version=version.name, graph=graph,
        conversations=Conversations(settings.ask.context.max_sessions, settings.ask.context.session_ttl_seconds,
                                    settings.ask.context.max_turns),
    )
    config = uvicorn.Config(app, host=host, port=port, access_log=False, log_level="info", log_config=None,
                            timeout_graceful_shutdown=25)  # SageMaker sends SIGKILL 30 s after SIGTERM
    server = uvicorn.Server(config)
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then raises the signal again with the
    # handler it found installed. That handler is this no-op, so a drained, flushed server
    # exits 0, as the container contract expects, instead of dying by the signal.
    previous = {sig: signal.signal(sig, _stopped) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return {"capture": capture.stats() if capture else None}


def _stopped(signum: int, frame: Any) -> None:
    """The handler uvicorn re-raises a stop signal to after its graceful shutdown: nothing to do."""
