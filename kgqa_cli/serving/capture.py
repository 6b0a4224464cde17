"""Data capture in SageMaker's format, written by a background thread.

Each sampled request becomes one JSON line (the **contract** of SageMaker Model Monitor)::

    <destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/<MM-SS-mmm>-<uuid>.jsonl
    {"captureData": {"endpointInput": {"observedContentType", "mode": "INPUT", "data", "encoding"},
                     "endpointOutput": {"observedContentType", "mode": "OUTPUT", "data", "encoding"}},
     "eventMetadata": {"eventId", "inferenceId" (when the caller gave one), "inferenceTime"},
     "eventVersion": "0"}

Every record has an eventId of its own; the caller's inferenceId is kept as given, even when a
caller gives the same one to several requests (each is still its own record).

A request never waits for the disk: :meth:`CaptureWriter.record` only puts the raw bodies on a
bounded queue (a full queue drops the record and counts it), and the writer thread encodes and
appends them, starting a new file when the hour of ``inferenceTime`` changes. The writer flushes
to the operating system at least every ``flush_seconds``, so a ``kill -9`` loses at most the
records of that last interval; :meth:`close` (on SIGTERM) writes everything still queued.
"""

from __future__ import annotations

import base64
import json
import logging
import queue
import random
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kgqa_cli.settings import KgqaConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Event:
    at: float
    event_id: str
    inference_id: str | None
    request_body: bytes
    request_type: str
    response_body: bytes
    response_type: str


_STOP = object()


def media_type(content_type: str | None) -> str:
    """``application/json; charset=utf-8`` -> ``application/json``."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def capture_destination(settings: KgqaConfig) -> Path:
    """Where captured traffic goes: ``serve.capture.destination``, else ``<workspace>/datacapture``."""
    return Path(settings.serve.capture.destination or settings.paths.datacapture_dir)


def capture_root(settings: KgqaConfig) -> Path:
    """The captured traffic of the configured endpoint variant (SageMaker's layout)."""
    capture = settings.serve.capture
    return capture_destination(settings) / capture.endpoint_name / capture.variant_name


def inference_time(at: float) -> str:
    """UTC time as SageMaker writes ``inferenceTime``: ``2026-11-29T12:00:00Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


class CaptureWriter:
    """Sampled, queued, background-written capture of one endpoint variant's traffic."""

    def __init__(
        self, destination: Path, endpoint: str, variant: str, sampling_percentage: float = 100.0, *,
        queue_size: int = 10_000, flush_seconds: float = 1.0, json_content_types: tuple[str, ...] = ("application/json",),
    ) -> None:
        self.folder = Path(destination) / endpoint / variant
        self.sampling_percentage = sampling_percentage
        self.flush_seconds = flush_seconds
        self.json_content_types = {media_type(t) for t in json_content_types}
        self._queue: queue.Queue[_Event | object] = queue.Queue(maxsize=queue_size)
        self._lock = threading.Lock()
        self.counts = {"sampled": 0, "not_sampled": 0, "dropped": 0, "written": 0, "write_errors": 0}
        self._thread = threading.Thread(target=self._run, name="kgqa-capture", daemon=True)
        self._thread.start()

    def _count(self, key: str) -> None:
        with self._lock:
            self.counts[key] += 1

    def stats(self) -> dict[str, Any]:
        """Counts so far and the queue's length (for /stats and the benchmark)."""
        with self._lock:
            return {**self.counts, "queued": self._queue.qsize(), "folder": str(self.folder),
                    "sampling_percentage": self.sampling_percentage, "flush_seconds": self.flush_seconds}

    def record(
        self, *, request_body: bytes, request_type: str, response_body: bytes, response_type: str,
        inference_id: str | None = None,
    ) -> str | None:
        """Queue one request and its response; returns the capture's eventId, or None when the
        request was not sampled or the queue was full (dropped, counted). Never blocks."""
        if self.sampling_percentage < 100 and random.random() * 100 >= self.sampling_percentage:
            self._count("not_sampled")
            return None
        event = _Event(time.time(), str(uuid.uuid4()), inference_id, request_body, request_type, response_body,
                       response_type)
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self._count("dropped")
            return None
        self._count("sampled")
        return event.event_id

    def _payload(self, body: bytes, content_type: str, mode: str) -> dict[str, str]:
        if media_type(content_type) in self.json_content_types:
            try:
                return {"observedContentType": content_type, "mode": mode, "data": body.decode("utf-8"),
                        "encoding": "JSON"}
            except UnicodeDecodeError:
                pass  # not text after all: kept byte for byte below
        return {"observedContentType": content_type, "mode": mode, "data": base64.b64encode(body).decode("ascii"),
                "encoding": "BASE64"}

    def line(self, event: _Event) -> str:
        """The capture line of one event (the contract's fields, in its order)."""
        metadata = {"eventId": event.event_id}
        if event.inference_id is not None:
            metadata["inferenceId"] = event.inference_id
        metadata["inferenceTime"] = inference_time(event.at)
        return json.dumps({
            "captureData": {
                "endpointInput": self._payload(event.request_body, event.request_type, "INPUT"),
                "endpointOutput": self._payload(event.response_body, event.response_type, "OUTPUT"),
            },
            "eventMetadata": metadata,
            "eventVersion": "0",
        }, ensure_ascii=False) + "\n"

    def _file_for(self, at: float) -> Path:
        stamp = time.gmtime(at)
        hour = self.folder / time.strftime("%Y/%m/%d/%H", stamp)
        name = time.strftime("%M-%S", stamp) + f"-{int(at * 1000) % 1000:03d}-{uuid.uuid4()}.jsonl"
        return hour / name

    def _run(self) -> None:
        handle: IO[str] | None = None
        hour: tuple[int, ...] | None = None
        last_flush = time.monotonic()
        while True:
            try:
                item = self._queue.get(timeout=self.flush_seconds)
            except queue.Empty:
                item = None
            if item is _STOP:
                break
            if isinstance(item, _Event):
                stamp = time.gmtime(item.at)[:4]  # the hour of inferenceTime decides the file
                try:
                    if stamp != hour or handle is None:
                        if handle is not None:
                            handle.close()
                        path = self._file_for(item.at)
                        path.parent.mkdir(parents=True, exist_ok=True)
                        handle, hour = path.open("a", encoding="utf-8"), stamp
                    handle.write(self.line(item))
                    self._count("written")
                except OSError as exc:  # a full or read-only disk must not stop serving
                    self._count("write_errors")
                    log.error("data capture: cannot write to %s: %s", self.folder, exc)
                    handle, hour = None, None
            if handle is not None and time.monotonic() - last_flush >= self.flush_seconds:
                self._flush(handle)
                last_flush = time.monotonic()
        if handle is not None:
            self._flush(handle)
            handle.close()

    def _flush(self, handle: IO[str]) -> None:
        try:
            handle.flush()
        except OSError as exc:
            self._count("write_errors")
            log.error("data capture: cannot flush %s: %s", handle.name, exc)

    def close(self) -> None:
        """Write everything queued, flush and stop the writer (on shutdown)."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
