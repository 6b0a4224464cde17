"""`kgqa sync up|down [PATHS]`: the workspace to and from S3, with checksums."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from kgqa_cli.cli._util import OVERRIDES, ConfigOption, JsonOption, VerboseOption, app, start


class Direction(str, Enum):
    """Which way a sync copies."""

    up = "up"
    down = "down"


@app.command(**OVERRIDES)
def sync(
    ctx: typer.Context,
    direction: Annotated[Direction, typer.Argument(help="up: workspace -> S3; down: S3 -> workspace")],
    paths: Annotated[list[str] | None, typer.Argument(help="workspace-relative files or folders \\[default: all]",
                                                      show_default=False)] = None,
    config: ConfigOption = None,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Copy the workspace to s3://aws.bucket/aws.prefix/ (up) or back (down); unchanged files are skipped.

    Stage stamps, benchmarks, locks and partial files stay local. Credentials come from boto3's
    standard chain; AWS_ENDPOINT_URL points it at another S3 (a moto server, MinIO).
    Example: kgqa sync up models registry --aws.bucket my-kgqa
    """
    from kgqa_cli.aws.s3 import check_ready
    from kgqa_cli.aws.s3 import sync as run_sync
    from kgqa_cli.ui import print_json, progress, stdout

    settings = start(ctx, config, verbose)
    check_ready(settings.aws)
    with progress(transient=True) as bar:
        task = bar.add_task(f"sync {direction.value}", total=None)
        report = run_sync(settings.aws, settings.paths.root, direction.value, paths or [],
                          on_file=lambda _name: bar.advance(task))
    if json_output:
        print_json(report.to_json())
        return
    summary = report.to_json()
    arrow = "->" if direction is Direction.up else "<-"
    stdout.print(f"{settings.paths.root} {arrow} {report.location}: {summary['copied']} copied "
                 f"({summary['bytes_copied']:,} bytes), {summary['unchanged']} unchanged")
