"""The local endpoint: FastAPI on uvicorn, on the contract of SageMaker's inference containers.

``GET /ping`` (200 once the model and graph are loaded, 503 before), ``POST /invocations`` (the
four functions of :mod:`kgqa_cli.serving.handler`), ``GET /`` (the chat page, assets under
``/static``), ``POST /feedback`` (a person's rating of an answer, :mod:`kgqa_cli.serving.feedback`),
``GET /stats`` (requests and capture counts), ``/openapi.json``. There is no
``/docs`` page: Swagger UI would be fetched from a CDN, which an offline host cannot reach.

A request body is counted as it arrives and refused with 413 once it passes
``serve.max_body_bytes`` (at once when its Content-Length says so), so a huge or endless body
never sits in memory.

One thread owns the :class:`~kgqa_cli.answering.pipeline.Answerer` (the embedded graph's SQLite
connection belongs to the thread that opened it). Requests that arrive together are answered in
one pass of the question model (up to ``serve.batch_window`` questions), which is what lets two
cores keep up with many clients. The answering thread checks before each pass whether
``kgqa bulkload --replace`` swapped the graph file or ``--merge`` added to it, and reads the new
graph's names without a restart.

Capture is recorded after the answer is sent to the queue of a background writer: it never
slows or fails a request. On SIGTERM uvicorn stops accepting, finishes the requests in flight,
then the shutdown here stops the answering thread and writes every queued capture record.
"""

from __future__ import annotations

import asyncio
import json
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

from kgqa_cli.errors import KgqaError
from kgqa_cli.serving.capture import CaptureWriter, media_type
from kgqa_cli.serving.config import capture_destination
from kgqa_cli.serving.handler import (
    BadRequest,
    Limits,
    Questions,
    accepts_json,
    check_json_nesting,
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
# SageMaker's InvokeEndpoint takes an InferenceId of 1 to 64 printable characters; the id is
# written into every capture line, so the endpoint holds callers to the same bound.
MAX_INFERENCE_ID_CHARS = 64


def inference_id_problem(value: str) -> str | None:
    """Why an ``X-Amzn-SageMaker-Inference-Id`` value is refused, or None when it is fine."""
    if not 0 < len(value) <= MAX_INFERENCE_ID_CHARS:
        return f"{INFERENCE_ID} must be 1 to {MAX_INFERENCE_ID_CHARS} characters, not {len(value)}"
    if value[0] == " " or not all(32 <= ord(c) < 127 for c in value):
        return f"{INFERENCE_ID} must be visible ASCII characters (spaces allowed after the first)"
    return None


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


class BodyLimit:
    """Refuse a request body over ``max_bytes`` with 413, holding at most ``max_bytes`` of it.

    Plain ASGI: a declared Content-Length over the limit is refused before any byte is read; a
    chunked body is counted chunk by chunk and refused as soon as it passes the limit. The body
    that fits is handed on to the application in one piece. (After the 413, uvicorn reads and
    discards whatever the client still sends, so the client gets its answer.)
    """

    def __init__(self, app: Any, max_bytes: int, on_refused: Callable[[], None] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.on_refused = on_refused

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and declared.strip().isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send, f"the body has {int(declared)} bytes, over the limit of {self.max_bytes}")
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before its body was complete: no one to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send, f"the body is over the limit of {self.max_bytes} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        del chunks
        handed_on = False

        async def replay() -> dict:
            nonlocal handed_on
            if not handed_on:
                handed_on = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # later calls wait for the disconnect, as the server's would

        await self.app(scope, replay, send)

    async def _refuse(self, send: Any, message: str) -> None:
        import json

        if self.on_refused is not None:
            self.on_refused()
        payload = json.dumps({"error": message}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", JSON_TYPE.encode()), (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})


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
            if inference is not None and inference_id_problem(inference):
                inference = ascii(inference[:MAX_INFERENCE_ID_CHARS])  # refused; logged short and escaped
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
    model_version: str, graph: str, conversations: Any = None, feedback: Any = None,
) -> Any:
    """The FastAPI application. ``load`` builds the Answerer (in the answering thread);
    ``conversations`` (a :class:`~kgqa_cli.answering.interpret.Conversations`) keeps the context
    of requests that carry a session id; ``feedback`` (a
    :class:`~kgqa_cli.serving.feedback.FeedbackWriter`) takes the ratings of ``POST /feedback``."""
    from kgqa_cli.serving.feedback import RecentIds, parse_rating

    counts = {"requests": 0, "answered": 0, "client_errors": 0, "server_errors": 0, "ratings": 0}
    answered_ids = RecentIds()
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
        lifespan=lifespan, docs_url=None, redoc_url=None,  # their pages load Swagger UI from a CDN
    )
    _setup_access_log()

    def body_refused() -> None:
        counts["requests"] += 1
        counts["client_errors"] += 1

    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes, on_refused=body_refused)
    app.add_middleware(AccessLog)  # added last, so outermost: it logs the 413s of BodyLimit too

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
        inference_id = request.headers.get(INFERENCE_ID)
        if inference_id is not None:
            problem = inference_id_problem(inference_id)
            if problem is not None:
                return error(400, problem, echo)
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
                           response_type=JSON_TYPE, inference_id=inference_id)
        if inference_id is not None:
            answered_ids.add(inference_id)
        return Response(payload, media_type=JSON_TYPE, headers=echo)

    rating_body = {"required": True, "content": {JSON_TYPE: {"schema": {
        "type": "object", "additionalProperties": False, "required": ["inference_id", "rating"],
        "properties": {"inference_id": {"type": "string", "minLength": 1, "maxLength": MAX_INFERENCE_ID_CHARS},
                       "rating": {"enum": ["up", "down"]},
                       "correct_answer": {"type": ["string", "null"], "maxLength": 200},
                       "question": {"type": ["string", "null"], "maxLength": 500}}},
        "example": {"inference_id": "chat-3f2a", "rating": "down", "correct_answer": "何藩"}}}}

    @app.post("/feedback", summary="Rate an answer: up or down, and optionally what the right answer is",
              openapi_extra={"requestBody": rating_body, "responses": responses})
    async def rate(request: Request) -> Any:
        """A person's 👍 or 👎 on an answer this endpoint gave (named by the inference id it was
        asked with), stored beside the data capture; 404 for an id it did not answer lately."""
        counts["requests"] += 1
        if feedback is None:
            return error(404, "this endpoint takes no feedback")
        if media_type(request.headers.get("content-type")) != JSON_TYPE:
            return error(415, "feedback is application/json")
        try:
            text = (await request.body()).decode("utf-8")
            check_json_nesting(text)
            row = parse_rating(json.loads(text), inference_id_problem)
        except BadRequest as exc:
            return error(exc.status, exc.message)
        except UnicodeDecodeError:
            return error(400, "the body is not UTF-8")
        except ValueError as exc:  # json.JSONDecodeError is one
            return error(400, str(exc))
        if row["inferenceId"] not in answered_ids:
            return error(404, "no answer with this inference_id: rate an answer this endpoint gave")
        try:
            await asyncio.to_thread(feedback.append, row)
        except (OSError, KgqaError) as exc:  # a full disk, a folder that cannot be written
            log.error("cannot store feedback in %s: %s", feedback.path, exc)
            return error(500, "the feedback could not be stored")
        counts["ratings"] += 1
        return {"stored": True, "inference_id": row["inferenceId"], "rating": row["rating"]}

    @app.get("/stats", summary="Requests so far and the data capture's counts")
    async def stats() -> Any:
        return {**counts, "model_version": model_version, "graph": graph,
                "capture": capture.stats() if capture is not None else None}

    @app.get("/", include_in_schema=False)
    async def page() -> Any:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def listen(host: str, port: int) -> Any:
    """A socket listening on ``host``:``port`` (port 0: any free port; ``getsockname()`` tells
    which). Taken before the model loads, so an address in use is reported at once, and
    connections queue while the model loads. Raises :class:`~kgqa_cli.errors.ConfigError` (a bad
    ``--host``/``--port``) naming the address."""
    import socket

    from kgqa_cli.errors import ConfigError

    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigError(f"{host}: cannot listen: not a known host name or address ({exc})") from exc
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # As uvicorn binds its own sockets: a port left in TIME_WAIT by a previous run is reusable
        # (a port another process listens on is still refused).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        raise ConfigError(f"{host}:{port}: cannot listen: {reason.lower()}",
                          hint="choose another --port, or --port 0 for any free one") from exc
    sock.set_inheritable(True)
    return sock


def serve(settings: Any, version: Any, *, host: str, port: int, listening: Any = None) -> dict:
    """Run the endpoint for a registered qa ``version`` until SIGTERM or Ctrl-C; returns the
    final counts. Serves on ``listening`` (a socket from :func:`listen`), else binds
    ``host``:``port`` (port 0: any free port, logged)."""
    import uvicorn

    from kgqa_cli.answering.conversation import Conversations
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
    from kgqa_cli.serving.feedback import FeedbackWriter, feedback_file

    c = serve_config.capture
    ratings = FeedbackWriter(feedback_file(capture_destination(settings), c.endpoint_name, c.variant_name))
    graph = settings.graph.url or str(graph_file(settings.graph, settings.paths))
    app = create_app(
        load, limits=Limits(serve_config.max_question_chars, serve_config.max_batch, serve_config.max_body_bytes),
        batch_window=serve_config.batch_window, capture=capture, model_version=version.name, graph=graph,
        conversations=Conversations(settings.ask.context.max_sessions, settings.ask.context.session_ttl_seconds,
                                    settings.ask.context.max_turns),
        feedback=ratings,
    )
    config = uvicorn.Config(app, host=host, port=port, access_log=False, log_level="info", log_config=None,
                            timeout_graceful_shutdown=25)  # SageMaker sends SIGKILL 30 s after SIGTERM
    server = uvicorn.Server(config)
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then raises the signal again with the
    # handler it found installed. That handler is this no-op, so a drained, flushed server
    # exits 0, as the container contract expects, instead of dying by the signal.
    previous = {sig: signal.signal(sig, _stopped) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.run(sockets=[listening] if listening is not None else None)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return {"capture": capture.stats() if capture else None}


def _stopped(signum: int, frame: Any) -> None:
    """The handler uvicorn re-raises a stop signal to after its graceful shutdown: nothing to do."""
