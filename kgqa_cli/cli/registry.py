"""`kgqa registry list|show|approve|reject`: the model registry and its human approval step."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from kgqa_cli.cli._util import (
    OVERRIDES,
    ConfigOption,
    JsonOption,
    PlanOption,
    Target,
    VerboseOption,
    app,
    reject_plan,
    start,
)

if TYPE_CHECKING:
    from pathlib import Path

    from kgqa_cli.aws.registry import SageMakerRegistry
    from kgqa_cli.mlops.registry import ModelVersion
    from kgqa_cli.settings import KgqaConfig

registry_app = typer.Typer(
    name="registry", help="Model versions, their figures and approval status; approve or reject one.",
    no_args_is_help=True,
)
app.add_typer(registry_app)

NameArgument = Annotated[str, typer.Argument(help="GROUP/VERSION, e.g. qa/v3")]
TargetOption = Annotated[
    Target, typer.Option("--target", help="local: the workspace's registry; sagemaker: the SageMaker model package "
                         "groups aws.package_group_prefix-kg|qa")
]


def _sagemaker(settings: KgqaConfig, target: Target) -> SageMakerRegistry | None:
    """The SageMaker registry when --target sagemaker, else None (the local one)."""
    if target is Target.local:
        return None
    from kgqa_cli.aws.registry import SageMakerRegistry
    from kgqa_cli.aws.s3 import boto3_module

    boto3_module()
    return SageMakerRegistry(settings.aws)


ReasonOption = Annotated[str | None, typer.Option("--reason", help="Why (kept in the version's history).")]


def _summary(version: ModelVersion) -> dict[str, Any]:
    """One version as `registry list` shows it."""
    package = version.package
    return {
        "name": version.name, "group": version.group, "version": version.number, "status": package["status"],
        "created": package.get("created"), "metrics": key_metrics(package), "data_hash": package.get("data_hash"),
        "artifact_hash": package.get("artifact_hash"), "git_commit": package.get("git_commit"),
    }


def key_metrics(package: dict) -> dict:
    """The figures that decide a version: its gate's evaluation, else its training's dev scores."""
    evaluation = {k: v for k, v in (package.get("evaluation") or {}).items() if isinstance(v, float)}
    if evaluation:
        return {f"test_{k}": v for k, v in evaluation.items()}
    return {k: v for k, v in (package.get("metrics") or {}).items() if k.startswith("dev_") and isinstance(v, float)}


@registry_app.command("list", **OVERRIDES)
def list_versions(
    ctx: typer.Context,
    group: Annotated[str | None, typer.Argument(help="only this group (kg, qa or pretrain)")] = None,
    target: TargetOption = Target.local,
    config: ConfigOption = None,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Every registered version: status, key metrics, created, data and artefact hashes.

    Example: kgqa registry list qa --json
    """
    from kgqa_cli.mlops.registry import Registry
    from kgqa_cli.ui import print_json, stdout

    settings = start(ctx, config, verbose)
    remote = _sagemaker(settings, target)
    registry = Registry(settings.paths.registry_dir)
    if remote is not None:
        rows = [{**row, "metrics": {}, "data_hash": None, "artifact_hash": None, "git_commit": None}
                for g in ([group] if group else ["kg", "qa"]) for row in remote.versions(g)]
    else:
        rows = [_summary(v) for g in ([group] if group else registry.groups()) for v in registry.versions(g)]
    if json_output:
        print_json(rows)
        return
    from rich.table import Table

    where = f"SageMaker model package groups {remote.prefix}-kg|qa" if remote else str(registry.root)
    if not rows:
        stdout.print(f"no model versions in {where} (`kgqa train kg` or `kgqa train qa` registers one)")
        return
    table = Table(title=f"Model registry {where}")
    # Hashes and commits only where the terminal has room; `show` and --json always have them.
    wide = stdout.width >= 110
    columns = ["version", "status", "key metrics", "created (UTC)"] + (["data", "artefacts", "commit"] if wide else [])
    for column in columns:
        widths = {"version": 7, "key metrics": 22}
        table.add_column(column, no_wrap=True, min_width=widths.get(column))
    colours = {"Approved": "green", "Rejected": "red", "PendingManualApproval": "yellow"}
    shown_status = {"PendingManualApproval": "Pending"}  # the full name is in `show` and --json
    for row in rows:
        figures = "\n".join(f"{k.replace('_', ' ')} {v:.4f}" for k, v in list(row["metrics"].items())[:3])
        created = (row["created"] or "").replace("T", " ")[:16]
        cells = [row["name"], f"[{colours[row['status']]}]{shown_status.get(row['status'], row['status'])}[/]", figures,
                 created]
        if wide:
            cells += [(row["data_hash"] or "")[:8], (row["artifact_hash"] or "")[:8], (row["git_commit"] or "")[:7]]
        table.add_row(*cells)
    stdout.print(table)


@registry_app.command("show", **OVERRIDES)
def show(
    ctx: typer.Context,
    name: NameArgument,
    target: TargetOption = Target.local,
    config: ConfigOption = None,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """One version in full: its package record, approval history and where its files are.

    Example: kgqa registry show qa/v1
    """
    import json

    from rich.markup import escape

    from kgqa_cli.mlops.registry import Registry
    from kgqa_cli.ui import print_json, stdout

    settings = start(ctx, config, verbose)
    remote = _sagemaker(settings, target)
    if remote is not None:
        record = remote.show(name)
        if not json_output:
            stdout.print(escape(json.dumps(record, ensure_ascii=False, indent=2, default=str)))
            return
        print_json(record)
        return
    version = Registry(settings.paths.registry_dir).parse_name(name)
    record = {**version.package, "path": str(version.path)}
    if json_output:
        print_json(record)
        return
    stdout.print(f"[bold]{version.name}[/] {record['status']} ({version.path})")
    for entry in record.get("history", []):
        stdout.print(f"  {entry['at']} {entry['status']} by {escape(str(entry['by']))}"
                     + (f": {escape(entry['reason'])}" if entry.get("reason") else ""))
    stdout.print(escape(json.dumps({k: v for k, v in record.items() if k != "history"}, ensure_ascii=False, indent=2)))


def _decide(ctx: typer.Context, name: str, status: str, reason: str | None, target: Target, config: Path | None,
            verbose: bool, plan: bool = False, json_output: bool = False) -> None:
    """Approve or reject a version (``status``) in the local or the SageMaker registry."""
    from kgqa_cli.mlops.registry import Registry
    from kgqa_cli.ui import stdout

    settings = start(ctx, config, verbose)
    if plan:
        reject_plan(target is Target.local)
        from kgqa_cli.cli._aws import show_plan

        def planned() -> None:
            remote = _sagemaker(settings, target)
            if remote is not None:  # always: --plan was refused for the local registry above
                remote.set_status(name, status, reason)

        show_plan(settings, json_output, planned)
        return
    from kgqa_cli.ui import print_json

    remote = _sagemaker(settings, target)
    if remote is not None:
        row = remote.set_status(name, status, reason)
        if json_output:
            print_json(row)
        else:
            stdout.print(f"{row['name']} ({row['arn']}): {row['previous']} -> {status}")
        return
    registry = Registry(settings.paths.registry_dir)
    version = registry.parse_name(name)
    before = version.status
    registry.set_status(version, status, reason=reason)
    if json_output:
        print_json({"name": version.name, "previous": before, "status": status})
    else:
        stdout.print(f"{version.name}: {before} -> {status}")


@registry_app.command("approve", **OVERRIDES)
def approve(
    ctx: typer.Context, name: NameArgument, reason: ReasonOption = None, target: TargetOption = Target.local,
    plan: PlanOption = False, config: ConfigOption = None, json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Approve a version for production (the human check before `kgqa deploy` serves it).

    Example: kgqa registry approve qa/v1 --reason "checked the demo questions"
    """
    _decide(ctx, name, "Approved", reason, target, config, verbose, plan, json_output)


@registry_app.command("reject", **OVERRIDES)
def reject(
    ctx: typer.Context, name: NameArgument, reason: ReasonOption = None, target: TargetOption = Target.local,
    plan: PlanOption = False, config: ConfigOption = None, json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Reject a version: `ask`, `extract` and `deploy` no longer take it unless named.

    Example: kgqa registry reject kg/v2 --reason "misses 导演 facts"
    """
    _decide(ctx, name, "Rejected", reason, target, config, verbose, plan, json_output)
