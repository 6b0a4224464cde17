"""The Processing jobs' entry point: plain kgqa code run on the workspace the job mounts.

SageMaker mounts each input at its workspace-relative path under ``<root>/workspace`` (root
``/opt/ml/processing``) and uploads the output folders from there when the script ends; the
effective config is ``<root>/input/config/kgqa.json``. Tasks:

- ``preprocess PATH``: the raw corpus at PATH into data/corpus.
- ``evaluate kg|qa``: the model archive in ``<root>/input/model`` on the test data, into
  evaluation/<kind>/evaluation.json. A failed gate is a result, not a failure: the job completes
  and the report says ``passed: false``, for the pipeline's condition (or the caller) to act on.
- ``monitor``: one monitoring run over the capture, into monitoring/runs/<time>/ (kept on S3 under
  monitoring/sagemaker/<job>/); violations
  are published to ``--topic`` and the job still completes.
- ``questions``: the question data (data/questions) from data/corpus, the templates in the
  config folder, the graph's names (when graph/ is mounted) and the labelled feedback.
- ``neptune-create``: get or create the Neptune cluster, its instances and loader role
  (`kgqa graph create --target neptune`), leaving graph/neptune.json for the next step.
- ``neptune-load``: the Batch Transform output (extract/transform/**/*.out) into Neptune through
  its bulk loader (`kgqa bulkload --target neptune`).
- ``alert``: publish the gate's report (``--report``) as an SNS message to ``--topic``.

A test runs it locally with a temporary root, exactly as the container runs it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgqa_cli.aws.sns import publish_alert

if TYPE_CHECKING:
    from kgqa_cli.settings import KgqaConfig


def _settings(root: Path) -> KgqaConfig:
    from kgqa_cli.settings import KgqaConfig

    config_file = root / "input" / "config" / "kgqa.json"
    sections = json.loads(config_file.read_text(encoding="utf-8")) if config_file.exists() else {}
    return KgqaConfig.model_validate({**sections, "workspace": str(root / "workspace")})


def _unpack_model(root: Path, target: Path) -> Path:
    """The model archive of the ``model`` input, unpacked into ``target`` (data only: no links
    or devices)."""
    archives = sorted((root / "input" / "model").glob("*.tar.gz"))
    if not archives:
        raise FileNotFoundError(f"no model archive (*.tar.gz) in {root / 'input' / 'model'}")
    with tarfile.open(archives[0], mode="r:gz") as archive:
        archive.extractall(target, filter="data")
    return target


def evaluate(settings: KgqaConfig, root: Path, kind: str) -> dict[str, Any]:
    """Register the archive's model in the job's own registry, evaluate it, keep the report."""
    from kgqa_cli.errors import QualityGateError
    from kgqa_cli.mlops.registry import Registry

    with tempfile.TemporaryDirectory(prefix="kgqa-model-") as unpacked:  # the registry keeps its own copy
        Registry(settings.paths.registry_dir).register(kind, _unpack_model(root, Path(unpacked)), {})
    if kind == "kg":
        from kgqa_cli.extraction.evaluate import run_evaluate

        result = run_evaluate(settings.kg, settings.paths)
        report = {**result.report, "passed": result.passed}
    else:
        from kgqa_cli.understanding.training import evaluate_question_model

        try:
            report = evaluate_question_model(settings.qa, settings.paths)
        except QualityGateError:
            path = settings.paths.evaluation_dir("qa") / "evaluation.json"
            report = json.loads(path.read_text(encoding="utf-8"))
        report["passed"] = report["gates"]["passed"]
    path = settings.paths.evaluation_dir(kind) / "evaluation.json"  # the job's output folder
    path.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"kgqa evaluate {kind}: {'passed' if report['passed'] else 'failed'} the gate; report {path}")
    return report


def transform_records(settings: KgqaConfig) -> list[dict[str, Any]]:
    """The Batch Transform's JSON lines (extract/transform/**/*.out), records without text skipped."""
    records = []
    for path in sorted(settings.paths.transform_dir.rglob("*.out")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line) if line.strip() else {}
            if isinstance(record, dict) and record.get("text"):
                records.append(record)
    return records


def neptune_load(settings: KgqaConfig) -> dict[str, Any]:
    """The transform's triples into Neptune through its bulk loader (the cluster known from the
    RetrieveOrCreateNeptuneDB step's graph/neptune.json)."""
    from kgqa_cli.aws.neptune_load import bulkload_neptune
    from kgqa_cli.io import write_text_atomic

    triples = settings.paths.triples_file
    records = transform_records(settings)
    write_text_atomic(triples, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    result = bulkload_neptune(settings, triples, on_status=lambda overall: print(
        f"kgqa neptune-load: {overall.get('status')} {overall.get('totalRecords', 0)} records"))
    print(f"kgqa neptune-load: {json.dumps(result, ensure_ascii=False)}")
    return result


def _parser() -> argparse.ArgumentParser:
    """The tasks and their arguments, as the Processing jobs' requests pass them."""
    parser = argparse.ArgumentParser(prog="kgqa-processing")
    parser.add_argument("--root", type=Path, default=Path("/opt/ml/processing"))
    parser.add_argument("--region", default=None)
    tasks = parser.add_subparsers(dest="task", required=True)
    tasks.add_parser("preprocess").add_argument("input")
    tasks.add_parser("evaluate").add_argument("kind", choices=("kg", "qa"))
    monitor = tasks.add_parser("monitor")
    monitor.add_argument("--start-offset")
    monitor.add_argument("--end-offset")
    monitor.add_argument("--topic")
    monitor.add_argument("--endpoint", help="the SageMaker endpoint whose capture is mounted")
    monitor.add_argument("--variant", default="AllTraffic")
    tasks.add_parser("questions")
    tasks.add_parser("neptune-create")
    tasks.add_parser("neptune-load")
    alert = tasks.add_parser("alert")
    alert.add_argument("--topic", required=True)
    alert.add_argument("--subject", required=True)
    alert.add_argument("--report")
    return parser


def preprocess(settings: KgqaConfig, args: argparse.Namespace) -> None:
    """The raw corpus at the workspace path ``args.input`` into data/corpus."""
    from kgqa_cli.data.preprocess import run_preprocess

    settings.preprocess.input = settings.paths.root / args.input
    stats = run_preprocess(settings.preprocess, settings.paths).stats()
    print(f"kgqa preprocess: {json.dumps(stats, ensure_ascii=False)}")


def questions(settings: KgqaConfig, args: argparse.Namespace) -> None:
    """The question data from the corpus, the config folder's templates, the graph's names and
    the labelled feedback."""
    from kgqa_cli.understanding.questions import generate_questions, graph_names_if_any

    templates = args.root / "input" / "config" / "questions.yaml"
    if templates.exists():
        settings.qa.questions.templates = templates
    names = graph_names_if_any(settings.graph, settings.paths) if settings.qa.questions.use_graph_names else []
    stats = generate_questions(settings.qa.questions, settings.paths, names, settings.ask.context).stats()
    print(f"kgqa questions: {json.dumps(stats['splits'])}")


def neptune_create(settings: KgqaConfig) -> None:
    """Get or create the Neptune cluster, leaving graph/neptune.json for the load step."""
    from kgqa_cli.aws.neptune import Neptune

    state = Neptune(settings, on_status=lambda line: print(f"kgqa neptune-create: {line}")).get_or_create()
    print(f"kgqa neptune-create: {json.dumps(state, ensure_ascii=False, default=str)}")


def monitor(settings: KgqaConfig, args: argparse.Namespace) -> None:
    """One monitoring run over the mounted capture; a violation is published to ``--topic`` and
    the job still completes."""
    from kgqa_cli.errors import MonitorViolationError
    from kgqa_cli.monitoring.monitor import run_monitor

    if args.endpoint:  # the capture SageMaker wrote: datacapture/<endpoint>/<variant>/ of the workspace
        capture = settings.serve.capture
        capture.destination, capture.endpoint_name, capture.variant_name = None, args.endpoint, args.variant
    try:
        summary = run_monitor(settings, start_offset=args.start_offset, end_offset=args.end_offset)
        print(f"kgqa monitor: no violations; {json.dumps(summary['metrics'])}")
    except MonitorViolationError as exc:
        print(f"kgqa monitor: {exc}")
        if args.topic:
            from kgqa_cli.mlops.alerts import alert_body

            details = getattr(exc, "details", {})
            publish_alert(args.topic, args.region, "kgqa: model-quality violation",
                          alert_body("monitor_violation", str(exc), figures={"metrics": details.get("metrics"),
                                                                              "violations": details.get("violations")}))


def alert(args: argparse.Namespace) -> None:
    """Publish the gate's report (``--report``, under the ``report`` input) to ``--topic``."""
    from kgqa_cli.mlops.alerts import alert_body

    report: dict[str, Any] = {}
    if args.report:
        files = sorted(Path(args.root, "input", "report").rglob(args.report))
        report = json.loads(files[0].read_text(encoding="utf-8")) if files else {}
    figures = {k: v for k, v in report.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    publish_alert(args.topic, args.region, args.subject,
                  alert_body("quality_gate_failed", args.subject, model_version=report.get("model_version"),
                             figures=figures))
    print(f"kgqa alert: published to {args.topic}")


def main(argv: list[str] | None = None) -> int:
    """Run one task; 0 when it did its job (a failed gate or a violation included)."""
    args = _parser().parse_args(argv)
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s", force=True)
    settings = _settings(args.root)
    if args.task == "preprocess":
        preprocess(settings, args)
    elif args.task == "evaluate":
        evaluate(settings, args.root, args.kind)
    elif args.task == "questions":
        questions(settings, args)
    elif args.task == "neptune-create":
        neptune_create(settings)
    elif args.task == "neptune-load":
        neptune_load(settings)
    elif args.task == "monitor":
        monitor(settings, args)
    else:
        alert(args)
    return 0


if __name__ == "__main__":
    from kgqa_cli.errors import KgqaError

    try:
        sys.exit(main())
    except KgqaError as exc:  # one line in the job's log, and the exit code the CLI would give
        print(f"kgqa: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
