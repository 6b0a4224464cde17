"""The labelled questions `kgqa label` writes (one JSON line per label: text, intent, one BIO
tag per character), read back for the question model's training and for the labelling session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kgqa_cli.io import BadLines, read_json_lines


def read_feedback_rows(path: Path, bad: BadLines | None = None) -> dict[str, dict[str, Any]]:
    """text -> the latest labelled question of that text in the feedback file (earlier labels of
    a text stay in the file as its history). A line that is not one goes to ``bad``."""
    bad = bad if bad is not None else BadLines()
    latest: dict[str, dict[str, Any]] = {}
    if not Path(path).exists():
        return latest
    for _, number, row in read_json_lines([Path(path)], bad):
        text, intent, slots = row.get("text"), row.get("intent"), row.get("slots")
        if not (isinstance(text, str) and isinstance(intent, str) and isinstance(slots, list)
                and len(slots) == len(text) and all(isinstance(tag, str) for tag in slots)):
            bad.report(Path(path), number, "not a labelled question (text, intent, one slot tag per character)")
            continue
        latest.pop(text, None)  # the latest label of a text takes the place of the earlier
        latest[text] = row
    return latest
