"""What an answer holds: the :class:`Answer` `kgqa ask` shows and the endpoint returns, and the
fixed shapes of its JSON parts (the entity, the readings weighed, the hops, the evidence)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, TypedDict


class Alternative(TypedDict):
    """One of the model's top intents."""

    intent: str
    confidence: float


class _EntityJsonBase(TypedDict):
    mention: str
    name: str
    method: str
    similarity: float


class EntityJson(_EntityJsonBase, total=False):
    """The entity the answer is about; ``reference`` only for an entity from the conversation."""

    reference: str


class ReadingJson(TypedDict):
    """A reading weighed, as `kgqa ask -v` and ``--json`` show it."""

    entity: str
    method: str
    entity_score: float
    predicate: str
    direction: str
    intent: str | None
    intent_probability: float
    keyword: str | None
    score: float


class ContextJson(TypedDict):
    """What a referring word of the question stood for."""

    reference: str | None
    entity: str


# One hop of the query graph run ("from" is a keyword, hence the functional form).
HopJson = TypedDict("HopJson", {"from": list[str], "predicate": str, "direction": str, "word": str | None,
                                "to": list[str], "truncated": bool})


class FactJson(TypedDict):
    """A fact an answer rests on, with the sentences the graph keeps for it."""

    subject: str | None
    predicate: str
    object: str | None
    score: float | None
    evidence_count: int
    sentences: list[dict[str, Any]]


class EvidenceJson(TypedDict):
    """Why one answer holds: the facts that lead to it."""

    answer: str
    facts: list[FactJson]


class ClarifyOption(TypedDict):
    """An entity the question may mean, and how a person tells it apart (演员张伟)."""

    entity: str
    label: str


class ClarifyJson(TypedDict):
    """The question back when two entities tie."""

    question: str
    options: list[ClarifyOption]


@dataclass
class Answer:
    """Everything `kgqa ask` shows about one question."""

    question: str
    intent: str | None = None
    confidence: float = 0.0
    slots: dict[str, list[str]] = field(default_factory=dict)
    alternatives: list[Alternative] = field(default_factory=list)  # the model's top intents
    entity: EntityJson | None = None
    predicate: str | None = None
    direction: str | None = None
    query: str | None = None
    answers: list[str] = field(default_factory=list)
    reason: str | None = None  # why there is no answer (None when answered)
    detail: str | None = None
    readings: list[ReadingJson] = field(default_factory=list)  # the best (entity, edge) readings weighed
    context: ContextJson | None = None  # when the entity came from the conversation
    shape: str | None = None  # the query graph read: one_hop, chain, reverse_chain, intersection, count
    hops: list[HopJson] = field(default_factory=list)
    count: int | None = None  # a counting question's count (answers then holds it as text)
    unexplained: list[str] = field(default_factory=list)  # words of the question no reading explains
    clarify: ClarifyJson | None = None  # a question back when two entities tie
    evidence: list[EvidenceJson] = field(default_factory=list)  # per answer, the facts and sentences behind it
    model_version: str | None = None
    elapsed_ms: float = 0.0
    language: str = "zh"  # of `message` (ask.language): zh or en

    @property
    def answered(self) -> bool:
        """Whether the question got an answer (no ``reason``)."""
        return self.reason is None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the serving contract's fields plus details)."""
        data = asdict(self)
        data["answered"] = self.answered
        data["entities"] = [self.entity] if self.entity else []
        from kgqa_cli.answering.messages import answer_message

        data["message"] = answer_message(data, self.language)
        return data
