"""`kgqa preprocess`: validate, deduplicate and split a DuIE corpus."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kgqa_cli.cli._util import OVERRIDES, ConfigOption, JsonOption, VerboseOption, app, start


@app.command(**OVERRIDES)
def preprocess(
    ctx: typer.Context,
    input: Annotated[
        Path | None, typer.Argument(help="DuIE file, folder or zip (default: preprocess.input)", show_default=False)
    ] = None,
    config: ConfigOption = None,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Validate a DuIE 1.0/2.0 corpus, drop duplicates, write train/dev/test splits and the schema.

    Example: kgqa preprocess ../shared/data/duie/duie_train.first5000.json --preprocess.seed 7
    """
    from kgqa_cli.data.preprocess import run_preprocess
    from kgqa_cli.ui import print_json, stderr, stdout

    settings = start(ctx, config, verbose)
    if input is not None:
        settings.preprocess.input = input
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
