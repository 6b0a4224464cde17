"""`kgqa monitor baseline|run`: model quality of the question model on captured traffic."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kgqa_cli.cli._util import OVERRIDES, ConfigOption, JsonOption, VerboseOption, app, start

monitor_app = typer.Typer(
    name="monitor", help="Model quality: a baseline from labelled questions, runs over captured traffic.",
    no_args_is_help=True,
)
app.add_typer(monitor_app)


@monitor_app.command("baseline", **OVERRIDES)
def baseline(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option("--model", help="qa version \\[default: newest Approved, else newest]",
                                              show_default=False)] = None,
    data: Annotated[Path | None, typer.Option("--data", help="labelled questions \\[default: the test questions]",
                                              show_default=False)] = None,
    config: ConfigOption = None,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Score a qa version on labelled questions; write statistics.json and constraints.json.

    Example: kgqa monitor baseline --model qa/v1
    """
    from kgqa_cli.monitoring.monitor import run_baseline
    from kgqa_cli.ui import print_json, stdout

    settings = start(ctx, config, verbose)
    summary = run_baseline(settings, model, data)
    if json_output:
        print_json(summary)
        return
    stdout.print(f"baseline of {summary['model_version']} on {summary['questions']} questions ({summary['data']}): "
                 f"accuracy {summary['accuracy']:.4f}, weighted F1 {summary['weighted_f1']:.4f}")
    stdout.print(f"written to {summary['folder']} (statistics.json, constraints.json, drift_baseline.json)")


@monitor_app.command("run", **OVERRIDES)
def run(
    ctx: typer.Context,
    start_offset: Annotated[str | None, typer.Option("--start-offset", help="window start, e.g. -P8D \\[default: "
                                                     "monitor.start_offset]", show_default=False)] = None,
    end_offset: Annotated[str | None, typer.Option("--end-offset", help="window end, e.g. -P1D or PT0S \\[default: "
                                                   "monitor.end_offset]", show_default=False)] = None,
    start_time: Annotated[str | None, typer.Option("--start", help="window start as a time, e.g. 2026-11-29T00:00:00Z",
                                                   show_default=False)] = None,
    end_time: Annotated[str | None, typer.Option("--end", help="window end as a time", show_default=False)] = None,
    config: ConfigOption = None,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Join captured predictions to ground truth, score them against the baseline, report.

    Exit 9 when a constraint or drift limit is violated (an alert goes to the configured sinks);
    exit 4 when there is not enough ground truth in the window.
    Example: kgqa monitor run --start-offset -PT1H --end-offset PT0S
    """
    from kgqa_cli.errors import MonitorViolationError
    from kgqa_cli.mlops.alerts import alert_on_failure
    from kgqa_cli.monitoring.monitor import parse_time, run_monitor
    from kgqa_cli.ui import print_json, stdout

    settings = start(ctx, config, verbose)
    try:
        summary = run_monitor(
            settings, start=parse_time(start_time) if start_time else None, end=parse_time(end_time) if end_time else None,
            start_offset=start_offset, end_offset=end_offset,
        )
    except MonitorViolationError as exc:
        details = getattr(exc, "details", {})
        alert_on_failure(settings.alerts, "monitor_violation", exc, report=details.get("report"),
                         figures={"metrics": details.get("metrics"), "violations": details.get("violations")},
                         model_version=", ".join(details.get("model_versions", {})) or None)
        if json_output and details:
            print_json(details)
        raise
    if json_output:
        print_json(summary)
        return
    metrics = summary["metrics"]
    stdout.print(f"{summary['labelled']} labelled of {summary['captured_questions']} captured questions "
                 f"({summary['window']['start']} - {summary['window']['end']}): accuracy {metrics['accuracy']:.4f}, "
                 f"weighted F1 {metrics['weighted_f1']:.4f}, answered {summary['answers']['answered_share']:.2%}")
    stdout.print(f"no violations; report {summary['report']}")
