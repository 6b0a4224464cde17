"""The DuIE 2.0 record: a sentence and its triples, parsed from a JSON line into typed models.

A line of the corpus (DuIE 1.0 or 2.0, or an extraction file) becomes a :class:`Record` once,
where it is read (:meth:`Record.parse`, which names what is wrong with a malformed line); the
stages work on the models and write them back with ``to_json``, key for key as they were read.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

VALUE = "@value"  # the key of an object's (or object type's) main value, beside its slots
# Where an extracted triple's subject and object lie in its text: [start, end), in characters.
SPAN_KEYS = ("subject_span", "object_span")


class RecordError(ValueError):
    """A record that cannot be used; ``kind`` is a stable machine-readable name."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


class SlotValues(BaseModel):
    """An object (or its type): the main ``@value`` and the extra slots of a complex predicate
    (``inWork``, ``inArea``...), which follow it in the order they were given."""

    model_config = ConfigDict(extra="allow", frozen=True)

    value: str = Field(alias="@value")

    @classmethod
    def of(cls, value: str, slots: dict[str, str] | None = None) -> SlotValues:
        """The object ``value`` with its ``slots``."""
        return cls.model_validate({VALUE: value, **(slots or {})})

    @property
    def slots(self) -> dict[str, str]:
        """The extra slots by name, without the main value."""
        return dict(self.model_extra or {})

    def items(self) -> list[tuple[str, str]]:
        """``(name, value)`` pairs: ``("@value", value)`` first, then the slots in their order."""
        return list(self.to_json().items())

    def to_json(self) -> dict[str, str]:
        """The DuIE 2.0 dict: ``@value`` first, then the slots."""
        return {VALUE: self.value, **self.slots}


class Triple(BaseModel):
    """One (subject, predicate, object) of a sentence, with the types, and what later stages add:
    the extractor's ``score`` and the character spans of the subject and object."""

    subject: str
    subject_type: str = ""
    predicate: str
    object: SlotValues
    object_type: SlotValues = SlotValues.of("")
    score: Any = None  # kept as given (a review may hold anything): written back only when it was read
    subject_span: list[int] | None = None
    object_span: list[int] | None = None

    @property
    def given_score(self) -> Any:
        """The score as read, or 1.0 where none was given (a gold triple is certain)."""
        return self.score if "score" in self.model_fields_set else 1.0

    @property
    def key(self) -> tuple[str, str, str]:
        """(subject, predicate, object value): what a triple is, whatever its score or slots."""
        return self.subject, self.predicate, self.object.value

    def to_json(self) -> dict[str, Any]:
        """The corpus-format dict, its keys in the order the corpus writes them."""
        out: dict[str, Any] = {
            "subject": self.subject, "subject_type": self.subject_type, "predicate": self.predicate,
            "object": self.object.to_json(), "object_type": self.object_type.to_json(),
        }
        if "score" in self.model_fields_set:
            out["score"] = self.score
        if self.subject_span is not None:
            out["subject_span"] = self.subject_span
        if self.object_span is not None:
            out["object_span"] = self.object_span
        return out


class Record(BaseModel):
    """A sentence and its triples; ``model_version`` names the extractor of an extraction file."""

    text: str
    spo_list: list[Triple]
    model_version: Any = None  # kept as given: written back only when it was read

    @classmethod
    def parse(cls, raw: object) -> Record:
        """Validate the shape of one parsed JSON line into the DuIE 2.0 form, or raise
        :class:`RecordError` saying what is wrong.

        DuIE 1.0 objects (plain strings) become ``{"@value": ...}``; values are stripped. Keys
        beyond the corpus format that later stages add (a triple's ``score``, ``subject_span``,
        ``object_span``; the record's ``model_version``) are kept.
        """
        if not isinstance(raw, dict):
            raise RecordError("not_an_object", "the line is not a JSON object")
        text = raw.get("text")
        if not isinstance(text, str) or not text.strip():
            raise RecordError("missing_text", "missing or empty 'text'")
        spo_list = raw.get("spo_list")
        if not isinstance(spo_list, list):
            raise RecordError("missing_spo_list", "missing 'spo_list' (a list of triples)")
        triples = [_parse_triple(spo, index, len(text)) for index, spo in enumerate(spo_list, start=1)]
        if "model_version" in raw:
            return cls(text=text, spo_list=triples, model_version=raw["model_version"])
        return cls(text=text, spo_list=triples)

    @property
    def keys(self) -> set[tuple[str, str, str]]:
        """The (subject, predicate, object value) of each triple."""
        return {triple.key for triple in self.spo_list}

    def to_json(self) -> dict[str, Any]:
        """The corpus-format dict, as written to a JSON line."""
        out: dict[str, Any] = {"text": self.text, "spo_list": [triple.to_json() for triple in self.spo_list]}
        if "model_version" in self.model_fields_set:
            out["model_version"] = self.model_version
        return out


def _parse_triple(spo: object, index: int, length: int) -> Triple:
    """Triple ``index`` (from 1) of a record whose text has ``length`` characters."""
    if not isinstance(spo, dict):
        raise RecordError("malformed_triple", f"triple {index} is not an object")
    missing = [k for k in ("subject", "predicate", "object") if spo.get(k) in (None, "")]
    if missing:
        raise RecordError("malformed_triple", f"triple {index} lacks {', '.join(missing)}")
    fields: dict[str, Any] = {
        "subject": _clean(spo["subject"]),
        "subject_type": _clean(spo.get("subject_type", "")),
        "predicate": _clean(spo["predicate"]),
        "object": _slot_values(spo["object"], "object"),
        "object_type": _slot_values(spo.get("object_type", ""), "object_type"),
    }
    if "score" in spo:
        fields["score"] = spo["score"]
    for key in SPAN_KEYS:
        if key in spo:
            fields[key] = _span(spo[key], length, f"triple {index} {key}")
    return Triple(**fields)


def _slot_values(value: object, field: str) -> SlotValues:
    """DuIE 1.0 writes plain strings, 2.0 dicts with '@value' and slots: return the 2.0 form."""
    if isinstance(value, dict):
        if VALUE not in value:
            raise RecordError("malformed_triple", f"{field} has no '@value'")
        return SlotValues.of(_clean(value[VALUE]), {
            str(k): _clean(v) for k, v in sorted(value.items()) if k != VALUE
        })
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return SlotValues.of(_clean(value))
    raise RecordError("malformed_triple", f"{field} is neither text nor a DuIE 2.0 object")


def _clean(value: object) -> str:
    return str(value).strip()


def _span(value: object, length: int, label: str) -> list[int]:
    if (not isinstance(value, list) or len(value) != 2 or not all(type(v) is int for v in value)
            or not 0 <= value[0] < value[1] <= length):
        raise RecordError("malformed_triple", f"{label} must be [start, end] character offsets within the text")
    return [value[0], value[1]]
