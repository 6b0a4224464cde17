"""`kgqa train [KIND]`: train a model of the given kind (the triple extractor ``kg`` for now)."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated

import typer

from kgqa_cli.cli._qa import train_qa
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
    from kgqa_cli.settings import KgqaConfig


class ModelKind(str, Enum):
    """Model kinds that can be trained and evaluated (one member per implemented kind)."""

    kg = "kg"
    qa = "qa"


KindArgument = Annotated[
    ModelKind, typer.Argument(help="which model: kg = the triple extractor, qa = the question model", show_default=True)
]


@app.command(**OVERRIDES)
def train(
    ctx: typer.Context,
    kind: KindArgument = ModelKind.kg,
    resume: Annotated[
        bool, typer.Option("--resume", help="kg only: continue from the last checkpoint after an interruption.")
    ] = False,
    restart: Annotated[
        bool, typer.Option("--restart", help="kg only: discard the last checkpoint and start over.")
    ] = False,
    init: Annotated[
        str | None, typer.Option("--init", help="kg only: start from a pretrained encoder (`kgqa pretrain`): "
                                 r"pretrain/vN, vN or latest \[default: kg.train.init]")
    ] = None,
    target: Annotated[
        Target, typer.Option("--target", help="local: train here; sagemaker: submit a SageMaker training job")
    ] = Target.local,
    wait: Annotated[
        bool, typer.Option("--wait", help="sagemaker: follow the job to its end and download the model")
    ] = False,
    config: ConfigOption = None,
    json_output: JsonOption = False,
    plan: PlanOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Train a model on the preprocessed corpus, keep the best dev-F1 checkpoint, register it.

    Example: kgqa train kg --kg.train.epochs 5 --kg.train.device cpu
    """
    settings = start(ctx, config, verbose)
    if init is not None:
        if kind is not ModelKind.kg:
            from kgqa_cli.errors import ConfigError

            raise ConfigError("--init applies to `kgqa train kg`")
        settings.kg.train.init = init
    if target is Target.sagemaker:
        if resume or restart:
            from kgqa_cli.errors import ConfigError

            raise ConfigError("--resume and --restart apply to local training; a SageMaker job starts afresh")
        if plan:
            from kgqa_cli.aws.training import submit_training
            from kgqa_cli.cli._aws import show_plan

            show_plan(settings, json_output, lambda: submit_training(settings, kind.value))
            return
        _train_sagemaker(settings, kind.value, wait, json_output)
        return
    reject_plan(plan)
    if wait:
        from kgqa_cli.errors import ConfigError

        raise ConfigError("--wait applies to --target sagemaker")
    if kind is ModelKind.qa and (resume or restart):
        from kgqa_cli.errors import ConfigError

        # Question-model training takes minutes and keeps no checkpoint to resume from.
        raise ConfigError("--resume and --restart apply to `kgqa train kg` only; run `kgqa train qa` without them")
    TRAINERS[kind](settings, resume, restart, json_output)


def _train_kg(settings: KgqaConfig, resume: bool, restart: bool, json_output: bool) -> None:
    from kgqa_cli.extraction.train import run_train
    from kgqa_cli.mlops.distributed import current
    from kgqa_cli.ui import print_json, stdout

    result = run_train(settings.kg, settings.paths, resume=resume, restart=restart)
    if not current().main:  # under torchrun, rank 0 reports for the group
        return
    summary = {
        "model_version": result.version,
        "model_dir": str(result.model_dir),
        "device": result.device,
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "stopped_early": result.stopped_early,
        "dev": result.dev,
        "seconds_per_epoch": result.epoch_seconds,
    }
    if json_output:
        print_json(summary)
        return
    from kgqa_cli.cli._tables import curve_table

    columns = {"loss": "loss", "dev P": "dev_precision", "dev R": "dev_recall", "dev F1": "dev_f1"}
    stdout.print(curve_table(f"Training curve of {result.version}", columns, result.curve, result.best_epoch))
    stdout.print(
        f"registered {result.version} (best epoch {result.best_epoch}, dev F1 {result.dev['f1']:.4f}); "
        f"model files in {result.model_dir}"
    )


def _train_sagemaker(settings: KgqaConfig, kind: str, wait: bool, json_output: bool) -> None:
    from kgqa_cli.aws.training import submit_training
    from kgqa_cli.cli._aws import following, print_submitted
    from kgqa_cli.ui import print_json, stdout

    with following(f"train {kind}", wait and not json_output) as (on_status, on_log):
        result = submit_training(settings, kind, wait=wait, on_status=on_status, on_log=on_log)
    if json_output:
        print_json(result)
        return
    print_submitted("training", result, wait)
    stdout.print(f"inputs {result['inputs']}, output {result['output']}", highlight=False)
    if wait:
        stdout.print(f"model in {result['model_dir']}; registered as {result['model_package']} (pending approval)",
                     highlight=False)


TRAINERS = {ModelKind.kg: _train_kg, ModelKind.qa: train_qa}
