"""Ground truth and labelled questions: the files a labelling decision appends to, read back.

Each decision appends, flushes and fsyncs at once:

* ground truth in the **contract** format, one record per captured item, under
  ``<workspace>/groundtruth/yyyy/mm/dd/hh/`` (the hour of the decision):
  ``{"groundTruthData": {"data": "<intent>", "encoding": "CSV"}, "eventMetadata": {"eventId":
  "<key>"}, "eventVersion": "0"}``;
* one labelled question (``text``, ``intent``, ``slots``: one BIO tag per character) per group in
  ``<workspace>/data/feedback/feedback.jsonl``, the format of the generated questions, for
  retraining.

A crash loses nothing decided, and the next session starts at the first undecided item. A later
label of a key or text replaces the earlier one for every reader; the earlier stays in its file.
Ground truth is read line by line as the captures are (:mod:`kgqa_cli.labeling.captures`).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from kgqa_cli.errors import InputDataError
from kgqa_cli.io import BadLines, read_json_lines
from kgqa_cli.labeling.captures import Group


def ground_truth_files(root: Path) -> list[Path]:
    """Ground-truth files under ``root`` (``yyyy/mm/dd/hh/*.jsonl``), oldest first (their names
    start with the time their session started)."""
    return sorted(path for path in root.rglob("*.jsonl") if len(path.relative_to(root).parts) == 5)


def read_ground_truth(root: Path, bad: BadLines | None = None) -> dict[str, str]:
    """key -> label of every ground-truth record: a later record of a key replaces an earlier one
    (which stays in its file as the history). A line that is not a record goes to ``bad``."""
    bad = bad if bad is not None else BadLines()
    labels: dict[str, str] = {}
    for path, number, record in read_json_lines(ground_truth_files(root), bad):
        try:
            key, label = record["eventMetadata"]["eventId"], record["groundTruthData"]["data"]
        except (KeyError, TypeError) as exc:
            bad.report(path, number, f"not a ground-truth record (no {exc})")
            continue
        if not isinstance(key, str) or not isinstance(label, str):
            bad.report(path, number, "not a ground-truth record (eventId and data must be texts)")
            continue
        labels[key] = label
    return labels


@dataclass
class Decision:
    """What one decision appended, so that it can be undone."""

    group: Group
    intent: str
    slots: list[str]
    writes: list[tuple[Path, int, int]]  # (file, its size before the decision, and after)


class LabelWriter:
    """Appends decisions to the ground-truth and feedback files, durably, and undoes them."""

    def __init__(self, ground_truth_root: Path, feedback_file: Path) -> None:
        self.ground_truth_root = Path(ground_truth_root)
        self.feedback_file = Path(feedback_file)
        # Files sort by the session's start, so that a later label of a key wins when read back:
        # to the microsecond, so that two imports within one second keep their order too.
        started = time.time_ns()
        self.session = (time.strftime("%Y%m%dT%H%M%S", time.gmtime(started // 1_000_000_000))
                        + f".{started // 1000 % 1_000_000:06d}Z-" + str(uuid.uuid4())[:8])

    def _append(self, path: Path, lines: list[str]) -> tuple[Path, int, int]:
        from kgqa_cli.io import append_durably

        return (path, *append_durably(path, "".join(lines).encode("utf-8")))

    def _ground_truth_file(self, now: time.struct_time) -> Path:
        return self.ground_truth_root / time.strftime("%Y/%m/%d/%H", now) / f"labels-{self.session}.jsonl"

    @staticmethod
    def _truth_line(key: str, intent: str) -> str:
        return json.dumps({"groundTruthData": {"data": intent, "encoding": "CSV"}, "eventMetadata": {"eventId": key},
                           "eventVersion": "0"}, ensure_ascii=False) + "\n"

    @staticmethod
    def feedback_row(group: Group, intent: str, slots: list[str], source: str, now: time.struct_time) -> dict:
        """The labelled question that the feedback file learns from one decision."""
        return {"text": group.question, "intent": intent, "slots": slots, "source": source,
                "predicted": group.prediction.get("intent"), "keys": [item.key for item in group.items],
                "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", now)}

    def decide(self, group: Group, intent: str, slots: list[str], source: str = "label") -> Decision:
        """Record ``intent`` and the BIO ``slots`` for every item of ``group``."""
        if len(slots) != len(group.question):
            raise InputDataError(f"{len(slots)} tags for a question of {len(group.question)} characters")
        now = time.gmtime()
        writes = self.write_all([(item.key, intent) for item in group.items],
                                [self.feedback_row(group, intent, slots, source, now)], now)
        return Decision(group, intent, slots, writes)

    def write_all(self, truth: list[tuple[str, str]], feedback: list[dict],
                  now: time.struct_time | None = None) -> list[tuple[Path, int, int]]:
        """Append ground truth ((key, intent) pairs) and feedback rows, each file in one write:
        both land or, when a write fails, neither does. Returns what :meth:`undo` needs."""
        now = now or time.gmtime()
        writes: list[tuple[Path, int, int]] = []
        with self._lock():
            try:
                if truth:
                    writes.append(self._append(self._ground_truth_file(now),
                                               [self._truth_line(key, intent) for key, intent in truth]))
                if feedback:
                    writes.append(self._append(self.feedback_file,
                                               [json.dumps(row, ensure_ascii=False) + "\n" for row in feedback]))
            except BaseException:
                self._truncate(writes)
                raise
        return writes

    def undo(self, decision: Decision) -> None:
        """Take a decision back: its lines are cut off the files it appended to (only when
        nothing was appended after them: another session's lines are never cut)."""
        with self._lock():
            for path, _, end in decision.writes:
                if path.stat().st_size != end:
                    raise InputDataError(f"{path}: written to since this label; it cannot be taken back "
                                         "(label the question again instead)")
            self._truncate(decision.writes)

    def _lock(self):
        """One writer at a time across processes (label sessions, imports), so that a rollback
        never cuts lines another one appended."""
        from kgqa_cli.io import exclusive_lock

        return exclusive_lock(self.feedback_file.with_name(".labels.lock"), wait=True, what="labelling")

    @staticmethod
    def _truncate(writes: list[tuple[Path, int, int]]) -> None:
        for path, size, _ in reversed(writes):
            with path.open("r+b") as handle:
                handle.truncate(size)
                handle.flush()
                os.fsync(handle.fileno())
