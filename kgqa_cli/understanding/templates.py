"""The intent templates file (``configs/questions.yaml``): intents, their graph routes, phrasings."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from kgqa_cli.config import StrictModel, load_yaml
from kgqa_cli.errors import ConfigError

NONE_INTENT = "none"
Direction = Literal["forward", "reverse"]


class Route(StrictModel):
    """One way to answer: the objects (forward) or the subjects (reverse) of a predicate."""

    predicate: str
    direction: Direction = "forward"


class IntentTemplate(StrictModel):
    """One intent: its main route, fallback routes and its phrasings with an ``{entity}`` slot."""

    name: str
    predicate: str | None = None
    direction: Direction = "forward"
    fallbacks: list[Route] = Field(default_factory=list)
    templates: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> IntentTemplate:
        if self.name != NONE_INTENT:
            if self.predicate is None:
                raise ValueError(f"intent {self.name!r} needs a predicate")
            missing = [t for t in self.templates if t.count("{entity}") != 1]
            if missing:
                raise ValueError(f"intent {self.name!r}: template {missing[0]!r} needs exactly one {{entity}}")
        return self

    @property
    def slot(self) -> str:
        """The slot the entity fills: the subject of a forward question, the object of a reverse one."""
        return "object" if self.direction == "reverse" else "subject"

    @property
    def routes(self) -> list[Route]:
        """The main route first, then the fallbacks."""
        if self.predicate is None:
            return []
        return [Route(predicate=self.predicate, direction=self.direction), *self.fallbacks]


class QuestionTemplates(StrictModel):
    """The whole templates file."""

    quote_types: list[str] = Field(default_factory=list)
    wrappers: list[str] = Field(default_factory=lambda: ["{q}"])
    synonyms: dict[str, list[str]] = Field(
        default_factory=dict, description="predicate -> everyday words for it (the lexicon `kgqa ask` reads questions with)"
    )
    intents: list[IntentTemplate]

    @model_validator(mode="after")
    def _unique(self) -> QuestionTemplates:
        names = [intent.name for intent in self.intents]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"intent names must be unique: {', '.join(duplicated)}")
        bad = [w for w in self.wrappers if w.count("{q}") != 1]
        if bad:
            raise ValueError(f"wrapper {bad[0]!r} needs exactly one {{q}}")
        return self

    def for_schema(self, predicates: set[str]) -> list[IntentTemplate]:
        """The intents whose predicate is in the schema, plus ``none``; file order kept."""
        return [i for i in self.intents if i.name == NONE_INTENT or i.predicate in predicates]


def load_templates(path: Path) -> QuestionTemplates:
    """Read and validate the templates file; errors name the file."""
    try:
        data = load_yaml(Path(path).read_text(encoding="utf-8"), path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the question templates: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return QuestionTemplates.model_validate(data or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']}") from exc
