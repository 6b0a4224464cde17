"""Rendering of `kgqa train qa` and `kgqa evaluate qa` (the question model's kind of the dispatch)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kgqa_cli.settings import KgqaConfig


def train_qa(settings: KgqaConfig, resume: bool, restart: bool, json_output: bool) -> None:
    """Train the JointBERT question model on the generated questions and register it."""
    from kgqa_cli.mlops.distributed import current
    from kgqa_cli.ui import print_json, stdout
    from kgqa_cli.understanding.training import train_question_model

    result = train_question_model(settings.qa, settings.paths)
    if not current().main:  # under torchrun, rank 0 reports for the group
        return
    summary = {"model_version": result.version.name, "model_dir": str(result.version.path / "model"),
               "seconds": round(result.seconds, 1), **result.metrics, "curve": result.curve}
    if json_output:
        print_json(summary)
        return
    from kgqa_cli.cli._tables import curve_table

    columns = {
        "loss": "loss", "dev intent acc": "dev_intent_accuracy", "dev slot F1": "dev_slot_f1",
        "dev sentence acc": "dev_sentence_accuracy",
    }
    stdout.print(curve_table(f"Training curve of {result.version.name}", columns, result.curve, result.metrics["best_epoch"]))
    stdout.print(f"registered {result.version.name} (best epoch {result.metrics['best_epoch']}) in {result.seconds:.0f} s")


def evaluate_qa(settings: KgqaConfig, data: Path | None, model: str | None, min_f1: float | None, json_output: bool) -> None:
    """Score the question model on the test questions; exit 5 below the gates (report written first)."""
    from rich.table import Table

    from kgqa_cli.errors import QualityGateError
    from kgqa_cli.ui import print_json, stdout
    from kgqa_cli.understanding.training import evaluate_question_model

    if min_f1 is not None:
        settings.qa.gates.min_slot_f1 = min_f1  # for the question model --min-f1 gates the slot F1
    try:
        report = evaluate_question_model(settings.qa, settings.paths, version=model, data=data)
        failed = None
    except QualityGateError as exc:
        failed = exc
        path = settings.paths.evaluation_dir("qa") / "evaluation.json"
        import json

        report = json.loads(path.read_text(encoding="utf-8"))
    if json_output:
        print_json(report)
    else:
        table = Table(title=f"Question model {report['model_version']} per intent")
        table.add_column("intent")
        for column in ("questions", "intent acc", "slot F1", "sentence acc"):
            table.add_column(column, justify="right")
        for name, figures in [*report["per_intent"].items(), ("[bold]all", report)]:
            table.add_row(name, str(figures["questions"]), f"{figures['intent_accuracy']:.4f}",
                          f"{figures['slot_f1']:.4f}", f"{figures['sentence_accuracy']:.4f}")
        stdout.print(table)
        stdout.print(
            f"intent accuracy {report['intent_accuracy']:.4f}, slot F1 {report['slot_f1']:.4f}, "
            f"sentence accuracy {report['sentence_accuracy']:.4f}"
        )
    if failed is not None:
        from kgqa_cli.aws.sns import alert_publishers
        from kgqa_cli.mlops.alerts import alert_on_failure

        alert_on_failure(settings.alerts, "quality_gate_failed", failed, publishers=alert_publishers(settings.aws), model_version=report["model_version"],
                         figures={k: report[k] for k in ("intent_accuracy", "slot_f1", "sentence_accuracy")},
                         report=str(settings.paths.evaluation_dir("qa") / "evaluation.json"))
        raise failed
    if not json_output:
        if report["status"] == "Approved":
            stdout.print(f"quality gates passed: {report['model_version']} approved")
        else:
            stdout.print(f"quality gates passed: {report['model_version']} is {report['status']}; "
                         f"to serve it: kgqa registry approve {report['model_version']}")
