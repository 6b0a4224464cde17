"""The ``kgqa evaluate kg`` stage: score a registered extractor on a corpus-format file."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kgqa_cli.data.corpus import load_corpus
from kgqa_cli.data.preprocess import require_split
from kgqa_cli.data.records import Record
from kgqa_cli.errors import InputDataError
from kgqa_cli.extraction.config import KgConfig
from kgqa_cli.io import write_json
from kgqa_cli.workspace import Workspace, ensure_writable

if TYPE_CHECKING:
    from kgqa_cli.extraction.predict import Extractor

log = logging.getLogger(__name__)


@dataclass
class EvaluationResult:
    """The report as written to ``evaluation.json``, where it went, and whether the gate passed."""

    report: dict
    path: Path
    passed: bool
    min_f1: float


def run_evaluate(
    config: KgConfig,
    workspace: Workspace,
    *,
    data: Path | None = None,
    version: str | None = None,
    min_f1: float | None = None,
    report_file: Path | None = None,
) -> EvaluationResult:
    """Extract from the gold file's texts, score exact triples, write the report, set the approval status.

    The report holds the errors by kind and the most frequent ones with examples
    (:func:`~kgqa_cli.extraction.metrics.error_analysis`); ``report_file`` gets them as Markdown,
    or HTML for a ``.html``/``.htm`` name. The caller raises the quality-gate error when
    ``passed`` is false, after the report is written.
    """
    from kgqa_cli.extraction.predict import load_registered
    from kgqa_cli.mlops.registry import Registry
    from kgqa_cli.torch_setup import set_threads
    from kgqa_cli.ui import progress

    data_path = Path(data) if data is not None else require_split(workspace, "test")
    if not data_path.exists():
        raise InputDataError(f"{data_path}: evaluation data not found")
    records = load_corpus(data_path)
    ensure_writable([workspace.evaluation_dir("kg")])
    if not records:
        raise InputDataError(f"{data_path}: no labelled sentences to evaluate on")
    set_threads(config.train.threads)
    extractor = load_registered(workspace.registry_dir, version, device=config.train.device, include_rejected=True)
    with progress() as bar:
        task = bar.add_task(f"evaluating {extractor.version}", total=len(records))
        metrics, predictions = evaluate_records(extractor, records, config, on_progress=lambda n: bar.advance(task, n))
    from kgqa_cli.extraction.metrics import error_analysis

    errors = error_analysis(records, predictions)
    threshold = config.evaluate.min_f1 if min_f1 is None else min_f1
    passed = metrics["f1"] >= threshold
    report = {
        "model_version": extractor.version, "data": str(data_path),
        **{key: metrics[key] for key in ("precision", "recall", "f1", "support", "predicted", "correct")},
        "sentences": len(records), "min_f1": threshold, "passed": passed,
        "per_predicate": metrics["per_predicate"], "errors": errors,
    }
    if report_file is not None:
        title = f"Extraction errors of {extractor.version} on {data_path} (F1 {metrics['f1']:.4f})"
        _write_error_report(Path(report_file), errors, title)
    path = workspace.evaluation_dir("kg") / "evaluation.json"
    write_json(path, report)
    registry = Registry(workspace.registry_dir)
    model_version = registry.get("kg", extractor.version)
    status = registry.apply_gate(
        model_version, passed, f"f1 {metrics['f1']:.4f} {'>=' if passed else '<'} min_f1 {threshold} on {data_path}",
        approve_on_pass=config.evaluate.approve_on_pass,
        evaluation={"data": str(data_path), **{k: metrics[k] for k in ("precision", "recall", "f1")}},
    )
    report["status"] = status
    write_json(path, report)
    return EvaluationResult(report, path, passed, threshold)


def _write_error_report(path: Path, errors: dict, title: str) -> None:
    """The error analysis as Markdown, or HTML for a ``.html``/``.htm`` name."""
    from kgqa_cli.errors import FileSystemError, describe_os_error
    from kgqa_cli.extraction.metrics import error_report

    try:
        path.write_text(error_report(errors, title, html=path.suffix in (".html", ".htm")), encoding="utf-8")
    except OSError as exc:
        raise FileSystemError(describe_os_error(exc, "cannot write the error report")) from exc


def evaluate_records(extractor: Extractor, records: list[Record], config: KgConfig,
                     on_progress: Callable[[int], None] | None = None) -> tuple[dict, list[Record]]:
    """Extract from the texts of gold records and score the result; returns (metrics, predictions)."""
    from kgqa_cli.extraction.metrics import score_triples

    settings = config.extract
    found = extractor.extract(
        [record.text for record in records],
        batch_size=settings.batch_size, max_chars=settings.max_chars,
        subject_threshold=settings.subject_threshold, object_threshold=settings.object_threshold,
        on_progress=on_progress, bfloat16=settings.bfloat16, workers=settings.workers,
    )
    predictions = [Record(text=record.text, spo_list=triples) for record, triples in zip(records, found, strict=True)]
    return score_triples(records, predictions), predictions
