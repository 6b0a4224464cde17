"""Reading DuIE 1.0 / 2.0 JSON lines from a file, a folder or Baidu's zip, record by record.

Every record is parsed into a :class:`~kgqa_cli.data.records.Record` in the DuIE 2.0 form (object
and object_type hold ``@value`` and the extra slots of complex predicates); anything wrong with a
record is reported as a :class:`Problem` with its file and line, never silently dropped.
"""

from __future__ import annotations

import gc
import json
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from kgqa_cli.data.records import Record, RecordError
from kgqa_cli.data.schema import Schema
from kgqa_cli.errors import InputDataError

DATA_SUFFIXES = (".json", ".jsonl", ".txt")


@dataclass(frozen=True)
class Problem:
    """Why one input line was not taken."""

    source: str
    line: int
    kind: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"


@dataclass(frozen=True)
class Undecodable:
    """A line that is not UTF-8, and where its first bad byte is."""

    reason: str


@dataclass(frozen=True)
class Source:
    """One input file (possibly inside a zip) and its role: train, dev, test or schema."""

    name: str
    role: str
    read_bytes: Callable[[], bytes]

    def numbered_lines(self) -> Iterator[tuple[int, str | Undecodable]]:
        """``(number, text)`` for each non-empty line, ``(number, Undecodable)`` for a line that is
        not UTF-8. Lines are decoded one by one, so one bad byte costs one line only."""
        try:
            data = self.read_bytes()
        except (OSError, zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise InputDataError(f"{self.name}: cannot read: {getattr(exc, 'strerror', None) or exc}") from exc
        data = data.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte-order mark
        for number, raw in enumerate(data.split(b"\n"), start=1):
            raw = raw.removesuffix(b"\r")
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield number, Undecodable(
                    f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at byte {exc.start + 1} of the line)")
                continue
            if line.strip():
                yield number, line

    def lines(self) -> Iterator[tuple[int, str]]:
        """Numbered non-empty lines; an undecodable line stops the reading (schema files)."""
        for number, line in self.numbered_lines():
            if isinstance(line, Undecodable):
                raise InputDataError(f"{self.name}:{number}: {line.reason}")
            yield number, line


def role_of(filename: str) -> str:
    """Guess a file's role from its name, as Baidu names them (duie_dev.json, duie_schema.json)."""
    name = PurePosixPath(filename).name.lower()
    if "schema" in name:
        return "schema"
    if "dev" in name or "valid" in name:
        return "dev"
    if "test" in name:
        return "test"
    return "train"


def discover_sources(path: Path) -> list[Source]:
    """The input files under ``path``: a single file, a folder of them, or a zip of them."""
    path = Path(path)
    if not path.exists():
        raise InputDataError(f"{path}: input not found")
    if path.is_dir():
        files = sorted(
            p for p in path.rglob("*")
            if p.is_file() and (p.suffix in DATA_SUFFIXES or "schema" in p.name.lower())
        )
        if not files:
            raise InputDataError(f"{path}: no .json/.jsonl files in this folder")
        return [Source(str(p), role_of(p.name), _file_reader(p)) for p in files]
    if zipfile.is_zipfile(path):
        return _zip_sources(path)
    if path.suffix.lower() == ".zip":
        raise InputDataError(f"{path}: not a zip archive (no zip directory found; truncated or another kind of file?)")
    # A single file is the pool to split, whatever its name, unless it is a schema.
    role = "schema" if role_of(path.name) == "schema" else "train"
    return [Source(str(path), role, _file_reader(path))]


def _file_reader(path: Path) -> Callable[[], bytes]:
    return path.read_bytes


def _zip_sources(path: Path) -> list[Source]:
    try:
        with zipfile.ZipFile(path) as archive:
            members = sorted(
                info.filename for info in archive.infolist()
                if not info.is_dir()
                and not PurePosixPath(info.filename).name.startswith(".")
                and "__MACOSX" not in info.filename
                and (PurePosixPath(info.filename).suffix in DATA_SUFFIXES or "schema" in info.filename.lower())
            )
    except zipfile.BadZipFile as exc:
        raise InputDataError(f"{path}: not a readable zip: {exc}") from exc
    if not members:
        raise InputDataError(f"{path}: the zip holds no .json files")

    def reader(member: str) -> Callable[[], bytes]:
        def read() -> bytes:
            with zipfile.ZipFile(path) as archive:
                return archive.read(member)
        return read

    return [Source(f"{path}!{member}", role_of(member), reader(member)) for member in members]


def is_labelled(source: Source) -> bool:
    """Whether a data file carries labels (DuIE test files hold text alone)."""
    for _, line in source.numbered_lines():
        if isinstance(line, Undecodable):
            continue
        try:
            first = json.loads(line)
        except ValueError:
            return True  # let the record reader report the broken line
        return isinstance(first, dict) and "spo_list" in first
    return False


def check_record(record: Record, schema: Schema | None) -> None:
    """Raise :class:`RecordError` when a triple contradicts its text or the schema."""
    text = record.text
    for index, spo in enumerate(record.spo_list, start=1):
        label = f"triple {index} ({spo.subject}, {spo.predicate}, {spo.object.value})"
        if not spo.subject or spo.subject not in text:
            raise RecordError("subject_not_in_text", f"{label}: subject does not occur in the text")
        if not spo.object.value or spo.object.value not in text:
            raise RecordError("object_not_in_text", f"{label}: object does not occur in the text")
        if schema is None:
            continue
        if spo.predicate not in schema.predicates:
            raise RecordError("unknown_predicate", f"{label}: predicate {spo.predicate!r} is not in the schema")
        if not schema.allows(spo.predicate, spo.subject_type, spo.object_type.value):
            allowed = ", ".join(
                f"{r.subject_type}->{r.object_value_type}" for r in schema.relations_of(spo.predicate)
            )
            raise RecordError(
                "type_mismatch",
                f"{label}: types {spo.subject_type}->{spo.object_type.value} "
                f"contradict the schema ({allowed})",
            )


def read_records(source: Source) -> Iterator[tuple[int, Record | None, RecordError | None]]:
    """Yield ``(line, record, None)`` for good shapes and ``(line, None, error)`` for bad ones."""
    for number, line in source.numbered_lines():
        if isinstance(line, Undecodable):
            yield number, None, RecordError("undecodable", line.reason)
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, None, RecordError("invalid_json", f"invalid JSON ({exc.msg} at column {exc.colno})")
            continue
        try:
            yield number, Record.parse(raw), None
        except RecordError as exc:
            yield number, None, exc


def checked_records(source: Source, schema: Schema | None) -> Iterator[tuple[int, Record | None, RecordError | None]]:
    """:func:`read_records`, each good shape also checked against its text and the schema
    (:func:`check_record`): ``(line, record, None)`` or ``(line, None, error)``."""
    for number, record, error in read_records(source):
        if record is not None:
            try:
                check_record(record, schema)
            except RecordError as exc:
                record, error = None, exc
        yield number, record, error


def load_corpus(path: Path) -> list[Record]:
    """Read a corpus-format file that must be fully valid (a split, a gold or extraction file):
    its records, parsed once here for every stage after."""
    records: list[Record] = []
    # The models pile up alive until the end: the cyclic collector would walk them over and over
    # while they are made (a quarter of the time on a DuIE file), and records hold no cycles.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for source in discover_sources(path):
            if source.role == "schema":
                continue
            for number, record, error in read_records(source):
                if error is not None:
                    raise InputDataError(f"{source.name}:{number}: {error.reason}")
                if record is not None:
                    records.append(record)
    finally:
        if collecting:
            gc.enable()
    return records
