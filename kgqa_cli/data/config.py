"""Config of the preprocess stage."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from kgqa_cli.config import StrictModel


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

    @model_validator(mode="after")
    def _ratios_leave_training_data(self) -> PreprocessConfig:
        if self.dev_ratio + self.test_ratio >= 1:
            raise ValueError("dev_ratio + test_ratio must be below 1")
        return self
