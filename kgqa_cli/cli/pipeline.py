"""`kgqa pipeline build|upsert|start|show kg|qa|monitor`: the SageMaker Pipelines."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from kgqa_cli.cli._util import OVERRIDES, ConfigOption, JsonOption, PlanOption, VerboseOption, app, start

pipeline_app = typer.Typer(
    name="pipeline", no_args_is_help=True,
    help="SageMaker Pipelines: kg (preprocess, train, evaluate, gate, register, extract), qa (questions, train, "
         "evaluate, gate, register) and monitor.",
)
app.add_typer(pipeline_app)


class PipelineKind(str, Enum):
    """The pipelines kgqa defines."""

    kg = "kg"
    qa = "qa"
    monitor = "monitor"


KindArgument = Annotated[PipelineKind, typer.Argument(help="which pipeline")]


@pipeline_app.command("build", **OVERRIDES)
def build(ctx: typer.Context, kind: KindArgument, config: ConfigOption = None, json_output: JsonOption = False,
          verbose: VerboseOption = False) -> None:
    """Write the definition JSON to <workspace>/pipelines/KIND/ without calling AWS.

    Example: kgqa pipeline build kg --aws.bucket my-bucket --aws.role_arn arn:aws:iam::123456789012:role/kgqa
    """
    from kgqa_cli.aws.pipelines import build as build_definition
    from kgqa_cli.ui import print_json, stdout

    settings = start(ctx, config, verbose)
    result = build_definition(settings, kind.value)
    if json_output:
        print_json(result)
        return
    stdout.print(f"{result['pipeline']}: {result['layout']}", highlight=False)
    stdout.print(f"{len(result['steps'])} steps; definition in {result['definition']}", highlight=False)


@pipeline_app.command("upsert", **OVERRIDES)
def upsert(ctx: typer.Context, kind: KindArgument, plan: PlanOption = False, config: ConfigOption = None,
           json_output: JsonOption = False, verbose: VerboseOption = False) -> None:
    """Build, upload the source, config and inputs, and create or update the pipeline.

    --plan prints the definition, the uploads and the create call, and what one execution would
    cost, without sending anything.
    """
    from kgqa_cli.aws.pipelines import upsert as upsert_pipeline
    from kgqa_cli.ui import print_json, stdout

    settings = start(ctx, config, verbose)
    if plan:
        from kgqa_cli.cli._aws import show_plan

        show_plan(settings, json_output, lambda: upsert_pipeline(settings, kind.value))
        return
    result = upsert_pipeline(settings, kind.value)
    if json_output:
        print_json(result)
        return
    stdout.print(f"{result['action']} pipeline {result['arn']} ({len(result['steps'])} steps; "
                 f"{result['inputs_uploaded']} input file(s) uploaded)", highlight=False)


@pipeline_app.command("start", **OVERRIDES)
def start_execution(
    ctx: typer.Context, kind: KindArgument,
    parameter: Annotated[list[str] | None, typer.Option("--param", "-p", help="NAME=VALUE of a pipeline parameter "
                                                        "(repeatable), e.g. MinF1=0.7", show_default=False)] = None,
    plan: PlanOption = False, config: ConfigOption = None, json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Start an execution; parameters not given keep their defaults (the config's gates)."""
    from kgqa_cli.aws.pipelines import start as start_pipeline
    from kgqa_cli.errors import ConfigError
    from kgqa_cli.ui import print_json, stdout

    settings = start(ctx, config, verbose)
    values = {}
    for item in parameter or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ConfigError(f"--param {item!r}: write NAME=VALUE")
        values[name] = value
    if plan:
        from kgqa_cli.cli._aws import show_plan

        show_plan(settings, json_output, lambda: start_pipeline(settings, kind.value, values))
        return
    result = start_pipeline(settings, kind.value, values)
    if json_output:
        print_json(result)
        return
    stdout.print(f"started {result['execution']}", highlight=False)


@pipeline_app.command("show", **OVERRIDES)
def show(ctx: typer.Context, kind: KindArgument, config: ConfigOption = None, json_output: JsonOption = False,
         verbose: VerboseOption = False) -> None:
    """The pipeline's steps and parameters, its newest executions and their step statuses."""
    from rich.table import Table

    from kgqa_cli.aws.pipelines import show as show_pipeline
    from kgqa_cli.ui import print_json, stdout

    settings = start(ctx, config, verbose)
    result = show_pipeline(settings, kind.value)
    if json_output:
        print_json(result)
        return
    stdout.print(f"{result['pipeline']}: {result['layout']}", highlight=False)
    stdout.print("parameters: " + ", ".join(f"{k}={v}" for k, v in result["parameters"].items()), highlight=False)
    table = Table(title="Executions (newest first)")
    for column in ("started", "status", "steps"):
        table.add_column(column)
    for row in result["executions"]:
        steps = ", ".join(f"{s['name']} {s['status']}" for s in row["steps"]) if row["steps"] is not None else (
            f"(not listed: {row.get('steps_error')})")
        table.add_row(row["started"], str(row["status"]), steps)
    stdout.print(table)
