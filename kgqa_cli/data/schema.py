"""The relation schema: which predicates exist and which entity types they join (DuIE format)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from kgqa_cli.data.records import Record
from kgqa_cli.errors import InputDataError
from kgqa_cli.io import dumps_line, write_text_atomic


@dataclass(frozen=True)
class Relation:
    """One schema line: ``subject_type -predicate-> object_type`` (object_type may have slots)."""

    predicate: str
    subject_type: str
    object_type: tuple[tuple[str, str], ...]  # ("@value", type) first, then extra slots sorted

    @property
    def object_value_type(self) -> str:
        return dict(self.object_type)["@value"]

    @property
    def slots(self) -> tuple[str, ...]:
        """Names of the extra object slots of a complex predicate (inWork, inArea, ...)."""
        return tuple(name for name, _ in self.object_type if name != "@value")

    def to_json(self) -> dict:
        return {
            "subject_type": self.subject_type,
            "predicate": self.predicate,
            "object_type": dict(self.object_type),
        }


def object_type_key(object_type: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """A hashable, ordered form of an object-type dict."""
    slots = sorted((k, v) for k, v in object_type.items() if k != "@value")
    return (("@value", object_type["@value"]), *slots)


@dataclass
class Schema:
    """The set of relations; predicates are the classes the extractor learns."""

    relations: list[Relation] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.relations = sorted(set(self.relations), key=lambda r: (r.predicate, r.subject_type, r.object_type))

    @property
    def predicates(self) -> list[str]:
        """Predicate names, sorted: index i is output channel i of the extractor."""
        return sorted({relation.predicate for relation in self.relations})

    def relations_of(self, predicate: str) -> list[Relation]:
        return [relation for relation in self.relations if relation.predicate == predicate]

    def slots_of(self, predicate: str) -> tuple[str, ...]:
        """Extra object slots a predicate carries (union over its relations)."""
        names: set[str] = set()
        for relation in self.relations_of(predicate):
            names.update(relation.slots)
        return tuple(sorted(names))

    def allows(self, predicate: str, subject_type: str, object_value_type: str) -> bool:
        return any(
            r.subject_type == subject_type and r.object_value_type == object_value_type
            for r in self.relations_of(predicate)
        )

    def to_lines(self) -> str:
        return "".join(dumps_line(relation.to_json()) + "\n" for relation in self.relations)

    def write(self, path: Path) -> None:
        write_text_atomic(path, self.to_lines())

    @classmethod
    def parse(cls, lines: Iterable[str], source: str) -> Schema:
        """Read DuIE 2.0 (object_type a dict) or DuIE 1.0 (object_type a string) schema lines."""
        relations = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                object_type = item["object_type"]
                if isinstance(object_type, str):
                    object_type = {"@value": object_type}
                relations.append(
                    Relation(
                        predicate=str(item["predicate"]).strip(),
                        subject_type=str(item["subject_type"]).strip(),
                        object_type=object_type_key({k: str(v) for k, v in object_type.items()}),
                    )
                )
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise InputDataError(f"{source}:{number}: not a schema line ({exc.__class__.__name__}: {exc})") from exc
        if not relations:
            raise InputDataError(f"{source}: the schema is empty")
        return cls(relations)

    @classmethod
    def load(cls, path: Path) -> Schema:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise InputDataError(f"{path}: cannot read the schema: {exc.strerror}") from exc
        return cls.parse(text.splitlines(), str(path))

    @classmethod
    def infer(cls, records: Iterable[Record]) -> Schema:
        """The schema implied by labelled records, for corpora shipped without one."""
        relations = {
            Relation(spo.predicate, spo.subject_type, object_type_key(spo.object_type.to_json()))
            for record in records
            for spo in record.spo_list
        }
        return cls(list(relations))
