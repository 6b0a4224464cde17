"""The ``kgqa extract`` stage: batch inference over plain text or JSON lines."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from rich.progress import ProgressColumn, Task
from rich.text import Text

from kgqa_cli.data.records import Record
from kgqa_cli.errors import InputDataError
from kgqa_cli.extraction.config import KgConfig
from kgqa_cli.io import dumps_line, write_text_atomic
from kgqa_cli.workspace import Workspace, ensure_writable

log = logging.getLogger(__name__)

JSON_SUFFIXES = (".json", ".jsonl")


@dataclass(frozen=True)
class SkippedLine:
    """An input line that could not be used, and why."""

    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"


@dataclass
class ExtractResult:
    """What an extraction run read and wrote."""

    output: Path
    model_version: str
    sentences: int
    triples: int
    seconds: float
    skipped: list[SkippedLine] = field(default_factory=list)

    @property
    def sentences_per_second(self) -> float:
        return self.sentences / self.seconds if self.seconds else 0.0


class RateColumn(ProgressColumn):
    """Characters per second of a progress task (its total is counted in characters)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} chars/s" if speed else "- chars/s")


def read_inputs(path: Path) -> tuple[list[str], list[SkippedLine]]:
    """Texts of an input file, one per non-empty line, and the lines skipped.

    ``.json``/``.jsonl`` files are JSON lines with a ``text`` field; in other files a line that
    starts with ``{`` is read the same way (and reported when it does not parse) and any other
    line is plain text. Lines are decoded one by one: an undecodable line is reported and skipped.
    """
    from kgqa_cli.data.corpus import Source, Undecodable

    if not Path(path).is_file():
        raise InputDataError(f"{path}: input not found" if not Path(path).exists() else f"{path}: not a file")
    json_file = Path(path).suffix.lower() in JSON_SUFFIXES
    texts: list[str] = []
    skipped: list[SkippedLine] = []
    for number, line in Source(str(path), "input", Path(path).read_bytes).numbered_lines():
        if isinstance(line, Undecodable):
            skipped.append(SkippedLine(str(path), number, line.reason))
            continue
        stripped = line.strip()
        if not stripped:
            continue
        if json_file or stripped.startswith("{"):
            try:
                item = json.loads(stripped)
            except ValueError as exc:
                # Also in a text file: a line that opens like a JSON record but does not parse is
                # far more likely a broken record than a sentence, and is reported, not guessed at.
                skipped.append(SkippedLine(str(path), number, f"invalid JSON ({exc})"))
                continue
            if not isinstance(item, dict):
                skipped.append(SkippedLine(str(path), number, "a JSON line must be an object with a 'text' field"))
            elif not isinstance(item.get("text"), str) or not item["text"].strip():
                skipped.append(SkippedLine(str(path), number, "no 'text' field (or it is empty)"))
            else:
                texts.append(item["text"])
            continue
        texts.append(stripped)
    return texts, skipped


def run_extract(
    config: KgConfig,
    workspace: Workspace,
    *,
    input_path: Path | None = None,
    output_path: Path | None = None,
    batch_size: int | None = None,
    version: str | None = None,
) -> ExtractResult:
    """Extract triples from every input line and write one corpus-format record a line."""
    import time

    from kgqa_cli.extraction.pieces import split_text
    from kgqa_cli.extraction.predict import load_registered
    from kgqa_cli.torch_setup import set_threads
    from kgqa_cli.ui import progress

    settings = config.extract
    source = Path(input_path or settings.input)
    target = Path(output_path or settings.output or workspace.triples_file)
    texts, skipped = read_inputs(source)
    ensure_writable([target.parent])
    set_threads(config.train.threads)
    extractor = load_registered(workspace.registry_dir, version, device=config.train.device, prefer_approved=True)
    started = time.perf_counter()
    with progress(RateColumn()) as bar:
        # Counted in characters of the pieces, not input lines: a 1 MB line moves the bar too.
        total = sum(len(piece) for text in texts for piece in split_text(text, settings.max_chars))
        task = bar.add_task(f"extracting {len(texts)} texts with {extractor.version} (characters)", total=total)
        found = extractor.extract(
            texts, batch_size=batch_size or settings.batch_size, max_chars=settings.max_chars,
            subject_threshold=settings.subject_threshold, object_threshold=settings.object_threshold,
            on_progress=lambda n: bar.advance(task, n), progress_in_chars=True, bfloat16=settings.bfloat16,
            workers=settings.workers,
        )
    seconds = time.perf_counter() - started
    lines = [
        dumps_line(Record(text=text, spo_list=triples, model_version=extractor.version).to_json())
        for text, triples in zip(texts, found, strict=True)
    ]
    write_text_atomic(target, "".join(line + "\n" for line in lines))
    return ExtractResult(
        output=target, model_version=extractor.version or "", sentences=len(texts),
        triples=sum(len(triples) for triples in found), seconds=seconds, skipped=skipped,
    )
