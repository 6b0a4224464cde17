"""`kgqa extract`: batch triple extraction from plain text or JSON lines."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kgqa_cli.cli._util import OVERRIDES, ConfigOption, JsonOption, VerboseOption, app, start


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
    model: Annotated[str | None, typer.Option("--model", help="registered kg version \\[default: latest]")] = None,
    config: ConfigOption = None,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Extract (subject, predicate, object) triples with the registered extractor, in the corpus format.

    Example: kgqa extract notes.txt -o triples.jsonl --batch-size 64
    """
    from kgqa_cli.extraction.extract import run_extract
    from kgqa_cli.ui import print_json, stderr, stdout

    settings = start(ctx, config, verbose)
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
