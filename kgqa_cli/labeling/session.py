"""One labelling session, apart from any screen: the queue, the pending label, decisions, undo.

The terminal UI (:mod:`kgqa_cli.labeling.app`) and ``kgqa label --import`` both drive it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kgqa_cli.errors import InputDataError
from kgqa_cli.labeling.store import (
    Decision,
    Group,
    ImportRow,
    LabelWriter,
    intent_slots,
    label_queue,
    predicted_entity,
    read_items,
    tags_for,
)
from kgqa_cli.serving.config import capture_root
from kgqa_cli.understanding.templates import NONE_INTENT


@dataclass
class Pending:
    """The label about to be given to the current question (the prediction until corrected)."""

    intent: str
    entity: str | None


class LabelSession:
    """The questions to label and the decisions taken on them."""

    def __init__(self, settings: Any, qa_model: str | None = None) -> None:
        from kgqa_cli.mlops.registry import Registry

        version = Registry(settings.paths.registry_dir).get("qa", qa_model or settings.ask.qa_model)
        self.model_version = version.name
        self.slots_of = intent_slots(version.path / "model")
        self.intents = sorted(self.slots_of)
        self.capture_root = capture_root(settings)
        self.writer = LabelWriter(settings.paths.groundtruth_dir, settings.paths.feedback_file)
        self.feedback_file = settings.paths.feedback_file
        self.groups: list[Group] = label_queue(self.capture_root, settings.paths.groundtruth_dir)
        self.position = 0
        self.history: list[tuple[int, Decision]] = []
        self.pending: Pending | None = None
        self._reset_pending()

    # ------------------------------------------------------------------ where we are

    @property
    def current(self) -> Group | None:
        """The group being labelled, or None when every question is done."""
        return self.groups[self.position] if self.position < len(self.groups) else None

    @property
    def labelled(self) -> int:
        """Questions labelled in this session (undone ones not counted)."""
        return len(self.history)

    def _reset_pending(self) -> None:
        group = self.current
        if group is None:
            self.pending = None
            return
        predicted = group.prediction.get("intent")
        intent = predicted if predicted in self.slots_of else NONE_INTENT
        entity = predicted_entity(group)
        self.pending = Pending(intent, entity if entity and self.slots_of.get(intent) else None)

    # ------------------------------------------------------------------ the pending label

    def set_intent(self, intent: str) -> None:
        """Correct the intent of the pending label."""
        if intent not in self.slots_of:
            raise InputDataError(f"{intent!r} is not an intent of the question model")
        self.pending.intent = intent
        if self.slots_of[intent] is None:
            self.pending.entity = None

    def set_entity(self, text: str | None) -> None:
        """Re-mark the entity of the pending label (a text of the question, or None)."""
        if text and text not in self.current.question:
            raise InputDataError(f"{text!r} does not occur in the question")
        self.pending.entity = text or None

    def pending_tags(self) -> list[str]:
        """The BIO tags the pending label gives each character."""
        if not self.pending.entity:
            return ["O"] * len(self.current.question)
        return tags_for(self.current, self.pending.intent, self.slots_of, self.pending.entity)

    # ------------------------------------------------------------------ decisions

    def accept(self) -> Decision:
        """Write the pending label for the current group and move on."""
        group = self.current
        decision = self.writer.decide(group, self.pending.intent, self.pending_tags())
        self.history.append((self.position, decision))
        self.position += 1
        self._reset_pending()
        return decision

    def out_of_scope(self) -> Decision:
        """Label the current question ``none`` (not a question the graph answers) and move on."""
        self.set_intent(NONE_INTENT)
        return self.accept()

    def skip(self) -> None:
        """Leave the current question unlabelled for now (it comes back next session)."""
        self.position += 1
        self._reset_pending()

    def undo(self) -> Group | None:
        """Take the last decision back and return to its question; None when there is none."""
        if not self.history:
            return None
        position, decision = self.history.pop()
        self.writer.undo(decision)
        self.position = position
        self._reset_pending()
        return decision.group

    # ------------------------------------------------------------------ without the screen

    def import_rows(self, rows: list[ImportRow]) -> dict:
        """Apply labels made elsewhere: by capture key, or by question text (every captured
        request of that question; a question never captured becomes feedback alone)."""
        by_key: dict[str, Group] = {}
        by_question: dict[str, Group] = {}
        for item, _ in read_items(self.capture_root):
            by_key[item.key] = Group(item.question, [item])
            by_question.setdefault(item.question, Group(item.question)).items.append(item)
        records = questions = 0
        for row in rows:
            if row.intent not in self.slots_of:
                raise InputDataError(f"{row.source}: {row.intent!r} is not an intent of {self.model_version}")
            if row.key is not None:
                group = by_key.get(row.key)
                if group is None:
                    raise InputDataError(f"{row.source}: no captured request has the key {row.key!r}")
            else:  # a question never captured becomes feedback alone (no request to key truth to)
                group = by_question.get(row.question) or Group(row.question, [])
            try:
                tags = tags_for(group, row.intent, self.slots_of, row.entity)
            except InputDataError as exc:
                raise InputDataError(f"{row.source}: {exc}") from exc
            self.writer.decide(group, row.intent, tags, source="import")
            records += len(group.items)
            questions += 1
        return {"rows": len(rows), "ground_truth_records": records, "feedback_questions": questions}

    def export(self, target: Path) -> int:
        """Write every labelled question (text, intent, slots) as JSON lines; returns the count."""
        from kgqa_cli.io import write_jsonl
        from kgqa_cli.understanding.questions import read_questions

        rows = [{key: record[key] for key in ("text", "intent", "slots")}
                for record in read_questions(self.feedback_file)] if self.feedback_file.exists() else []
        return write_jsonl(Path(target), rows)

