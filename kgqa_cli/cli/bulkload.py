"""`kgqa bulkload`: load triples into the graph and write Neptune bulk-load CSV files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kgqa_cli.cli._util import OVERRIDES, ConfigOption, JsonOption, VerboseOption, app, start


@app.command(**OVERRIDES)
def bulkload(
    ctx: typer.Context,
    input: Annotated[
        Path | None,
        typer.Argument(help="corpus-format triples (extraction output or a gold file) \\[default: graph.input]",
                       show_default=False),
    ] = None,
    replace: Annotated[
        bool | None,
        typer.Option("--replace/--merge", help="Empty the graph first, or merge into it \\[default: graph.mode]",
                     show_default=False),
    ] = None,
    min_score: Annotated[
        float | None,
        typer.Option("--min-score", min=0.0, max=1.0, help="Skip triples scored below this \\[default: graph.min_score]",
                     show_default=False),
    ] = None,
    allow_empty: Annotated[
        bool, typer.Option("--allow-empty", help="Let --replace with no triples empty the graph (refused otherwise).")
    ] = False,
    config: ConfigOption = None,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Load triples into the graph (embedded file or Gremlin server) and write Neptune CSV files.

    Loading the same input again adds nothing; an interrupted load finishes when re-run. --replace
    builds the new embedded graph in a file beside the live one, checks it and swaps it in with one
    rename: readers never see a partial graph, and a crash leaves the old one.

    Example: kgqa bulkload workspace/data/corpus/train.jsonl --replace
    """
    from kgqa_cli.graph.bulkload import run_bulkload
    from kgqa_cli.ui import print_json, stdout

    settings = start(ctx, config, verbose)
    if replace is not None:
        settings.graph.mode = "replace" if replace else "merge"
    if min_score is not None:
        settings.graph.min_score = min_score
    report = run_bulkload(settings.graph, settings.paths, input, show_progress=not json_output,
                          allow_empty=allow_empty)
    if json_output:
        print_json(report)
        return
    from kgqa_cli.cli._tables import bulkload_tables

    for table in bulkload_tables(report):
        stdout.print(table)
    rate = report["triples_per_second"]
    stdout.print(
        f"graph {report['graph']} ({report['mode']}, {report['loader']} loader): {report['edges']['in_input']} triples in "
        f"{report['seconds']:.1f} s" + (f", {rate:,.0f} triples/s" if rate else "")
    )
    stdout.print(f"Neptune CSV: {report['csv']['vertices']}, {report['csv']['edges']}")
