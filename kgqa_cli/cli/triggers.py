"""`kgqa triggers install|show|remove [code|data|schedule]`: what retrains kgqa on AWS."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from kgqa_cli.cli._util import OVERRIDES, ConfigOption, JsonOption, PlanOption, VerboseOption, app, start

triggers_app = typer.Typer(
    name="triggers", no_args_is_help=True,
    help="Retraining on AWS: code (a push runs the tests and the pipelines), data (new training data starts "
         "the kg pipeline), schedule (both pipelines on a schedule).",
)
app.add_typer(triggers_app)


class TriggerKind(str, Enum):
    """The triggers kgqa installs."""

    code = "code"
    data = "data"
    schedule = "schedule"


KindsArgument = Annotated[list[TriggerKind] | None, typer.Argument(help="which triggers \\[default: all three]",
                                                                   show_default=False)]


def _kinds(kinds: list[TriggerKind] | None) -> list[str]:
    return [k.value for k in kinds] if kinds else [k.value for k in TriggerKind]


@triggers_app.command("install", **OVERRIDES)
def install(
    ctx: typer.Context,
    kinds: KindsArgument = None,
    s3_events: Annotated[bool | None, typer.Option(
        "--s3-events/--cloudtrail", help="data: S3 -> EventBridge notifications, or a CloudTrail trail "
        "\\[default: aws.triggers.s3_event_notifications]", show_default=False)] = None,
    plan: PlanOption = False,
    config: ConfigOption = None, json_output: JsonOption = False, verbose: VerboseOption = False,
) -> None:
    """Install the triggers, or bring them in line with the config; a second run changes nothing.

    Example: kgqa triggers install data --s3-events
    """
    from kgqa_cli.aws.triggers import Triggers
    from kgqa_cli.ui import print_json, stdout

    settings = start(ctx, config, verbose)

    def install_all() -> list[dict]:
        triggers = Triggers(settings)
        results = []
        for kind in _kinds(kinds):
            if kind == "code":
                results.append(triggers.install_code())
            elif kind == "data":
                results.append(triggers.install_data(s3_events))
            else:
                results.append(triggers.install_schedule())
        return results

    if plan:
        from kgqa_cli.cli._aws import show_plan

        show_plan(settings, json_output, install_all)
        return
    results = install_all()
    if json_output:
        print_json(results)
        return
    for result in results:
        done = ", ".join(result["changes"]) if result["changes"] else "nothing to change"
        stdout.print(f"{result['trigger']}: {done}", highlight=False)


@triggers_app.command("show", **OVERRIDES)
def show(ctx: typer.Context, config: ConfigOption = None, json_output: JsonOption = False,
         verbose: VerboseOption = False) -> None:
    """Which triggers are installed, with their rules, targets and schedules."""
    from kgqa_cli.aws.triggers import Triggers
    from kgqa_cli.ui import print_json, stdout

    settings = start(ctx, config, verbose)
    rows = Triggers(settings).show()
    if json_output:
        print_json(rows)
        return
    for row in rows:
        if not row["installed"]:
            stdout.print(f"{row['trigger']}: not installed", highlight=False)
        elif row["trigger"] == "schedule":
            stdout.print(f"schedule: {', '.join(row['expressions'])}", highlight=False)
        else:
            stdout.print(f"{row['trigger']}: rule {row['rule']} ({row['state']}) -> {', '.join(row['targets'])}",
                         highlight=False)


@triggers_app.command("remove", **OVERRIDES)
def remove(ctx: typer.Context, kinds: KindsArgument = None, plan: PlanOption = False, config: ConfigOption = None,
           json_output: JsonOption = False, verbose: VerboseOption = False) -> None:
    """Remove the triggers (their roles stay, for a later install)."""
    from kgqa_cli.aws.triggers import Triggers
    from kgqa_cli.ui import print_json, stdout

    settings = start(ctx, config, verbose)
    if plan:
        from kgqa_cli.cli._aws import show_plan

        show_plan(settings, json_output, lambda: [Triggers(settings).remove(kind) for kind in _kinds(kinds)])
        return
    triggers = Triggers(settings)
    results = [triggers.remove(kind) for kind in _kinds(kinds)]
    if json_output:
        print_json(results)
        return
    for result in results:
        stdout.print(f"{result['trigger']}: removed {', '.join(result['removed']) or 'nothing (none found)'}",
                     highlight=False)
