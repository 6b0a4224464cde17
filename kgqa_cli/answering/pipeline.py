"""`kgqa ask`: question -> intent and slots -> linked entity -> graph traversal -> answers.

:class:`Answerer` loads the question model and opens the graph once; :meth:`Answerer.answer` is
then cheap enough to serve (the HTTP endpoint reuses it). The traversal is built with
gremlinpython steps whose values are bound arguments, so question text never becomes query text.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from kgqa_cli.answering.answer import Answer, ClarifyOption
from kgqa_cli.answering.reasons import (  # noqa: F401  (the codes are part of this module's interface)
    AMBIGUOUS,
    EMPTY,
    NO_ENTITY,
    NO_INTENT,
    NO_REFERENT,
    NO_RELATION,
    NOT_IN_GRAPH,
    OUT_OF_SCOPE,
    PARTIAL,
)
from kgqa_cli.text import valid_text
from kgqa_cli.understanding.templates import NONE_INTENT

if TYPE_CHECKING:
    from kgqa_cli.answering.candidates import EntityCandidate
    from kgqa_cli.answering.conversation import Conversation
    from kgqa_cli.answering.interpret import Reading, Routes, Understanding
    from kgqa_cli.settings import KgqaConfig
    from kgqa_cli.understanding.runtime import Prediction, QuestionBackend, QuestionRuntime

log = logging.getLogger(__name__)


class RoutedModel(Protocol):
    """What answering reads of a question model: the graph routes of its intents."""

    @property
    def routes(self) -> Routes: ...


def _load_model_dir(folder: Path) -> tuple[QuestionRuntime, str]:
    """A question model from its files (the numpy runtime), and its version name: from the
    registry record beside the folder when there is one, else from ``KGQA_MODEL_VERSION`` (a
    serving container)."""
    import json
    import os

    from kgqa_cli.mlops.registry import model_files
    from kgqa_cli.understanding.runtime import QuestionRuntime

    with model_files(folder):
        model = QuestionRuntime.load(folder)
    package = folder.parent / "package.json"
    name = os.environ.get("KGQA_MODEL_VERSION") or f"qa/{folder.name}"
    if package.is_file():
        with model_files(folder.parent):
            name = json.loads(package.read_text(encoding="utf-8")).get("name", name)
    return model, name


def configured_lexicon(settings: KgqaConfig) -> dict[str, list[str]]:
    """The predicate-synonym lexicon of the configured templates file (``synonyms``), or none
    when the file is not there (a serving container carries the model's own copy)."""
    from kgqa_cli.understanding.templates import load_templates

    path = Path(settings.qa.questions.templates)
    return load_templates(path).synonyms if path.is_file() else {}


def schema_types(path: Path) -> dict[str, tuple[set[str], set[str], set[str]]]:
    """predicate -> (its subject types, its object types, its slots' types) from a workspace's
    schema file; empty when there is none (a serving container): hops are then judged by the
    graph alone."""
    from kgqa_cli.data.schema import Schema
    from kgqa_cli.errors import KgqaError

    if not path.is_file():
        return {}
    try:
        schema = Schema.load(path)
    except KgqaError as exc:
        log.warning("%s: schema not read (%s); hops are judged by the graph alone", path, exc)
        return {}
    types: dict[str, tuple[set[str], set[str], set[str]]] = {}
    for relation in schema.relations:
        subjects, objects, slots = types.setdefault(relation.predicate, (set(), set(), set()))
        subjects.add(relation.subject_type)
        objects.add(relation.object_value_type)
        slots.update(kind for name, kind in relation.object_type if name != "@value")
    return types


class Answerer:
    """The warm question-answering pipeline: one model, one graph connection.

    Not thread-safe: the embedded graph's SQLite connection belongs to the thread that opened it,
    so a server gives each Answerer one thread (see ``kgqa_cli.serving``).
    """

    def __init__(self, settings: KgqaConfig, qa_model: str | int | None = None, *, model_dir: Path | None = None) -> None:
        """Open the graph and load the question model: the registered version ``qa_model`` (or
        ``ask.qa_model``, or the newest usable one), or the model files in ``model_dir`` as a
        serving container finds them."""
        from kgqa_cli.graph.store import GraphStore
        from kgqa_cli.understanding.runtime import load_registered_runtime

        self.config = settings.ask
        version = qa_model if qa_model is not None else self.config.qa_model
        # The graph first: checking it is cheap, loading the model is not.
        self.store = GraphStore(settings.graph, settings.paths, create=False)
        try:
            if model_dir is not None:
                model, self.version_name = _load_model_dir(Path(model_dir))
            else:
                model, registered = load_registered_runtime(settings.paths, version)
                self.version_name = registered.name
        except BaseException:  # close the graph whatever failed; the error (and its hint) goes on as it is
            self.store.close()
            raise
        self.model: RoutedModel = model
        # What predicts: the loaded model; None in an answerer handed its understanding by an endpoint.
        self.backend: QuestionBackend | None = model
        self.lexicon = model.lexicon or configured_lexicon(settings)
        self.schema_types = schema_types(settings.paths.schema_file)
        self._open_interpreter()

    def _open_interpreter(self) -> None:
        from kgqa_cli.answering.compose import Composer
        from kgqa_cli.answering.interpret import Interpreter
        from kgqa_cli.answering.linking import EntityLinker

        # Read before the caches fill: a load landing meanwhile is then seen as a change.
        self._graph_changes = self.store.changes()
        self.linker = EntityLinker(self.store.g, self.config.fuzzy_threshold)
        self.interpreter = Interpreter(self.store.g, self.config, self.linker, self.model.routes, self.lexicon)
        self.composer = Composer(self.interpreter, self.schema_types)

    def _follow_graph_replacement(self) -> None:
        """Drop the caches of the graph's names and profiles when the graph changed since they
        were read: a file swapped in by ``bulkload --replace`` (reopened), or a change counted in
        place by ``bulkload --merge`` (a one-row read per call)."""
        replaced = self.store.refresh()
        changes = self.store.changes()
        if not replaced and (changes is None or changes == self._graph_changes):
            return
        from kgqa_cli.answering.linking import EntityLinker

        if not replaced:
            log.info("%s changed (change %s): re-reading its names", self.store.location, changes)
        self._graph_changes = changes
        # The lexicon and reference automata stay; the graph's names and profiles are re-read.
        self.linker = EntityLinker(self.store.g, self.config.fuzzy_threshold)
        self.interpreter.follow_graph(self.store.g, self.linker)

    def warm(self) -> None:
        """Pay the first question's one-off costs now: the graph's name dictionary, the model's
        first pass."""
        self.interpreter.warm()
        self.answer("预热")

    def close(self) -> None:
        """Close the graph connection."""
        self.store.close()

    def __enter__(self) -> Answerer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def answer(self, question: str, conversation: Conversation | None = None) -> Answer:
        """Answer one question; a question that cannot be answered gets a ``reason``.

        Any string is taken: lone surrogates (undecodable bytes of an argument) become U+FFFD, so
        the answer always encodes as UTF-8 JSON. A graph replaced or merged into since the last
        question (``bulkload --replace`` or ``--merge``) is picked up first. With a :class:`~kgqa_cli.answering.conversation.
        Conversation`, a referring word (他, 这部电影) may stand for an entity of its earlier turns,
        and the answer becomes its next turn.
        """
        return self.answer_many([question], [conversation])[0]

    def answer_many(self, questions: list[str], conversations: Sequence[Conversation | None] | None = None) -> list[Answer]:
        """Answer several questions with one pass of the question model (a server's batch);
        the same answers as :meth:`answer` one by one. ``elapsed_ms`` is the time until each
        answer was ready. ``conversations[i]`` (or None) is the conversation of question i."""
        from kgqa_cli.understanding.runtime import predict_batch

        started = time.perf_counter()
        self._follow_graph_replacement()
        texts = [valid_text(question) for question in questions]
        conversations = conversations or [None] * len(texts)
        results = [Answer(question=text, model_version=self.version_name, language=self.config.language)
                   for text in texts]
        asked = [index for index, text in enumerate(texts) if text.strip()]
        predictions: list[Prediction] = []
        if asked:
            if self.backend is None:  # an UnderstoodAnswerer is handed each understanding instead
                raise RuntimeError("this answerer has no question model to predict with")
            predictions = predict_batch(self.backend, [texts[i].strip() for i in asked], top=None)
        for index, prediction in zip(asked, predictions, strict=True):
            self._resolve(texts[index].strip(), prediction, results[index], conversations[index])
            results[index].elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
        for result in results:
            if not result.question.strip():
                result.reason = EMPTY
                result.elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
        return results

    def _resolve(self, question: str, prediction: Understanding, result: Answer,
                 conversation: Conversation | None = None) -> None:
        """From the model's prediction to the answer: the readings the graph allows, the best one
        answered by its traversal; the conversation (if any) remembers the turn."""
        from kgqa_cli.answering.candidates import candidate_json, explained_spans
        from kgqa_cli.answering.hops import run_composition
        from kgqa_cli.answering.interpret import reading_summary

        shown = self.config.interpretation.show_readings
        result.intent, result.confidence = prediction.intent, round(prediction.confidence, 4)
        result.slots = prediction.slots
        result.alternatives = [{"intent": name, "confidence": round(p, 4)} for name, p in prediction.ranked[:3]]
        tags = prediction.tags or _tags_of(question, prediction.slots)
        candidates, notes = self.interpreter.entity_candidates(question, tags, prediction.slots, conversation)
        readings = self.interpreter.readings(question, prediction, candidates)
        result.readings = reading_summary(readings, shown)
        best = readings[0] if readings else None
        try:
            if self.interpreter.out_of_scope(prediction, best):
                p_none = dict(prediction.ranked).get(NONE_INTENT, 0.0)
                result.reason = OUT_OF_SCOPE
                result.detail = f"out-of-scope intent {NONE_INTENT} at {p_none:.2f} and no keyword of a relation"
                return
            if best is None:
                self._explain_no_reading(result, prediction, candidates, notes)
                result.shape = self.composer.words.shape_of_words(question)
                return
            result.entity = candidate_json(best.entity)
            if best.entity.method == "context":
                result.context = {"reference": best.entity.reference, "entity": best.entity.name}
            result.intent = best.intent or prediction.intent
            result.confidence = round(best.intent_probability if best.intent else prediction.confidence, 4)
            if best.score < self.config.interpretation.min_score:
                result.reason = NO_INTENT
                result.detail = (f"best reading {best.entity.name} -{best.predicate}- ({best.direction}) scored "
                                 f"{best.score:.2f}, threshold {self.config.interpretation.min_score}")
                return
            if self._asks_back(readings, result):
                return
            composition = self.composer.compose(question, readings, candidates, explained_spans(notes))
            run_composition(self.composer, composition, result, self.config.max_answers)
        finally:
            if conversation is not None:
                # A count is remembered by what it counted, so 他们 can refer to them next.
                answers = result.hops[-1]["to"] if result.count is not None and result.hops else result.answers
                conversation.remember(question, result.entity["name"] if result.entity else None, answers)

    def _asks_back(self, readings: list[Reading], result: Answer) -> bool:
        """Two readings that tie, of two entities with the same name told apart only by a bracketed
        disambiguator (张伟(演员), 张伟(歌手)): ask which one was meant rather than guess."""
        from kgqa_cli.answering.candidates import candidate_json
        from kgqa_cli.answering.messages import ask_back
        from kgqa_cli.answering.names import split_disambiguator

        if len(readings) < 2:
            return False
        first, second = readings[0], readings[1]
        if abs(first.score - second.score) > 1e-9 or first.entity.name == second.entity.name:
            return False
        tied = [r for r in readings if abs(r.score - first.score) <= 1e-9]
        bases = {split_disambiguator(r.entity.name)[0] for r in tied}
        if len(bases) != 1:
            return False
        options: list[ClarifyOption] = []
        seen: set[str] = set()
        for reading in tied:
            if reading.entity.name in seen:
                continue
            seen.add(reading.entity.name)
            base, descriptor = split_disambiguator(reading.entity.name)
            options.append({"entity": reading.entity.name, "label": f"{descriptor or ''}{base}"})
        if len(options) < 2:
            return False
        result.entity = candidate_json(first.entity)
        result.reason = AMBIGUOUS
        result.clarify = {"question": ask_back([o["label"] for o in options], result.language), "options": options}
        result.detail = f"{len(options)} entities named {next(iter(bases))} tie: " + ", ".join(o["entity"] for o in options)
        return True

    def _explain_no_reading(self, result: Answer, prediction: Understanding, candidates: list[EntityCandidate],
                            notes: list[str]) -> None:
        """Why no (entity, edge) pair was found: no entity at all, or none with such an edge."""
        if not candidates:
            from kgqa_cli.answering.candidates import ReferenceNote

            references = [note for note in notes if isinstance(note, ReferenceNote)]
            if references:  # 他还导演了哪些电影 with nothing before it to refer to
                result.reason = NO_REFERENT
                result.detail = str(references[0])
                return
            mentions = [m for ms in prediction.slots.values() for m in ms]
            result.reason = NOT_IN_GRAPH if mentions else NO_ENTITY
            result.detail = f"no entity named {mentions[0]!r} or close to it" if mentions else (notes[0] if notes else None)
            return
        from kgqa_cli.answering.candidates import candidate_json

        top = candidates[0]
        result.entity = candidate_json(top)
        routes = self.model.routes.get(prediction.intent) or []
        result.reason = NO_RELATION
        if routes:
            route = routes[0]
            result.predicate, result.direction = route["predicate"], route["direction"]
            result.detail = f"{top.name} has no {route['predicate']} ({route['direction']}) in the graph"
        else:
            result.detail = f"{top.name} has no relation the question asks about in the graph"


def _tags_of(question: str, slots: dict[str, list[str]]) -> list[str]:
    """BIO tags from slot texts alone (an understanding computed elsewhere sends no tags): each
    text tagged where it first occurs."""
    tags = ["O"] * len(question)
    for kind, texts in slots.items():
        for text in texts:
            at = question.find(text) if text else -1
            if at >= 0 and all(tag == "O" for tag in tags[at:at + len(text)]):
                tags[at:at + len(text)] = [f"B-{kind}"] + [f"I-{kind}"] * (len(text) - 1)
    return tags
