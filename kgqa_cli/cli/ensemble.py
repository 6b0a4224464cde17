"""`kgqa ensemble`: combine registered extractors into one that averages their predictions."""

from __future__ import annotations

from typing import Annotated

import typer

from kgqa_cli.cli._util import OVERRIDES, ConfigOption, JsonOption, VerboseOption, app, start


@app.command(**OVERRIDES)
def ensemble(
    ctx: typer.Context,
    versions: Annotated[list[str], typer.Argument(help="two kg versions or more, e.g. v2 v3 kg/v4")],
    config: ConfigOption = None,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Register an ensemble of kg versions as the next kg version, scored on the dev split.

    Its extractor averages the members' subject and object pointer probabilities, so it
    extracts about as many times slower as it has members. Train the members with different
    seeds (`kgqa train kg --kg.train.seed 7`), then gate the ensemble like any version with
    `kgqa evaluate kg`. A member below the gate may still join.
    Example: kgqa ensemble v1 v2 v3 && kgqa evaluate kg
    """
    from kgqa_cli.extraction.ensemble import run_ensemble
    from kgqa_cli.mlops.trainer import training_lock
    from kgqa_cli.ui import print_json, stdout

    settings = start(ctx, config, verbose)
    with training_lock(settings.paths, "kg-ensemble", "`kgqa ensemble`"):  # one staging folder per workspace
        result = run_ensemble(settings.kg, settings.paths, versions)
    summary = {"model_version": result.version, "model_dir": str(result.model_dir), "members": result.members,
               "dev": result.dev}
    if json_output:
        print_json(summary)
        return
    dev = f"dev P {result.dev['precision']:.4f} R {result.dev['recall']:.4f} F1 {result.dev['f1']:.4f}" \
        if result.dev else "no dev sentences to score it on"
    stdout.print(f"{result.version}: ensemble of {', '.join(result.members)}; {dev}; model in {result.model_dir}",
                 highlight=False)
