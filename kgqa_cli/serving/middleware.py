"""The endpoint's two ASGI middlewares: the body limit and the access log.

Both are plain ASGI (no BaseHTTPMiddleware, which costs a task and a stream per request).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from kgqa_cli.serving.headers import MAX_INFERENCE_ID_CHARS, inference_id_problem

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

JSON_TYPE = "application/json"
access_log = logging.getLogger("kgqa.access")


class BodyLimit:
    """Refuse a request body over ``max_bytes`` with 413, holding at most ``max_bytes`` of it.

    A declared Content-Length over the limit is refused before any byte is read; a chunked body
    is counted chunk by chunk and refused as soon as it passes the limit. The body that fits is
    handed on to the application in one piece. (After the 413, uvicorn reads and discards
    whatever the client still sends, so the client gets its answer.)
    """

    def __init__(self, app: ASGIApp, max_bytes: int, on_refused: Callable[[], None] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.on_refused = on_refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and declared.strip().isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send, f"the body has {int(declared)} bytes, over the limit of {self.max_bytes}")
            return
        body = await self._read_body(receive, send)
        if body is None:
            return
        handed_on = False

        async def replay() -> Message:
            nonlocal handed_on
            if not handed_on:
                handed_on = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # later calls wait for the disconnect, as the server's would

        await self.app(scope, replay, send)

    async def _read_body(self, receive: Receive, send: Send) -> bytes | None:
        """The whole body, or None when it was refused or the client went away before its end."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None  # the client went away before its body was complete: no one to answer
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send, f"the body is over the limit of {self.max_bytes} bytes")
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _refuse(self, send: Send, message: str) -> None:
        if self.on_refused is not None:
            self.on_refused()
        payload = json.dumps({"error": message}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", JSON_TYPE.encode()), (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})


class AccessLog:
    """One line per request on stderr: client, method, path, status, milliseconds, inference id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the application fails before answering

        async def send_and_note(message: Message) -> None:
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


class _AccessLogHandler(logging.StreamHandler[TextIO]):
    """The access log's own handler, so that it is added once however many apps are made."""


def setup_access_log() -> None:
    """The access log's lines go to stderr as they are."""
    if any(isinstance(h, _AccessLogHandler) for h in access_log.handlers):
        return
    handler = _AccessLogHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    access_log.addHandler(handler)
    access_log.setLevel(logging.INFO)
    access_log.propagate = False
