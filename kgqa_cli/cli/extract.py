"""`kgqa extract`: batch triple extraction from plain text or JSON lines."""

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
def extract(
    ctx: typer.Context,
    input: Annotated[
        Path | None,
        typer.Argument(help="plain text (a sentence or paragraph a line) or JSON lines with 'text' "
                       "\\[default: kg.extract.input]", show_default=False),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="JSON lines out \\[default: <workspace>/extract/triples.jsonl]")
    ] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", min=1, help="sentences per batch")] = None,
    model: Annotated[str | None, typer.Option("--model", help="registered kg version \\[default: the newest Approved, "
                                              "else the newest usable; sagemaker: newest Approved package]")] = None,
    target: TargetOption = Target.local,
    wait: WaitOption = False,
    config: ConfigOption = None,
    json_output: JsonOption = False,
    plan: PlanOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Extract (subject, predicate, object) triples with the registered extractor, in the corpus format.

    With --target sagemaker a Batch Transform job runs an Approved package of the SageMaker
    registry over the lines (sharded across aws.transform.instance_count); --wait reads the
    result back into the output file.
    Example: kgqa extract notes.txt -o triples.jsonl --batch-size 64
    """
    settings = start(ctx, config, verbose)
    if target is Target.sagemaker:
        if output is not None:
            settings.kg.extract.output = output
        if batch_size is not None:
            settings.kg.extract.batch_size = batch_size
        if plan:
            from kgqa_cli.aws.models import extract_on_sagemaker
            from kgqa_cli.cli._aws import show_plan

            show_plan(settings, json_output, lambda: extract_on_sagemaker(settings, input, model))
            return
        _extract_sagemaker(settings, input, model, wait, json_output)
        return
    reject_wait(wait)
    reject_plan(plan)
    _extract_locally(settings, input, output, batch_size, model, json_output)


def _extract_locally(settings: KgqaConfig, input: Path | None, output: Path | None, batch_size: int | None,
                     model: str | None, json_output: bool) -> None:
    """Extract here with the registered extractor; the lines skipped on stderr, the summary on stdout."""
    from kgqa_cli.extraction.extract import run_extract
    from kgqa_cli.ui import print_json, stderr, stdout

    result = run_extract(
        settings.kg, settings.paths, input_path=input, output_path=output, batch_size=batch_size, version=model
    )
    for problem in result.skipped[:20]:
        stderr.print(f"[yellow]skipped[/] {problem}", markup=True, highlight=False)
    if len(result.skipped) > 20:
        stderr.print(f"... and {len(result.skipped) - 20} more lines skipped")
    summary = {
        "output": str(result.output), "model_version": result.model_version, "sentences": result.sentences,
        "triples": result.triples, "skipped_lines": len(result.skipped),
        "sentences_per_second": round(result.sentences_per_second, 1),
    }
    if json_output:
        print_json(summary)
        return
    stdout.print(
        f"{result.triples} triples from {result.sentences} lines ({summary['sentences_per_second']} sentences/s, "
        f"{result.model_version}) written to {result.output}"
        + (f"; {len(result.skipped)} lines skipped" if result.skipped else "")
    )


def _extract_sagemaker(settings: KgqaConfig, input: Path | None, model: str | None, wait: bool, json_output: bool) -> None:
    from kgqa_cli.aws.models import extract_on_sagemaker
    from kgqa_cli.cli._aws import following, print_submitted
    from kgqa_cli.ui import print_json, stdout

    with following("extract", wait and not json_output) as (on_status, on_log):
        result = extract_on_sagemaker(settings, input, model, wait=wait, on_status=on_status, on_log=on_log)
    if json_output:
        print_json(result)
        return
    print_submitted("transform", result, wait)
    if wait:
        stdout.print(f"{result['triples']} triples from {result['extracted']} lines ({result['model_version']}) "
                     f"written to {result['output_file']}", highlight=False)
