"""`kgqa graph [show|create|delete]`: what the graph holds; the Neptune cluster made or removed."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

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

if TYPE_CHECKING:
    from kgqa_cli.settings import KgqaConfig


class GraphAction(str, Enum):
    """What `kgqa graph` does."""

    show = "show"
    create = "create"
    delete = "delete"


class GraphTarget(str, Enum):
    """Which graph: the configured one (embedded file or Gremlin server), or Amazon Neptune."""

    local = "local"
    neptune = "neptune"


GraphTargetOption = Annotated[
    GraphTarget, typer.Option("--target", help="local: the configured graph; neptune: the Amazon Neptune cluster "
                              "of aws.neptune (needs the aws extra)")
]


@app.command(**OVERRIDES)
def graph(
    ctx: typer.Context,
    action: Annotated[GraphAction, typer.Argument(help="show: what the graph holds; create / delete: the Neptune "
                                                  "cluster, its instances and loader role (--target neptune)")]
    = GraphAction.show,
    target: GraphTargetOption = GraphTarget.local,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="delete without asking")] = False,
    samples: Annotated[int, typer.Option("--samples", min=0, help="How many sample facts to show.")] = 5,
    about: Annotated[
        list[str] | None, typer.Option("--about", help="Also list every fact of this entity (repeatable).")
    ] = None,
    plan: PlanOption = False,
    config: ConfigOption = None,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Show what the graph holds: vertices and edges, counts per type and predicate, sample facts.

    `kgqa graph create --target neptune` gets or creates the cluster aws.neptune.cluster_id, its
    instances and the loader role, waits until they are available and keeps the endpoint in the
    workspace; a rerun changes nothing. `kgqa graph delete --target neptune` tears them down.
    Example: kgqa graph --about 三度诱惑 --about 许晋亨
    """
    settings = start(ctx, config, verbose)
    if action is not GraphAction.show:
        if plan and target is GraphTarget.neptune:
            from kgqa_cli.aws.neptune import Neptune
            from kgqa_cli.cli._aws import show_plan

            def planned() -> None:
                neptune = Neptune(settings)
                neptune.delete() if action is GraphAction.delete else neptune.get_or_create()

            show_plan(settings, json_output, planned)
            return
        reject_plan(plan, "--target neptune")
        _neptune(settings, action, target, yes, json_output)
        return
    reject_plan(plan, "graph create|delete --target neptune")
    if target is GraphTarget.neptune:
        from kgqa_cli.aws.neptune import use_cluster

        use_cluster(settings)
    from kgqa_cli.graph.queries import summary
    from kgqa_cli.graph.store import open_graph
    from kgqa_cli.ui import print_json

    with open_graph(settings.graph, settings.paths, create=False) as store:
        report = {"graph": store.location, **summary(store.g, samples=samples, about=about or [])}
    if json_output:
        print_json(report)
        return
    _print_summary(report)


def _print_summary(report: dict[str, Any]) -> None:
    """The counts per type and predicate, the sample facts and those about the entities asked."""
    from rich.table import Table

    from kgqa_cli.cli._tables import shown
    from kgqa_cli.ui import stdout

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


def _neptune(settings: KgqaConfig, action: GraphAction, target: GraphTarget, yes: bool, json_output: bool) -> None:
    """`kgqa graph create|delete --target neptune`: the cluster made (or found) or torn down."""
    from kgqa_cli.errors import ConfigError
    from kgqa_cli.ui import print_json, stderr, stdout

    if target is not GraphTarget.neptune:
        raise ConfigError(f"`kgqa graph {action.value}` applies to --target neptune; the embedded graph is made "
                          "by `kgqa bulkload`")
    from kgqa_cli.aws.neptune import Neptune

    neptune = Neptune(settings, on_status=lambda line: stderr.print(f"  {line}", markup=False, highlight=False))
    if action is GraphAction.delete:
        if not yes and not typer.confirm(f"Delete the Neptune cluster {settings.aws.neptune.cluster_id}, its "
                                         "instances and the loader role? The graph in it is lost", err=True):
            raise typer.Exit(1)
        result = neptune.delete()
        if json_output:
            print_json(result)
        else:
            stdout.print(f"deleted {', '.join(result['removed']) or 'nothing (none found)'}", highlight=False)
        return
    with stderr.status(f"Neptune cluster {settings.aws.neptune.cluster_id}"):
        result = neptune.get_or_create()
    if json_output:
        print_json(result)
        return
    what = f"created {', '.join(result['created'])}" if result["created"] else "nothing to change: all present"
    stdout.print(f"{what}; endpoint {result['endpoint']}:{result['port']} (IAM auth "
                 f"{'on' if result['iam_auth'] else 'off'}), kept in {settings.paths.graph_dir / 'neptune.json'}",
                 highlight=False)
