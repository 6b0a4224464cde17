"""Labels and decisions made elsewhere: the CSV or JSON-lines files of `kgqa label --import`."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from kgqa_cli.errors import InputDataError


@dataclass(frozen=True)
class ImportRow:
    """One label made elsewhere: a captured request's key or a question, its intent, maybe its entity."""

    source: str
    key: str | None
    question: str | None
    intent: str
    entity: str | None


IMPORT_COLUMNS = ("eventId", "inferenceId", "question", "intent", "entity")
EXPECTED_COLUMNS = "eventId (or inferenceId) or question, intent, optional entity"


class LabelRow(BaseModel):
    """One imported label as written: texts only (strict), no other fields."""

    model_config = ConfigDict(strict=True, extra="forbid")

    eventId: str | None = None  # noqa: N815 - the capture's field name
    inferenceId: str | None = None  # noqa: N815
    question: str | None = None
    intent: str
    entity: str | None = None


def _row_error(exc: ValidationError) -> str:
    """A pydantic error in one line: each field at fault and what is wrong with it."""
    parts = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "row"
        got = error.get("input")
        shown = f" (got {got!r})" if not isinstance(got, dict) and error["type"] != "missing" else ""
        parts.append(f"{field}: {error['msg']}{shown}")
    return "; ".join(parts)


def read_table(path: Path, what: str, columns: tuple[str, ...], required: set[str], one_of: set[str],
               expected: str) -> list[tuple[int, dict[str, Any]]]:
    """(line, row) of a file of rows made elsewhere: a CSV whose first row is its header (the
    names of ``columns`` only, each once, all of ``required`` and one of ``one_of``; no row wider
    than it), or JSON lines of objects. A bad header, row or line is an :class:`InputDataError`
    naming the file and line (``expected`` says what the header should be)."""
    from kgqa_cli.io import read_user_text

    text = read_user_text(path, what)
    if Path(path).suffix.lower() == ".csv":
        reader = csv.reader(text.splitlines())
        header = [name.strip() for name in next(reader, [])]
        if (not required <= set(header) or not one_of & set(header) or not set(header) <= set(columns)
                or len(set(header)) != len(header)):
            found = ",".join(header) if header else "nothing"
            raise InputDataError(f"{path}:1: the first row must be the header {expected} (found {found!r})")
        rows = []
        for number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) > len(header):
                raise InputDataError(f"{path}:{number}: {len(cells)} cells for the {len(header)} columns of the header")
            rows.append((number, {name: cell for name, cell in zip(header, cells, strict=False)}))
        return rows
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise InputDataError(f"{path}:{number}: invalid JSON ({exc})") from exc
        if not isinstance(row, dict):
            raise InputDataError(f"{path}:{number}: a row must be an object, not {type(row).__name__}")
        rows.append((number, row))
    return rows


def read_import(path: Path) -> list[ImportRow]:
    """Labels from a CSV file (header: eventId or question, intent, entity) or JSON lines (the
    same keys, texts only). Every row is checked before any is used; the first bad one is
    reported with its line and field."""
    path = Path(path)
    rows = read_table(path, "labels file", IMPORT_COLUMNS, {"intent"}, {"eventId", "inferenceId", "question"},
                      EXPECTED_COLUMNS)
    result = []
    for number, row in rows:
        try:
            checked = LabelRow.model_validate(row)
        except ValidationError as exc:
            raise InputDataError(f"{path}:{number}: {_row_error(exc)}") from exc
        key = (checked.eventId or "").strip() or (checked.inferenceId or "").strip() or None
        question = (checked.question or "").strip() or None
        intent = checked.intent.strip()
        if not intent or (key is None) == (question is None):
            raise InputDataError(f"{path}:{number}: needs an intent and one of eventId or question")
        result.append(ImportRow(f"{path}:{number}", key, question, intent, (checked.entity or "").strip() or None))
    return result
