"""The endpoint's answering thread: it loads the model, owns the graph connection, answers in batches.

One thread owns the :class:`~kgqa_cli.answering.pipeline.Answerer` (the embedded graph's SQLite
connection belongs to the thread that opened it). Requests that arrive together are answered in
one pass of the question model (up to ``serve.batch_window`` questions), which is what lets two
cores keep up with many clients.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from kgqa_cli.serving.handler import Prediction, Questions, predict_fn

if TYPE_CHECKING:
    from kgqa_cli.answering.conversation import Conversation, Conversations
    from kgqa_cli.answering.pipeline import Answerer

log = logging.getLogger(__name__)


class _Job:
    """Questions of one request, waiting for the answering thread."""

    def __init__(self, data: Questions, loop: asyncio.AbstractEventLoop, session: str | None = None) -> None:
        self.data = data
        self.loop = loop
        self.session = session
        self.future: asyncio.Future[Prediction] = loop.create_future()

    def finish(self, outcome: Prediction | BaseException) -> None:
        """Hand the answers (or the error that stopped them) to the request, in its event loop."""

        def settle() -> None:
            if self.future.done():
                return  # the client went away
            if isinstance(outcome, BaseException):
                self.future.set_exception(outcome)
            else:
                self.future.set_result(outcome)

        self.loop.call_soon_threadsafe(settle)


class AnswerWorker:
    """The one thread that loads the model, owns the graph connection and answers in batches."""

    def __init__(self, load: Callable[[], Answerer], batch_window: int,
                 conversations: Conversations | None = None) -> None:
        self._load = load
        self.batch_window = batch_window
        self.conversations = conversations  # by session id; touched by this thread only
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.model: Answerer | None = None
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="kgqa-answer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.model = model = self._load()
        except BaseException as exc:  # reported by /ping and by every request
            self.error = exc
            log.error("the model or graph could not be loaded: %s", exc)
            return
        self.ready.set()
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            jobs, stopping = self._gather(first)
            self._answer(model, jobs)
        model.close()

    def _gather(self, first: _Job) -> tuple[list[_Job], bool]:
        """``first`` and whatever else is waiting, up to the batch window; and whether the stop
        signal came among them."""
        jobs = [first]
        size = len(first.data.questions)
        while size < self.batch_window:  # whatever else is waiting joins this pass
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                return jobs, True
            jobs.append(job)
            size += len(job.data.questions)
        return jobs, False

    def _answer(self, model: Answerer, jobs: list[_Job]) -> None:
        questions = [q for job in jobs for q in job.data.questions]
        conversations: list[Conversation | None] | None = None
        if self.conversations is not None and any(job.session for job in jobs):
            conversations = [self.conversations.get(job.session) if job.session else None
                             for job in jobs for _ in job.data.questions]
        try:
            answers = predict_fn(Questions(questions, True), model, conversations)["answers"]
        except BaseException as exc:
            for job in jobs:
                job.finish(exc)
            return
        start = 0
        for job in jobs:
            count = len(job.data.questions)
            job.finish({"batch": job.data.batch, "answers": answers[start:start + count]})
            start += count

    async def answer(self, data: Questions, session: str | None = None) -> Prediction:
        """Answers of one parsed request (waits for the answering thread); with a ``session``
        id, its questions continue that session's conversation."""
        job = _Job(data, asyncio.get_running_loop(), session)
        self._queue.put(job)
        return await job.future

    def stop(self) -> None:
        """Finish the queued requests, close the graph, end the thread."""
        self._queue.put(None)
        self._thread.join(timeout=60)
