"""`kgqa monitor baseline|run`: model quality of the question model on captured traffic."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

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

if TYPE_CHECKING:
    from kgqa_cli.errors import KgqaError
    from kgqa_cli.settings import KgqaConfig

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
    force: Annotated[bool, typer.Option("--force", help="replace the version's existing baseline (kept otherwise: "
                                                        "exit 2)")] = False,
    config: ConfigOption = None,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Score a qa version on labelled questions; write statistics.json and constraints.json.

    Refused with exit 3 on fewer than monitor.baseline.min_rows labelled questions of intents the
    model knows, and with exit 2 when the version has a baseline already and --force is not given.
    Example: kgqa monitor baseline --model qa/v1
    """
    from kgqa_cli.monitoring.baseline import run_baseline
    from kgqa_cli.ui import print_json, stdout

    settings = start(ctx, config, verbose)
    summary = run_baseline(settings, model, data, force=force)
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
    strict: Annotated[bool, typer.Option("--strict", help="stop at the first unreadable capture or ground-truth line "
                                         "(exit 3) instead of skipping it with a warning (local runs)")] = False,
    target: TargetOption = Target.local,
    wait: WaitOption = False,
    plan: PlanOption = False,
    config: ConfigOption = None,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Join captured predictions to ground truth, score them against the baseline, report.

    Exit 9 when a constraint or drift limit is violated (an alert goes to the configured sinks);
    exit 4 when there is not enough ground truth in the window.
    Example: kgqa monitor run --start-offset -PT1H --end-offset PT0S
    """
    settings = start(ctx, config, verbose)
    if target is Target.sagemaker:
        _check_sagemaker_window(start_offset, end_offset, start_time, end_time, strict)
        if plan:
            from kgqa_cli.aws.processing import monitor_on_sagemaker
            from kgqa_cli.cli._aws import show_plan

            show_plan(settings, json_output, lambda: monitor_on_sagemaker(settings, start_offset, end_offset))
            return
        _run_sagemaker(settings, start_offset, end_offset, wait, json_output)
        return
    reject_wait(wait)
    reject_plan(plan)
    _run_local(settings, start_offset, end_offset, start_time, end_time, strict, json_output)


def _check_sagemaker_window(start_offset: str | None, end_offset: str | None, start_time: str | None,
                            end_time: str | None, strict: bool) -> None:
    """A SageMaker run's window: offsets only, checked here (the job would fail on a bad one
    only after minutes of start-up)."""
    from datetime import datetime, timezone

    from kgqa_cli.monitoring.monitor import offset_moment

    now = datetime.now(timezone.utc)
    for name, value in (("--start-offset", start_offset), ("--end-offset", end_offset)):
        if value is not None:
            offset_moment(now, value, name)
    if start_time or end_time or strict:
        from kgqa_cli.errors import ConfigError

        raise ConfigError("--start, --end and --strict apply locally; a SageMaker run takes "
                          "--start-offset/--end-offset")


def _run_local(settings: KgqaConfig, start_offset: str | None, end_offset: str | None, start_time: str | None,
               end_time: str | None, strict: bool, json_output: bool) -> None:
    """One monitoring run here; a violation alerts the configured sinks and is raised (exit 9)."""
    from kgqa_cli.errors import MonitorViolationError
    from kgqa_cli.monitoring.monitor import parse_time, run_monitor
    from kgqa_cli.ui import print_json, stdout

    try:
        summary = run_monitor(
            settings, start=parse_time(start_time) if start_time else None, end=parse_time(end_time) if end_time else None,
            start_offset=start_offset, end_offset=end_offset, strict=strict,
        )
    except MonitorViolationError as exc:
        _report_violation(settings, exc, ("metrics", "violations"), "model_versions", json_output)
        raise
    if json_output:
        print_json(summary)
        return
    metrics = summary["metrics"]
    stdout.print(f"{summary['labelled']} labelled of {summary['captured_questions']} captured questions "
                 f"({summary['window']['start']} - {summary['window']['end']}): accuracy {metrics['accuracy']:.4f}, "
                 f"weighted F1 {metrics['weighted_f1']:.4f}, answered {summary['answers']['answered_share']:.2%}")
    stdout.print(f"no violations; report {summary['report']}")


def _report_violation(settings: KgqaConfig, exc: KgqaError, figures: tuple[str, ...], versions: str,
                      json_output: bool) -> None:
    """A monitor's violation: an alert to the configured sinks (the run's ``figures`` and the
    model versions under ``versions``), and with --json the run's summary on stdout."""
    from kgqa_cli.aws.sns import alert_publishers
    from kgqa_cli.mlops.alerts import alert_on_failure
    from kgqa_cli.monitoring.report import version_names
    from kgqa_cli.ui import print_json

    details = getattr(exc, "details", {})
    alert_on_failure(settings.alerts, "monitor_violation", exc, publishers=alert_publishers(settings.aws), report=details.get("report"),
                     figures={name: details.get(name) for name in figures},
                     model_version=version_names(details.get(versions, {})) or None)
    if json_output and details:
        print_json(details)


def _run_sagemaker(settings: KgqaConfig, start_offset: str | None, end_offset: str | None, wait: bool,
                   json_output: bool) -> None:
    """One monitoring run as a SageMaker Processing job; with ``wait``, its violations as locally."""
    from kgqa_cli.aws.processing import monitor_on_sagemaker
    from kgqa_cli.cli._aws import following, print_submitted
    from kgqa_cli.errors import MonitorViolationError
    from kgqa_cli.mlops.alerts import alert_on_failure
    from kgqa_cli.ui import print_json, stdout

    with following("monitor run", wait and not json_output) as (on_status, on_log):
        result = monitor_on_sagemaker(settings, start_offset, end_offset, wait=wait, on_status=on_status, on_log=on_log)
    if json_output:
        print_json(result)
    else:
        print_submitted("processing", result, wait)
    summary = result.get("summary")
    if summary is None:
        return
    if summary["violations"]:
        names = ", ".join(v["metric_name"] for v in summary["violations"])
        error = MonitorViolationError(f"model quality: {len(summary['violations'])} violation(s) ({names})",
                                      hint=f"report {summary['report']}")
        # The job already published to aws.sns_topic_arn; the local sinks hear of it here.
        alert_on_failure(settings.alerts, "monitor_violation", error, report=summary.get("report"),
                         figures={"metrics": summary.get("metrics"), "violations": summary.get("violations")})
        raise error
    if not json_output:
        stdout.print(f"no violations; report {summary['report']}", highlight=False)


@monitor_app.command("kg", **OVERRIDES)
def kg(
    ctx: typer.Context,
    config: ConfigOption = None,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """The extractor's quality: its precision estimated from the reviewed uniform sample.

    Reads the verdicts of `kgqa label triples`; only the uniform sample counts, so the estimate
    is unbiased, with a 95 % Wilson interval, in all and per model version. Writes statistics,
    constraints, violations and report.html under <workspace>/monitoring/kg-runs/. Exit 9 when the
    precision falls below monitor.kg.min_precision (an alert goes to the configured sinks); exit
    4 with fewer reviews than monitor.kg.min_reviewed.
    Example: kgqa monitor kg --json
    """
    from kgqa_cli.errors import MonitorViolationError
    from kgqa_cli.monitoring.kg_quality import run_kg_quality
    from kgqa_cli.ui import print_json, stdout

    settings = start(ctx, config, verbose)
    try:
        summary = run_kg_quality(settings)
    except MonitorViolationError as exc:
        _report_violation(settings, exc, ("precision", "interval", "violations"), "by_model_version", json_output)
        raise
    if json_output:
        print_json(summary)
        return
    low, high = summary["interval"]
    stdout.print(f"extractor precision {summary['precision']:.3f} (95 % interval {low:.3f}-{high:.3f}) on "
                 f"{summary['reviewed']} reviewed sample triples; limit {summary['min_precision']}")
    stdout.print(f"no violations; report {summary['report']}")


@monitor_app.command("schedule", **OVERRIDES)
def schedule(
    ctx: typer.Context,
    target: TargetOption = Target.sagemaker,
    delete: Annotated[bool, typer.Option("--delete", help="remove the schedule (the monitor pipeline stays)")] = False,
    plan: PlanOption = False,
    config: ConfigOption = None,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Run the monitor on a schedule: an EventBridge Scheduler schedule (aws.schedule.expression)
    that starts the one-step pipeline <prefix>-monitor (Model Monitor schedules are closed to new
    customers). Locally, use cron or a systemd timer with `kgqa monitor run`.

    Example: kgqa monitor schedule --target sagemaker --aws.schedule.expression 'rate(6 hours)'
    """
    from kgqa_cli.ui import print_json, stdout

    settings = start(ctx, config, verbose)
    if target is not Target.sagemaker:
        from kgqa_cli.errors import ConfigError

        raise ConfigError("a local schedule is cron's or systemd's job: schedule `kgqa monitor run` there",
                          hint="or pass --target sagemaker")
    from kgqa_cli.aws.schedule import delete_schedule, schedule_monitor

    if plan:
        from kgqa_cli.cli._aws import show_plan

        show_plan(settings, json_output, lambda: delete_schedule(settings) if delete else schedule_monitor(settings))
        return
    result = delete_schedule(settings) if delete else schedule_monitor(settings)
    if json_output:
        print_json(result)
    elif delete:
        stdout.print(f"deleted schedule {result['schedule']}", highlight=False)
    else:
        stdout.print(f"{result['action']} schedule {result['arn']} ({result['expression']}) starting "
                     f"{result['pipeline']}", highlight=False)
