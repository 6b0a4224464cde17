"""`kgqa bulkload`: load triples into the graph and write Neptune bulk-load CSV files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kgqa_cli.cli._util import (
    OVERRIDES,
    ConfigOption,
    JsonOption,
    PlanOption,
    VerboseOption,
    app,
    reject_plan,
    start,
)
from kgqa_cli.cli.graph import GraphTarget, GraphTargetOption

if TYPE_CHECKING:
    from kgqa_cli.settings import KgqaConfig


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
    target: GraphTargetOption = GraphTarget.local,
    resume: Annotated[
        bool, typer.Option("--resume", help="neptune: continue the last load of this graph (the loader's RESUME mode)")
    ] = False,
    plan: PlanOption = False,
    config: ConfigOption = None,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Load triples into the graph (embedded file or Gremlin server) and write Neptune CSV files.

    Loading the same input again adds nothing; an interrupted load finishes when re-run. --replace
    builds the new embedded graph in a file beside the live one, checks it and swaps it in with one
    rename: readers never see a partial graph, and a crash leaves the old one.

    With --target neptune the CSV files go to s3://bucket/prefix/bulkload/<content hash>/ and
    Neptune's bulk loader loads them into the cluster of `kgqa graph create --target neptune`
    (the same graph again is not reloaded); the load is followed to its end.

    Example: kgqa bulkload workspace/data/corpus/train.jsonl --replace
    """
    settings = start(ctx, config, verbose)
    _check_named_input(input, settings.graph.input)
    if target is GraphTarget.neptune:
        _bulkload_neptune(settings, input, replace, min_score, allow_empty, resume, plan, json_output)
        return
    reject_plan(plan, "--target neptune")
    if resume:
        from kgqa_cli.errors import ConfigError

        raise ConfigError("--resume applies to --target neptune; a local load resumes by running it again")
    if replace is not None:
        settings.graph.mode = "replace" if replace else "merge"
    if min_score is not None:
        settings.graph.min_score = min_score
    _bulkload_locally(settings, input, allow_empty, json_output)


def _bulkload_neptune(settings: KgqaConfig, input: Path | None, replace: bool | None, min_score: float | None,
                      allow_empty: bool, resume: bool, plan: bool, json_output: bool) -> None:
    """`--target neptune`: the load planned, or run and followed (:func:`_load_into_neptune`)."""
    if replace is not None or allow_empty:
        from kgqa_cli.errors import ConfigError

        raise ConfigError("--replace/--merge and --allow-empty apply to the local graph; Neptune's loader "
                          "adds to the cluster (aws.neptune.mode)")
    if min_score is not None:
        settings.graph.min_score = min_score
    if plan:
        from kgqa_cli.aws.neptune_load import bulkload_neptune
        from kgqa_cli.cli._aws import show_plan

        show_plan(settings, json_output, lambda: bulkload_neptune(settings, input, resume=resume))
        return
    _load_into_neptune(settings, input, resume, json_output)


def _bulkload_locally(settings: KgqaConfig, input: Path | None, allow_empty: bool, json_output: bool) -> None:
    """Load into the configured graph and write the Neptune CSV files; the counts printed."""
    from kgqa_cli.cli._tables import bulkload_tables
    from kgqa_cli.graph.bulkload import run_bulkload
    from kgqa_cli.ui import print_json, stdout

    report = run_bulkload(settings.graph, settings.paths, input, show_progress=not json_output,
                          allow_empty=allow_empty)
    if json_output:
        print_json(report)
        return
    for table in bulkload_tables(report):
        stdout.print(table)
    rate = report["triples_per_second"]
    stdout.print(
        f"graph {report['graph']} ({report['mode']}, {report['loader']} loader): {report['edges']['in_input']} triples in "
        f"{report['seconds']:.1f} s" + (f", {rate:,.0f} triples/s" if rate else "")
    )
    stdout.print(f"Neptune CSV: {report['csv']['vertices']}, {report['csv']['edges']}")


def _check_named_input(argument: Path | None, configured: Path | None) -> None:
    """A file the user named that is not there is bad input (exit 3); only a missing default, the
    extraction output, means a stage still has to run (exit 4, from the loader)."""
    from kgqa_cli.errors import InputDataError

    named, source = (argument, "INPUT") if argument is not None else (configured, "graph.input")
    if named is not None and not Path(named).exists():
        raise InputDataError(f"{named}: triples to load not found ({source})")


def _load_into_neptune(settings: KgqaConfig, input: Path | None, resume: bool, json_output: bool) -> None:
    """Load into Neptune, the loader's progress on stderr; with --json the result (a failed
    load's too) on stdout."""
    from kgqa_cli.aws.neptune_load import NeptuneLoadError, bulkload_neptune
    from kgqa_cli.ui import print_json, stderr, stdout

    def show(overall: dict) -> None:
        if not json_output:
            stderr.print(f"  {overall.get('status', '?')}: {overall.get('totalRecords', 0)} records, "
                         f"{overall.get('totalDuplicates', 0)} duplicates", markup=False, highlight=False)

    try:
        result = bulkload_neptune(settings, input, resume=resume, on_status=show)
    except NeptuneLoadError as exc:
        if json_output and exc.details:
            print_json(exc.details)
        raise
    if json_output:
        print_json(result)
        return
    if result["skipped"]:
        stdout.print(f"this graph ({result['hash']}) is already loaded in Neptune (load {result['load_id']}): "
                     "nothing to do", highlight=False)
        return
    counts = result["counts"]
    stdout.print(f"Neptune load {result['load_id']} {result['status']}: {counts['totalRecords']} records, "
                 f"{counts['totalDuplicates']} duplicates, {counts['parsingErrors']} parsing, "
                 f"{counts['datatypeMismatchErrors']} datatype and {counts['insertErrors']} insert errors "
                 f"({result['vertices']} vertices, {result['edges']} edges from {result['source']})", highlight=False)
