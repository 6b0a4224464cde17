"""Config of the preprocess stage."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from kgqa_cli.config import StrictModel


class ExtraSource(StrictModel):
    """A labelled corpus of another schema (DuIE 1.0 / SKE) used as extra training data only.

    Its predicates are mapped onto the schema (``predicate_map``; a predicate the schema has keeps
    its name, any other is dropped), its types are the schema's, and texts of the main corpus
    are left out (no leak into dev or test, no second label for a train sentence). The schema
    predicates it never labels (``unlabelled``) are masked in the training loss for its
    sentences, so that a missing label is not taught as a negative; slot channels are masked
    too when the source has no slots.
    """

    name: str = Field(pattern=r"^[a-z0-9_-]+$", description="written as data/corpus/extra-<name>.jsonl")
    input: Path = Field(description="a DuIE 1.0 or 2.0 file, folder or zip")
    predicate_map: dict[str, str] = Field(default_factory=dict, description="source predicate -> schema predicate")
    unlabelled: list[str] = Field(default_factory=list, description="schema predicates the source never labels")


class PreprocessConfig(StrictModel):
    """Where the raw corpus is and how to validate and split it."""

    input: Path = Field(Path("workspace/data/raw/demo"), description="a DuIE file, folder or zip")
    schema_file: Path | None = Field(
        None,
        description="schema to validate against; null: a file named *schema* inside the input folder or zip "
        "(a single-file input has none), else inferred from the data",
    )
    dev_ratio: float = Field(0.1, ge=0, lt=1)
    test_ratio: float = Field(0.1, ge=0, lt=1)
    seed: int = 13
    on_error: Literal["skip", "stop"] = "skip"
    max_reported: int = Field(20, ge=0, description="problems printed; all go to rejected.jsonl")
    review_feedback: bool = Field(
        True, description="add the sentences people reviewed (`kgqa label triples`: data/feedback/kg.jsonl) to the "
        "train split, with their accepted and corrected triples"
    )
    extra: list[ExtraSource] = Field(
        default_factory=list, description="corpora of other schemas for training only (kg.train.extra picks them)"
    )

    @model_validator(mode="after")
    def _ratios_leave_training_data(self) -> PreprocessConfig:
        if self.dev_ratio + self.test_ratio >= 1:
            raise ValueError("dev_ratio + test_ratio must be below 1")
        return self
