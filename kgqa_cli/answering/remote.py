"""Answers from an understanding computed elsewhere: the intent, ranked intents, slots and routes
that an endpoint in ``KGQA_ANSWER=understand`` mode returns, and this process's graph (the API
front's Lambda: the endpoint understands, the Lambda queries Neptune). No model, no torch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kgqa_cli.answering.answer import Answer
from kgqa_cli.answering.compose import Composer
from kgqa_cli.answering.pipeline import Answerer
from kgqa_cli.text import valid_text

if TYPE_CHECKING:
    from kgqa_cli.answering.interpret import Routes
    from kgqa_cli.settings import KgqaConfig


@dataclass
class Understood:
    """The parts of a question model's prediction that answering reads."""

    intent: str
    confidence: float
    slots: dict[str, list[str]]
    ranked: list[tuple[str, float]] = field(default_factory=list)
    tags: list[str] | None = None  # one per character, when the endpoint sent them


@dataclass(frozen=True)
class EndpointRoutes:
    """The routes of the intents an endpoint's model knows, as its understanding sent them."""

    routes: Routes


class UnderstoodAnswerer(Answerer):
    """The answering half of :class:`Answerer`: the graph-aware reading and the traversals. The
    predicate lexicon comes from the configured templates file (the endpoint sends none)."""

    def __init__(self, settings: KgqaConfig) -> None:  # noqa: D107 - the parent's model loading is left out on purpose
        from kgqa_cli.answering.pipeline import configured_lexicon, schema_types
        from kgqa_cli.graph.store import GraphStore

        self.config = settings.ask
        self.store = GraphStore(settings.graph, settings.paths, create=False)
        self.model = EndpointRoutes({})
        self.backend = None
        self.lexicon = configured_lexicon(settings)
        self.schema_types = schema_types(settings.paths.schema_file)
        self._open_interpreter()

    def answer_understood(self, question: str, understood: dict[str, Any]) -> Answer:
        """Answer ``question`` from the endpoint's understanding of it (its JSON)."""
        self._follow_graph_replacement()
        text = valid_text(question)
        ranked = [(item["intent"], float(item["confidence"])) for item in understood.get("intents", [])]
        tags = understood.get("tags")
        prediction = Understood(understood["intent"], float(understood["confidence"]), understood.get("slots") or {},
                                ranked or [(understood["intent"], float(understood["confidence"]))],
                                tags if isinstance(tags, list) and len(tags) == len(text.strip()) else None)
        routes = understood.get("routes") or {}
        if routes != self.model.routes:  # the interpreter indexes the routes; its graph caches stay
            self.model = EndpointRoutes(routes)
            self.interpreter.set_routes(routes)
            self.composer = Composer(self.interpreter, self.schema_types)  # it reads the routes too
        result = Answer(question=text, model_version=understood.get("model_version"), language=self.config.language)
        self._resolve(text.strip(), prediction, result)
        return result
