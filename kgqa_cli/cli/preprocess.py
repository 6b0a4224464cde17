"""`kgqa preprocess`: validate, deduplicate and split a DuIE corpus."""

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
    from kgqa_cli.settings import KgqaConfig


@app.command(**OVERRIDES)
def preprocess(
    ctx: typer.Context,
    input: Annotated[
        Path | None, typer.Argument(help="DuIE file, folder or zip (default: preprocess.input)", show_default=False)
    ] = None,
    target: TargetOption = Target.local,
    wait: WaitOption = False,
    config: ConfigOption = None,
    json_output: JsonOption = False,
    plan: PlanOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Validate a DuIE 1.0/2.0 corpus, drop duplicates, write train/dev/test splits and the schema.

    Example: kgqa preprocess data/duie/duie_train.first5000.json --preprocess.seed 7
    """
    from kgqa_cli.data.preprocess import run_preprocess
    from kgqa_cli.ui import print_json, stderr, stdout

    settings = start(ctx, config, verbose)
    if input is not None:
        settings.preprocess.input = input
    if target is Target.sagemaker:
        if plan:
            from kgqa_cli.aws.processing import preprocess_stage, run_processing
            from kgqa_cli.cli._aws import show_plan

            show_plan(settings, json_output, lambda: run_processing(settings, preprocess_stage(settings),
                                                                    settings.aws.preprocess))
            return
        _preprocess_sagemaker(settings, wait, json_output)
        return
    reject_wait(wait)
    reject_plan(plan)
    report = run_preprocess(settings.preprocess, settings.paths)
    stats = report.stats()
    limit = settings.preprocess.max_reported
    for problem in report.problems[:limit]:
        stderr.print(f"[yellow]skipped[/] {problem}", markup=True, highlight=False)
    if len(report.problems) > limit:
        stderr.print(f"... and {len(report.problems) - limit} more: see {settings.paths.corpus_dir / 'rejected.jsonl'}")
    if json_output:
        print_json(stats)
        return
    from kgqa_cli.cli._tables import preprocess_tables

    for table in preprocess_tables(stats):
        stdout.print(table)
    stdout.print(f"splits and schema written to {settings.paths.corpus_dir}")


def _preprocess_sagemaker(settings: KgqaConfig, wait: bool, json_output: bool) -> None:
    from kgqa_cli.aws.processing import preprocess_stage, run_processing
    from kgqa_cli.cli._aws import following, print_submitted
    from kgqa_cli.ui import print_json, stdout

    stage = preprocess_stage(settings)
    with following("preprocess", wait and not json_output) as (on_status, on_log):
        result = run_processing(settings, stage, settings.aws.preprocess, wait=wait, on_status=on_status, on_log=on_log)
    if json_output:
        print_json(result)
        return
    print_submitted("processing", result, wait)
    if wait:
        stdout.print(f"splits and schema read back into {settings.paths.corpus_dir}")
