"""`kgqa questions`: generate the question model's train/dev/test sets from the schema."""

from __future__ import annotations

import typer

from kgqa_cli.cli._util import OVERRIDES, ConfigOption, JsonOption, VerboseOption, app, start


@app.command(**OVERRIDES)
def questions(
    ctx: typer.Context,
    config: ConfigOption = None,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Generate intent + BIO-slot questions from the schema, corpus names and graph names.

    Entity names are split first, so no name of a test question occurs in training.
    Example: kgqa questions --qa.questions.per_intent.train 200
    """
    from kgqa_cli.ui import print_json, stdout
    from kgqa_cli.understanding.questions import generate_questions, graph_names_if_any

    settings = start(ctx, config, verbose)
    names = graph_names_if_any(settings.graph, settings.paths) if settings.qa.questions.use_graph_names else []
    stats = generate_questions(settings.qa.questions, settings.paths, names, settings.ask.context).stats()
    if json_output:
        print_json(stats)
        return
    from kgqa_cli.cli._tables import count_table

    splits = stats["splits"]
    rows = [(intent, *(counts[split] for split in splits)) for intent, counts in stats["per_intent"].items()]
    rows.append(("[bold]total", *splits.values()))
    stdout.print(count_table("Generated questions per intent", ["intent", *splits], rows))
    names_line = ", ".join(f"{split} {n}" for split, n in stats["names"].items())
    stdout.print(f"{stats['intents']} intents; distinct entity names per split: {names_line}; written to {stats['output']}")
