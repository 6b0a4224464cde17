"""Config of `kgqa ask`: which question model, thresholds of intent and entity linking."""

from __future__ import annotations

from pydantic import Field

from kgqa_cli.config import StrictModel


class AskConfig(StrictModel):
    """Section ``ask``: answering questions from the graph."""

    qa_model: str | None = Field(None, description="registered qa version (3, v3, qa/v3); null: newest usable")
    min_intent_confidence: float = Field(0.5, ge=0, le=1, description="below this the question is not answered")
    intent_alternatives: int = Field(
        3, ge=1, description="intents tried in turn when the best one finds nothing in the graph (1: only the best)"
    )
    min_alternative_confidence: float = Field(
        0.05, ge=0, le=1, description="least probability of a next-best intent to be tried"
    )
    fuzzy_threshold: float = Field(0.75, ge=0, le=1, description="least similarity of a fuzzy entity match (0-1)")
    max_answers: int = Field(50, ge=1, description="answers returned per question")
    threads: int | None = Field(1, ge=1, description="torch threads for one question; null: every core")
