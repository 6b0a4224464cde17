"""`kgqa ask`: question -> intent and slots -> linked entity -> graph traversal -> answers.

:class:`Answerer` loads the question model and opens the graph once; :meth:`Answerer.answer` is
then cheap enough to serve (the HTTP endpoint reuses it). The traversal is built with
gremlinpython steps whose values are bound arguments, so question text never becomes query text.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kgqa_cli.errors import MissingArtifactError
from kgqa_cli.text import valid_text
from kgqa_cli.understanding.templates import NONE_INTENT

log = logging.getLogger(__name__)

EMPTY = "empty question"
NO_INTENT = "no intent above the threshold"
OUT_OF_SCOPE = "not a question the graph answers"
NO_ENTITY = "no entity found in the question"
NOT_IN_GRAPH = "entity not in the graph"
NO_RELATION = "no such relation"


@dataclass
class Answer:
    """Everything `kgqa ask` shows about one question."""

    question: str
    intent: str | None = None
    confidence: float = 0.0
    slots: dict[str, list[str]] = field(default_factory=dict)
    alternatives: list[dict] = field(default_factory=list)  # the model's top intents: [{"intent", "confidence"}]
    entity: dict | None = None  # {"mention", "name", "method", "similarity"}
    predicate: str | None = None
    direction: str | None = None
    query: str | None = None
    answers: list[str] = field(default_factory=list)
    reason: str | None = None  # why there is no answer (None when answered)
    detail: str | None = None
    model_version: str | None = None
    elapsed_ms: float = 0.0

    @property
    def answered(self) -> bool:
        return self.reason is None

    def to_json(self) -> dict:
        """A JSON-ready dict (the serving contract's fields plus details)."""
        data = asdict(self)
        data["answered"] = self.answered
        data["entities"] = [self.entity] if self.entity else []
        return data


def _load_model_dir(folder: Path) -> tuple[Any, str]:
    """A question model from its files, and its version name: from the registry record beside
    the folder when there is one, else from ``KGQA_MODEL_VERSION`` (a serving container)."""
    import json
    import os

    from kgqa_cli.mlops.registry import model_files
    from kgqa_cli.understanding.model import QuestionModel

    with model_files(folder):
        model = QuestionModel.load(folder)
    package = folder.parent / "package.json"
    name = os.environ.get("KGQA_MODEL_VERSION") or f"qa/{folder.name}"
    if package.is_file():
        with model_files(folder.parent):
            name = json.loads(package.read_text(encoding="utf-8")).get("name", name)
    return model, name


class Answerer:
    """The warm question-answering pipeline: one model, one graph connection.

    Not thread-safe: the embedded graph's SQLite connection belongs to the thread that opened it,
    so a server gives each Answerer one thread (see ``kgqa_cli.serving``).
    """

    def __init__(self, settings: Any, qa_model: str | int | None = None, *, model_dir: Path | None = None) -> None:
        """Open the graph and load the question model: the registered version ``qa_model`` (or
        ``ask.qa_model``, or the newest usable one), or the model files in ``model_dir`` as a
        serving container finds them."""
        from kgqa_cli.answering.linking import EntityLinker
        from kgqa_cli.graph.store import GraphStore
        from kgqa_cli.torch_setup import set_threads
        from kgqa_cli.understanding.training import load_registered

        self.config = settings.ask
        set_threads(self.config.threads)
        version = qa_model if qa_model is not None else self.config.qa_model
        # The graph first: checking it is cheap, loading the model is not.
        self.store = GraphStore(settings.graph, settings.paths, create=False)
        try:
            if model_dir is not None:
                self.model, self.version_name = _load_model_dir(Path(model_dir))
            else:
                self.model, registered = load_registered(settings.paths, version)
                self.version_name = registered.name
        except MissingArtifactError as exc:
            self.store.close()
            raise MissingArtifactError(
                exc.message, hint="run `make all`, or `kgqa questions` then `kgqa train qa`"
            ) from exc
        except BaseException:
            self.store.close()
            raise
        self.linker = EntityLinker(self.store.g, self.config.fuzzy_threshold)

    def _follow_graph_replacement(self) -> None:
        from kgqa_cli.answering.linking import EntityLinker

        if self.store.refresh():
            self.linker = EntityLinker(self.store.g, self.config.fuzzy_threshold)

    def close(self) -> None:
        """Close the graph connection."""
        self.store.close()

    def __enter__(self) -> Answerer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def answer(self, question: str) -> Answer:
        """Answer one question; a question that cannot be answered gets a ``reason``.

        Any string is taken: lone surrogates (undecodable bytes of an argument) become U+FFFD, so
        the answer always encodes as UTF-8 JSON. A graph replaced since the last question (a
        ``bulkload --replace``) is picked up first.
        """
        return self.answer_many([question])[0]

    def answer_many(self, questions: list[str]) -> list[Answer]:
        """Answer several questions with one pass of the question model (a server's batch);
        the same answers as :meth:`answer` one by one. ``elapsed_ms`` is the time until each
        answer was ready."""
        from kgqa_cli.understanding.model import predict_batch

        started = time.perf_counter()
        self._follow_graph_replacement()
        texts = [valid_text(question) for question in questions]
        results = [Answer(question=text, model_version=self.version_name) for text in texts]
        asked = [index for index, text in enumerate(texts) if text.strip()]
        predictions = (
            predict_batch(self.model, [texts[i].strip() for i in asked], top=self.config.intent_alternatives)
            if asked else []
        )
        for index, prediction in zip(asked, predictions, strict=True):
            self._resolve(texts[index], prediction, results[index])
            results[index].elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
        for result in results:
            if not result.question.strip():
                result.reason = EMPTY
                result.elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
        return results

    def _resolve(self, question: str, prediction: Any, result: Answer) -> None:
        """From the model's prediction to the answer: thresholds, entity linking, traversals."""
        result.intent, result.confidence = prediction.intent, round(prediction.confidence, 4)
        result.slots = prediction.slots
        result.alternatives = [{"intent": name, "confidence": round(p, 4)} for name, p in prediction.ranked]
        if prediction.intent == NONE_INTENT:
            result.reason = OUT_OF_SCOPE
            result.detail = f"out-of-scope intent {NONE_INTENT} at {prediction.confidence:.2f}"
            return
        if prediction.confidence < self.config.min_intent_confidence:
            result.reason = NO_INTENT
            result.detail = (
                f"best intent {prediction.intent} at {prediction.confidence:.2f}, "
                f"threshold {self.config.min_intent_confidence}"
            )
            return
        # Close intents (面积/占地面积, 总部地点/所在城市) are told apart by the graph: when the best
        # intent finds nothing for the entity, the next likely ones are tried before giving up.
        candidates = [(prediction.intent, prediction.confidence)] + [
            (intent, p) for intent, p in prediction.ranked[1:]
            if intent != NONE_INTENT and p >= self.config.min_alternative_confidence
        ]
        links: dict[str, Any] = {}
        first_failure: Answer | None = None
        for intent, confidence in candidates:
            attempt = Answer(question=question, intent=intent, confidence=round(confidence, 4))
            self._try_intent(intent, prediction.slots, links, attempt)
            if attempt.answered:
                if intent != prediction.intent:
                    log.info("%s found nothing for %r; answered as %s", prediction.intent, question, intent)
                self._copy_outcome(attempt, result, with_intent=True)
                return
            first_failure = first_failure or attempt
        self._copy_outcome(first_failure, result, with_intent=False)

    @staticmethod
    def _copy_outcome(source: Answer, target: Answer, with_intent: bool) -> None:
        for name in ("entity", "predicate", "direction", "query", "answers", "reason", "detail"):
            setattr(target, name, getattr(source, name))
        if with_intent:
            target.intent, target.confidence = source.intent, source.confidence

    def _try_intent(self, intent: str, slots: dict[str, list[str]], links: dict[str, Any], result: Answer) -> None:
        """Link the intent's entity and run its routes in order; fills ``result``."""
        from kgqa_cli.graph import queries

        routes = self.model.routes.get(intent, [])
        if not routes:
            result.reason = NO_RELATION
            result.detail = f"intent {intent} has no graph route"
            return
        wanted = "object" if routes[0]["direction"] == "reverse" else "subject"
        mentions = slots.get(wanted) or [m for ms in slots.values() for m in ms]
        if not mentions:
            result.reason = NO_ENTITY
            return
        link = None
        for mention in mentions:
            if mention not in links:
                links[mention] = self.linker.link(mention)
            link = links[mention]
            if link is not None:
                break
        if link is None:
            result.reason = NOT_IN_GRAPH
            result.detail = f"no entity named {mentions[0]!r} or close to it"
            return
        result.entity = asdict(link)
        first_query = None
        for route in routes:
            if route["direction"] == "reverse":
                traversal = queries.subjects_of(self.store.g, link.name, route["predicate"])
            else:
                traversal = queries.objects_of(self.store.g, link.name, route["predicate"])
            query = queries.describe(traversal)
            first_query = first_query or (query, route)
            rows = queries.run(traversal)
            if rows:
                names: list[str] = []
                for row in rows:
                    if row["name"] not in names:
                        names.append(row["name"])
                result.answers = names[: self.config.max_answers]
                result.query, result.predicate, result.direction = query, route["predicate"], route["direction"]
                return
        query, route = first_query
        result.query, result.predicate, result.direction = query, route["predicate"], route["direction"]
        result.reason = NO_RELATION
        result.detail = f"{link.name} has no {route['predicate']} ({route['direction']}) in the graph"
