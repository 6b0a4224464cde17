"""`kgqa label`: ground truth for captured traffic, in a terminal UI or from a file."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kgqa_cli.cli._util import OVERRIDES, ConfigOption, JsonOption, VerboseOption, app, start

if TYPE_CHECKING:
    from kgqa_cli.settings import KgqaConfig


class LabelWhat(str, Enum):
    """What `kgqa label` labels."""

    questions = "questions"
    triples = "triples"


@app.command(**OVERRIDES)
def label(
    ctx: typer.Context,
    what: Annotated[LabelWhat, typer.Argument(help="questions: the intent and entity of captured questions; "
                                              "triples: review extracted triples")] = LabelWhat.questions,
    import_file: Annotated[
        Path | None, typer.Option("--import", help="labels made elsewhere: CSV or JSON lines of eventId or question, "
                                  "intent, optional entity (triples: uid or subject, predicate, object; decision "
                                  "accept, reject or correct; corrected_subject, corrected_predicate, "
                                  "corrected_object)")] = None,
    export_file: Annotated[Path | None, typer.Option("--export", help="write every labelled question (JSON lines)")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="stop at the first unreadable line of the captures, ground "
                                         "truth or feedback (exit 3) instead of skipping it with a warning")] = False,
    qa_model: Annotated[
        str | None, typer.Option("--qa-model", help="qa version whose intents label \\[default: newest usable]",
                                 show_default=False)] = None,
    config: ConfigOption = None,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Label captured questions: Enter accepts, i intent, e entity, o out of scope, s skip, u undo, q quit.

    Each decision is written at once (ground truth in Model Monitor's format under
    <workspace>/groundtruth, the labelled question under <workspace>/data/feedback), and the
    next session resumes at the first question without a label. An unreadable line of the
    captures, ground truth or feedback is skipped with a warning (--strict: exit 3 instead).
    `kgqa label triples` reviews extracted triples instead: Enter accepts, r rejects, c corrects,
    s skips, u undoes; rejected triples leave the graph, accepted and corrected ones become
    training data for the extractor (data/feedback/kg.jsonl).
    Example: kgqa label --import labels.csv --json
    """
    settings = start(ctx, config, verbose)
    if what is LabelWhat.triples:
        if qa_model is not None:
            from kgqa_cli.errors import ConfigError

            raise ConfigError("--qa-model labels questions; `kgqa label triples` reviews the graph's triples")
        _label_triples(settings, import_file, export_file, strict, json_output)
        return
    _label_questions(settings, import_file, export_file, strict, qa_model, json_output)


def _label_questions(settings: KgqaConfig, import_file: Path | None, export_file: Path | None, strict: bool,
                     qa_model: str | None, json_output: bool) -> None:
    """Import and export labels, or label in the terminal UI when neither is asked and there is
    a terminal; say what was done."""
    from kgqa_cli.labeling.imports import read_import
    from kgqa_cli.labeling.session import LabelSession
    from kgqa_cli.ui import print_json, stdout

    session = LabelSession(settings, qa_model, strict=strict)
    result: dict = {"model_version": session.model_version, "waiting": len(session.groups)}
    if import_file is not None:
        result["imported"] = session.import_rows(read_import(import_file))
    if export_file is not None:
        result["exported"] = session.export(export_file)
    session.bad_lines.summary("captures, ground truth and feedback")
    result["skipped_lines"] = session.bad_lines.count
    interactive = import_file is None and export_file is None
    if interactive and session.groups and sys.stdin.isatty() and sys.stdout.isatty() and not json_output:
        from kgqa_cli.labeling.app import LabelApp

        LabelApp(session).run()
        result["labelled_this_session"] = session.labelled
    elif interactive and not json_output:
        stdout.print(
            "nothing to label: every captured question has ground truth" if not session.groups else
            f"{len(session.groups)} captured questions wait for labels; no terminal here "
            "(run `kgqa label` in a terminal, or `kgqa label --import FILE`)"
        )
        return
    if json_output:
        print_json(result)
        return
    if "imported" in result:
        counts = result["imported"]
        stdout.print(f"imported {counts['rows']} labels: {counts['ground_truth_records']} ground-truth records, "
                     f"{counts['feedback_questions']} feedback questions")
    if "exported" in result:
        stdout.print(f"exported {result['exported']} labelled questions to {export_file}")
    if "labelled_this_session" in result:
        stdout.print(f"labelled {result['labelled_this_session']} questions; "
                     f"{len(session.groups) - session.position} left")


def _label_triples(settings: KgqaConfig, import_file: Path | None, export_file: Path | None, strict: bool,
                   json_output: bool) -> None:
    """`kgqa label triples`: import and export review decisions, or review in the terminal UI;
    the decisions applied to the graph and the extractor's feedback."""
    from kgqa_cli.labeling.review_results import apply_reviews
    from kgqa_cli.labeling.triples import ReviewSession, read_review_import
    from kgqa_cli.ui import print_json, stdout

    session = ReviewSession(settings, strict=strict)
    result: dict = {"triples": len(session.triples), "waiting": len(session.queue),
                    "waiting_by_sample": {sample: sum(item.sample == sample for item in session.queue)
                                          for sample in ("answers", "threshold", "uniform")}}
    if import_file is not None:
        result["imported"] = session.import_rows(read_review_import(import_file), str(import_file))
    interactive = import_file is None and export_file is None
    if interactive and session.queue and sys.stdin.isatty() and sys.stdout.isatty() and not json_output:
        from kgqa_cli.labeling.triples_app import ReviewApp

        ReviewApp(session).run()
        result["reviewed_this_session"] = session.reviewed
    elif interactive and not json_output and not session.queue:
        stdout.print("nothing to review: every extracted triple in the queue has a verdict")
    elif interactive and not json_output:
        stdout.print(f"{len(session.queue)} triples wait for review; no terminal here "
                     "(run `kgqa label triples` in a terminal, or `kgqa label triples --import FILE`)")
    if import_file is not None or session.reviewed:
        result["applied"] = apply_reviews(settings)
    if export_file is not None:
        result["exported"] = session.export(export_file)
    session.bad_lines.summary("captures and decisions")
    result["skipped_lines"] = session.bad_lines.count
    if json_output:
        print_json(result)
        return
    if "imported" in result:
        counts = result["imported"]
        stdout.print(f"imported {counts['rows']} decisions: {counts['accept']} accepted, {counts['reject']} rejected, "
                     f"{counts['correct']} corrected")
    if "reviewed_this_session" in result:
        stdout.print(f"reviewed {result['reviewed_this_session']} triples; "
                     f"{len(session.queue) - session.position} left")
    if "applied" in result:
        applied = result["applied"]
        stdout.print(f"graph: {applied['removed_from_graph']} triples removed, {applied['added_to_graph']} "
                     f"corrections added; {applied['feedback_sentences']} reviewed sentences in "
                     f"{applied['feedback_file']} for `make retrain-kg`")
    if "exported" in result:
        stdout.print(f"exported {result['exported']} decisions to {export_file}")
