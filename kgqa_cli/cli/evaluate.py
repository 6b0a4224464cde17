"""`kgqa evaluate [KIND]`: score a registered model and apply the quality gate."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kgqa_cli.cli._qa import evaluate_qa
from kgqa_cli.cli._util import (
    OVERRIDES,
    ConfigOption,
    JsonOption,
    PlanOption,
    Target,
    TargetOption,
    VerboseOption,
    WaitOption,
    app,
    reject_plan,
    reject_wait,
    start,
)
from kgqa_cli.cli.train import KindArgument, ModelKind

if TYPE_CHECKING:
    from rich.table import Table

    from kgqa_cli.settings import KgqaConfig


@app.command(**OVERRIDES)
def evaluate(
    ctx: typer.Context,
    kind: KindArgument = ModelKind.kg,
    data: Annotated[
        Path | None, typer.Option("--data", help="corpus-format file to score on \\[default: the test split]")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="registered version such as 3 or v3 \\[default: latest]")
    ] = None,
    min_f1: Annotated[
        float | None, typer.Option(
            "--min-f1", min=0, max=1,
            help="quality gate: kg F1 (default kg.evaluate.min_f1) or qa slot F1 (default qa.gates.min_slot_f1)",
        )
    ] = None,
    report_file: Annotated[
        Path | None, typer.Option(
            "--report", help="kg: write the error analysis (errors by kind, the 20 most frequent with examples) "
            "to this file: HTML for .html/.htm, else Markdown")
    ] = None,
    target: TargetOption = Target.local,
    wait: WaitOption = False,
    config: ConfigOption = None,
    json_output: JsonOption = False,
    plan: PlanOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Evaluate a model, write evaluation.json, approve or reject it; exit 5 below the gate.

    With --target sagemaker a Processing job evaluates a package of the SageMaker registry (the
    newest, or --model N) on the workspace's test data; --wait reads the report back and gates
    the package there.
    Example: kgqa evaluate kg --data data/duie/duie_train.sample4398.json --min-f1 0.5
    """
    settings = start(ctx, config, verbose)
    if target is Target.sagemaker:
        if data is not None:
            from kgqa_cli.errors import ConfigError

            raise ConfigError("--data applies locally; a SageMaker evaluation scores the workspace's test split")
        _gate_override(settings, kind, min_f1)
        if plan:
            from kgqa_cli.aws.processing import evaluate_on_sagemaker
            from kgqa_cli.cli._aws import show_plan

            show_plan(settings, json_output, lambda: evaluate_on_sagemaker(settings, kind.value, model))
            return
        _evaluate_sagemaker(settings, kind.value, model, wait, json_output)
        return
    reject_wait(wait)
    reject_plan(plan)
    if report_file is not None and kind is not ModelKind.kg:
        from kgqa_cli.errors import ConfigError

        raise ConfigError("--report writes the extractor's error analysis: it applies to `kgqa evaluate kg`")
    if kind is ModelKind.kg:
        _evaluate_kg(settings, data, model, min_f1, json_output, report_file)
    else:
        evaluate_qa(settings, data, model, min_f1, json_output)


def _gate_override(settings: KgqaConfig, kind: ModelKind, min_f1: float | None) -> None:
    if min_f1 is not None:
        if kind is ModelKind.kg:
            settings.kg.evaluate.min_f1 = min_f1
        else:
            settings.qa.gates.min_slot_f1 = min_f1


def _evaluate_sagemaker(settings: KgqaConfig, kind: str, model: str | None, wait: bool, json_output: bool) -> None:
    from kgqa_cli.aws.processing import evaluate_on_sagemaker
    from kgqa_cli.cli._aws import following, print_submitted
    from kgqa_cli.ui import print_json, stdout

    with following(f"evaluate {kind}", wait and not json_output) as (on_status, on_log):
        result = evaluate_on_sagemaker(settings, kind, model, wait=wait, on_status=on_status, on_log=on_log)
    if json_output:
        print_json(result)
    else:
        print_submitted("processing", result, wait)
        if wait:
            stdout.print(f"{result['model_version']} (SageMaker registry) is {result['status_after']}; "
                         f"report in {result['report']}", highlight=False)
    if wait and not result["passed"]:
        from kgqa_cli.aws.sns import alert_publishers
        from kgqa_cli.errors import QualityGateError
        from kgqa_cli.mlops.alerts import alert_on_failure

        error = QualityGateError(f"{result['model_version']} failed its quality gate on SageMaker: rejected",
                                 hint=f"report in {result['report']}")
        alert_on_failure(settings.alerts, "quality_gate_failed", error, publishers=alert_publishers(settings.aws), model_version=result["model_version"],
                         report=result["report"])
        raise error


def _evaluate_kg(settings: KgqaConfig, data: Path | None, model: str | None, min_f1: float | None, json_output: bool,
                 report_file: Path | None = None) -> None:
    from kgqa_cli.errors import QualityGateError
    from kgqa_cli.extraction.evaluate import run_evaluate
    from kgqa_cli.ui import print_json, stdout

    result = run_evaluate(settings.kg, settings.paths, data=data, version=model, min_f1=min_f1,
                          report_file=report_file)
    report = result.report
    if json_output:
        print_json(report)
    else:
        stdout.print(_per_predicate_table(report))
        stdout.print(
            f"{report['model_version']} on {report['data']}: precision {report['precision']:.4f}, "
            f"recall {report['recall']:.4f}, F1 {report['f1']:.4f}; report in {result.path}"
        )
        kinds = ", ".join(f"{kind} {v['count']}" for kind, v in report["errors"]["by_kind"].items())
        stdout.print(f"errors: {kinds}" + (f"; error report in {report_file}" if report_file else ""),
                     highlight=False)
    if not result.passed:
        from kgqa_cli.aws.sns import alert_publishers
        from kgqa_cli.mlops.alerts import alert_on_failure

        error = QualityGateError(
            f"F1 {report['f1']:.4f} is below the gate min_f1 {result.min_f1}: {report['model_version']} rejected",
            hint=f"report in {result.path}",
        )
        alert_on_failure(settings.alerts, "quality_gate_failed", error, publishers=alert_publishers(settings.aws), model_version=report["model_version"],
                         figures={k: report[k] for k in ("precision", "recall", "f1", "min_f1")}, report=str(result.path))
        raise error
    if not json_output:
        stdout.print(f"quality gate passed (F1 >= {result.min_f1}): {report['model_version']} is {report['status']}")


def _per_predicate_table(report: dict[str, Any]) -> Table:
    """Gold, predicted and correct triples per predicate, with precision, recall and F1."""
    from rich.table import Table

    table = Table(title=f"Exact triples per predicate ({report['model_version']})")
    table.add_column("predicate")
    for column in ("gold", "predicted", "correct", "precision", "recall", "F1"):
        table.add_column(column, justify="right")
    rows = [*report["per_predicate"].items(), ("[bold]all", report)]
    for name, figures in rows:
        table.add_row(
            name, str(figures["support"]), str(figures["predicted"]), str(figures["correct"]),
            f"{figures['precision']:.4f}", f"{figures['recall']:.4f}", f"{figures['f1']:.4f}",
        )
    return table


