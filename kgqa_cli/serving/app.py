"""The local endpoint: FastAPI on uvicorn, on the contract of SageMaker's inference containers.

``GET /ping`` (200 once the model and graph are loaded, 503 before), ``POST /invocations`` (the
four functions of :mod:`kgqa_cli.serving.handler`, :mod:`kgqa_cli.serving.invocations`), ``GET /``
(the chat page, assets under ``/static``), ``POST /feedback`` (a person's rating of an answer,
:mod:`kgqa_cli.serving.feedback`), ``GET /stats`` (requests and capture counts), ``/openapi.json``
(:mod:`kgqa_cli.serving.routes`). There is no ``/docs`` page: Swagger UI would be fetched from a
CDN, which an offline host cannot reach.

A request body is counted as it arrives and refused with 413 once it passes
``serve.max_body_bytes`` (at once when its Content-Length says so), so a huge or endless body
never sits in memory (:mod:`kgqa_cli.serving.middleware`).

One thread owns the :class:`~kgqa_cli.answering.pipeline.Answerer` and answers in batches
(:mod:`kgqa_cli.serving.answer_worker`). The answering thread checks before each pass whether
``kgqa bulkload --replace`` swapped the graph file or ``--merge`` added to it, and reads the new
graph's names without a restart.

Capture is recorded after the answer is sent to the queue of a background writer: it never
slows or fails a request. On SIGTERM uvicorn stops accepting, finishes the requests in flight,
then the shutdown here stops the answering thread and writes every queued capture record.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any

from kgqa_cli.serving.capture import CaptureWriter, capture_destination
from kgqa_cli.serving.handler import Limits

if TYPE_CHECKING:
    import socket

    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    from kgqa_cli.answering.conversation import Conversations
    from kgqa_cli.answering.pipeline import Answerer
    from kgqa_cli.mlops.registry import ModelVersion
    from kgqa_cli.serving.endpoint import Endpoint
    from kgqa_cli.serving.feedback import FeedbackWriter
    from kgqa_cli.settings import KgqaConfig

log = logging.getLogger(__name__)


def create_app(
    load: Callable[[], Answerer], *, limits: Limits, batch_window: int, capture: CaptureWriter | None,
    model_version: str, graph: str, conversations: Conversations | None = None,
    feedback: FeedbackWriter | None = None,
) -> FastAPI:
    """The FastAPI application. ``load`` builds the Answerer (in the answering thread);
    ``conversations`` keeps the context of requests that carry a session id; ``feedback`` takes
    the ratings of ``POST /feedback``."""
    from fastapi import FastAPI

    from kgqa_cli.serving.endpoint import Endpoint
    from kgqa_cli.serving.invocations import register_invocations
    from kgqa_cli.serving.middleware import AccessLog, BodyLimit, setup_access_log
    from kgqa_cli.serving.routes import register_feedback, register_page, register_ping, register_stats

    endpoint = Endpoint(limits, capture, model_version, graph, conversations, feedback)
    app = FastAPI(
        title="kgqa endpoint", version="1",
        description="Chinese knowledge-graph question answering on the SageMaker inference-container contract.",
        lifespan=_lifespan(endpoint, load, batch_window),
        docs_url=None, redoc_url=None,  # their pages load Swagger UI from a CDN
    )
    setup_access_log()
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes, on_refused=endpoint.body_refused)
    app.add_middleware(AccessLog)  # added last, so outermost: it logs the 413s of BodyLimit too
    _handle_bugs(app, endpoint)
    register_ping(app, endpoint)
    register_invocations(app, endpoint)
    register_feedback(app, endpoint)
    register_stats(app, endpoint)
    register_page(app)
    return app


def _lifespan(endpoint: Endpoint, load: Callable[[], Answerer],
              batch_window: int) -> Callable[[FastAPI], Any]:
    """Start the answering thread with the application; at its end, stop it and flush the capture."""
    from kgqa_cli.serving.answer_worker import AnswerWorker

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        endpoint.worker = worker = AnswerWorker(load, batch_window, endpoint.conversations)
        capture = endpoint.capture
        try:
            yield
        finally:
            worker.stop()
            if capture is not None:
                capture.close()
            log.info("stopped: %d requests answered; capture %s", endpoint.counts["answered"],
                     capture.stats() if capture else "off")

    return lifespan


def _handle_bugs(app: FastAPI, endpoint: Endpoint) -> None:
    """A bug gets its request a 500, and the server goes on."""
    from fastapi.responses import JSONResponse

    async def bug(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        endpoint.counts["server_errors"] += 1
        return JSONResponse({"error": "internal server error"}, status_code=500)

    app.add_exception_handler(Exception, bug)


def listen(host: str, port: int) -> socket.socket:
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


def serve(settings: KgqaConfig, version: ModelVersion, *, host: str, port: int,
          listening: socket.socket | None = None) -> dict[str, Any]:
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

    def load() -> Answerer:
        answerer = Answerer(settings, qa_model=version.number)
        answerer.warm()  # first-call costs (name dictionary, caches) before /ping says ready
        return answerer

    from kgqa_cli.graph.graph_file import graph_file
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


def _stopped(signum: int, frame: FrameType | None) -> None:
    """The handler uvicorn re-raises a stop signal to after its graceful shutdown: nothing to do."""
