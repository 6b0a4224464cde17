"""`kgqa graph`: what the graph holds (counts per type and predicate, sample facts)."""

from __future__ import annotations

from typing import Annotated

import typer

from kgqa_cli.cli._util import OVERRIDES, ConfigOption, JsonOption, VerboseOption, app, start


@app.command(**OVERRIDES)
def graph(
    ctx: typer.Context,
    samples: Annotated[int, typer.Option("--samples", min=0, help="How many sample facts to show.")] = 5,
    about: Annotated[
        list[str] | None, typer.Option("--about", help="Also list every fact of this entity (repeatable).")
    ] = None,
    config: ConfigOption = None,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Show what the graph holds: vertices and edges, counts per type and predicate, sample facts.

    Example: kgqa graph --about 三度诱惑 --about 许晋亨
    """
    from rich.table import Table

    from kgqa_cli.cli._tables import shown
    from kgqa_cli.graph.queries import summary
    from kgqa_cli.graph.store import open_graph
    from kgqa_cli.ui import print_json, stdout

    settings = start(ctx, config, verbose)
    with open_graph(settings.graph, settings.paths, create=False) as store:
        report = {"graph": store.location, **summary(store.g, samples=samples, about=about or [])}
    if json_output:
        print_json(report)
        return
    stdout.print(f"graph {shown(report['graph'])}: {report['vertices']} vertices, {report['edges']} edges")
    for title, key, unit in (("Vertices per type", "types", "vertices"), ("Edges per predicate", "predicates", "edges")):
        table = Table(title=title)
        table.add_column(key[:-1])
        table.add_column(unit, justify="right")
        for name, count in report[key].items():
            table.add_row(shown(name), str(count))
        stdout.print(table)
    facts = Table(title="Facts")
    for column in ("subject", "predicate", "object", "score"):
        facts.add_column(column, justify="right" if column == "score" else "left")
    for fact in [*report["samples"], *(f for rows in report["about"].values() for f in rows)]:
        facts.add_row(shown(fact["subject"]), shown(fact["predicate"]), shown(fact["object"]),
                      f"{float(fact['score']):.3f}")
    stdout.print(facts)
    for name, rows in report["about"].items():
        if not rows:
            stdout.print(f"[yellow]no facts about {shown(name)} (as subject or object)[/]")
