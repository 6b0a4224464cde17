"""One labelling session, apart from any screen: the queue, the pending label, decisions, undo.

The terminal UI (:mod:`kgqa_cli.labeling.app`) and ``kgqa label --import`` both drive it.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kgqa_cli.errors import ConfigError, FileSystemError, InputDataError
from kgqa_cli.io import BadLines
from kgqa_cli.labeling.captures import Group, Item, capture_files, read_items, shared_inference_ids
from kgqa_cli.labeling.imports import ImportRow
from kgqa_cli.labeling.label_queue import intent_slots, label_queue, predicted_entity, tags_for
from kgqa_cli.labeling.store import Decision, LabelWriter, read_ground_truth
from kgqa_cli.serving.capture import capture_root
from kgqa_cli.understanding.labelled import read_feedback_rows
from kgqa_cli.understanding.templates import NONE_INTENT

if TYPE_CHECKING:
    from kgqa_cli.settings import KgqaConfig


@dataclass
class Pending:
    """The label about to be given to the current question (the prediction until corrected)."""

    intent: str
    entity: str | None


class LabelSession:
    """The questions to label and the decisions taken on them."""

    def __init__(self, settings: KgqaConfig, qa_model: str | None = None, *, strict: bool = False) -> None:
        from kgqa_cli.mlops.registry import Registry

        version = Registry(settings.paths.registry_dir).get("qa", qa_model or settings.ask.qa_model)
        self.model_version = version.name
        self.slots_of = intent_slots(version.path / "model")
        self.intents = sorted(self.slots_of)
        self.routes = _intent_routes(version.path / "model")
        self.capture_root = capture_root(settings)
        self.writer = LabelWriter(settings.paths.groundtruth_dir, settings.paths.feedback_file)
        self.feedback_file = settings.paths.feedback_file
        self.ground_truth_root = settings.paths.groundtruth_dir
        # Bad lines of the captures, ground truth and feedback: skipped and counted (fatal when strict).
        self.bad_lines = BadLines(strict=strict)
        self.groups: list[Group] = label_queue(self.capture_root, self.ground_truth_root, self.bad_lines)
        from kgqa_cli.serving.capture import capture_destination
        from kgqa_cli.serving.feedback import feedback_file, read_answer_feedback

        capture = settings.serve.capture
        # People's 👍/👎 on the endpoint's answers (the chat page), shown beside their question.
        self.ratings = read_answer_feedback(feedback_file(capture_destination(settings), capture.endpoint_name,
                                                          capture.variant_name), self.bad_lines)
        self.position = 0
        self.history: list[tuple[int, Decision]] = []
        self.pending: Pending | None = None
        self._reset_pending()

    def ratings_of(self, group: Group) -> list[dict]:
        """The ratings people gave the answers to this question (latest per request)."""
        return [self.ratings[item.inference_key] for item in group.items
                if item.inference_key is not None and not item.shared and item.inference_key in self.ratings]

    def intent_label(self, intent: str | None) -> str:
        """An intent with the Chinese predicate it asks for: ``ask_director（导演）``."""
        from kgqa_cli.answering.details import intent_label

        return intent_label(str(intent), self.routes)

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

    def labelling(self) -> tuple[Group, Pending]:
        """The group being labelled and the label pending for it; an error when every question
        is done (the screen offers no label then)."""
        if self.current is None or self.pending is None:
            raise InputDataError("every question of the queue is labelled")
        return self.current, self.pending

    def set_intent(self, intent: str) -> None:
        """Correct the intent of the pending label."""
        if intent not in self.slots_of:
            raise InputDataError(f"{intent!r} is not an intent of the question model")
        _, pending = self.labelling()
        pending.intent = intent
        if self.slots_of[intent] is None:
            pending.entity = None

    def set_entity(self, text: str | None) -> None:
        """Re-mark the entity of the pending label (a text of the question, or None)."""
        group, pending = self.labelling()
        if text and text not in group.question:
            raise InputDataError(f"{text!r} does not occur in the question")
        pending.entity = text or None

    def pending_tags(self) -> list[str]:
        """The BIO tags the pending label gives each character."""
        group, pending = self.labelling()
        if not pending.entity:
            return ["O"] * len(group.question)
        return tags_for(group, pending.intent, self.slots_of, pending.entity)

    # ------------------------------------------------------------------ decisions

    def accept(self) -> Decision:
        """Write the pending label for the current group and move on."""
        group, pending = self.labelling()
        decision = self.writer.decide(group, pending.intent, self.pending_tags())
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
        position, decision = self.history[-1]
        self.writer.undo(decision)  # refused (and kept in the history) when others wrote after it
        self.history.pop()
        self.position = position
        self._reset_pending()
        return decision.group

    # ------------------------------------------------------------------ without the screen

    def import_rows(self, rows: list[ImportRow]) -> dict:
        """Apply labels made elsewhere: by capture key, or by question text (every captured
        request of that question; a question never captured becomes feedback alone).

        Every row is checked before anything is written, then all is written at once. A label
        that the ground truth or the feedback already holds adds nothing; a different label for
        the same key or text is appended after the earlier one, which readers then pass over
        (it stays in the file as the history). Within the file, a later row of a key wins."""
        # The queue has reported the bad lines of the captures and ground truth already.
        again = BadLines(strict=self.bad_lines.strict, shown=0)
        shared = shared_inference_ids(capture_files(self.capture_root))
        captured = list(read_items(self.capture_root, bad=again, shared=shared))
        by_key: dict[str, Item] = {}
        by_question: dict[str, Group] = {}
        for item, _ in captured:
            by_key[item.event_key] = item
            by_key[item.key] = item
            by_question.setdefault(item.question, Group(item.question)).items.append(item)
        truth: dict[str, str] = {}  # key -> intent, the file's last word on each
        questions: dict[str, tuple[Group, str, list[str]]] = {}  # text -> (group, intent, tags)
        for row in rows:
            if row.intent not in self.slots_of:
                raise InputDataError(f"{row.source}: {row.intent!r} is not an intent of {self.model_version}")
            group = _row_group(row, by_key, by_question, shared)
            try:
                tags = tags_for(group, row.intent, self.slots_of, row.entity)
            except InputDataError as exc:
                raise InputDataError(f"{row.source}: {exc}") from exc
            for item in group.items:
                truth.pop(item.key, None)
                truth[item.key] = row.intent
            questions.pop(group.question, None)
            questions[group.question] = (group, row.intent, tags)
        known = read_ground_truth(self.ground_truth_root, again)
        learnt = read_feedback_rows(self.feedback_file, self.bad_lines)
        new_truth = [(key, intent) for key, intent in truth.items() if known.get(key) != intent]
        now = time.gmtime()
        new_feedback = [
            self.writer.feedback_row(group, intent, tags, "import", now)
            for group, intent, tags in questions.values()
            if (learnt.get(group.question) or {}).get("intent") != intent
            or (learnt.get(group.question) or {}).get("slots") != tags
        ]
        self.writer.write_all(new_truth, new_feedback, now)
        return {"rows": len(rows), "ground_truth_records": len(new_truth), "feedback_questions": len(new_feedback)}

    def export(self, target: Path) -> int:
        """Write every labelled question (text, intent, slots; the latest label of each text) as
        JSON lines; returns the count."""
        from kgqa_cli.io import write_jsonl

        target = Path(target)
        if target.is_dir():
            raise ConfigError(f"{target} is a folder: name the export file, e.g. {target / 'labelled.jsonl'}")
        latest = read_feedback_rows(self.feedback_file, self.bad_lines)
        rows = [{key: record[key] for key in ("text", "intent", "slots")} for record in latest.values()]
        try:
            return write_jsonl(target, rows)
        except OSError as exc:
            raise FileSystemError(f"{target}: cannot write the export: {exc.strerror or exc}") from exc


def _row_group(row: ImportRow, by_key: dict[str, Item], by_question: dict[str, Group], shared: Counter[str]) -> Group:
    """The captured requests an imported label is for: the one its key names, else every request
    of its question (none for a question never captured: it becomes feedback alone, with no
    request to key ground truth to)."""
    if row.key is None:
        question = row.question or ""  # an import row without a key has a question
        return by_question.get(question) or Group(question, [])
    base, mark, index = row.key.rpartition("#")
    reused = row.key if row.key in shared else base if mark and index.isdigit() and base in shared else None
    if reused is not None:
        raise InputDataError(f"{row.source}: inference id {row.key!r} names {shared[reused]} captured "
                             "requests; label by eventId")
    item = by_key.get(row.key)
    if item is None:
        raise InputDataError(f"{row.source}: no captured request has the key {row.key!r}")
    return Group(item.question, [item])


def _intent_routes(model_folder: Path) -> dict[str, list[dict]]:
    """Each intent's routes (predicate and direction) from the model's ``config.json``; none when
    it cannot be read (the intents then show without their predicates)."""
    import json

    try:
        routes = json.loads((Path(model_folder) / "config.json").read_text(encoding="utf-8")).get("routes")
    except (OSError, ValueError, AttributeError):
        return {}
    return routes if isinstance(routes, dict) else {}
