"""Answers from an understanding computed elsewhere: the intent, ranked intents, slots and routes
that an endpoint in ``KGQA_ANSWER=understand`` mode returns, and this process's graph (the API
front's Lambda: the endpoint understands, the Lambda queries Neptune). No model, no torch."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from kgqa_cli.answering.pipeline import Answer, Answerer
from kgqa_cli.text import valid_text


@dataclass
class Understood:
    """The parts of a question model's prediction that answering reads."""

    intent: str
    confidence: float
    slots: dict[str, list[str]]
    ranked: list[tuple[str, float]] = field(default_factory=list)


class UnderstoodAnswerer(Answerer):
    """The answering half of :class:`Answerer`: entity linking and the graph traversals."""

    def __init__(self, settings: Any) -> None:  # noqa: D107 - the parent's model loading is left out on purpose
        from kgqa_cli.answering.linking import EntityLinker
        from kgqa_cli.graph.store import GraphStore

        self.config = settings.ask
        self.store = GraphStore(settings.graph, settings.paths, create=False)
        self.linker = EntityLinker(self.store.g, self.config.fuzzy_threshold)

    def answer_understood(self, question: str, understood: dict) -> Answer:
        """Answer ``question`` from the endpoint's understanding of it (its JSON)."""
        self._follow_graph_replacement()
        text = valid_text(question)
        ranked = [(item["intent"], float(item["confidence"])) for item in understood.get("intents", [])]
        prediction = Understood(understood["intent"], float(understood["confidence"]), understood.get("slots") or {},
                                ranked or [(understood["intent"], float(understood["confidence"]))])
        self.model = SimpleNamespace(routes=understood.get("routes") or {})
        result = Answer(question=text, model_version=understood.get("model_version"))
        self._resolve(text, prediction, result)
        return result
