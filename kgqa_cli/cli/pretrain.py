"""`kgqa pretrain`: train the extractor's character encoder on unlabelled text."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kgqa_cli.cli._util import OVERRIDES, ConfigOption, JsonOption, VerboseOption, app, start


@app.command(**OVERRIDES)
def pretrain(
    ctx: typer.Context,
    inputs: Annotated[
        list[Path] | None, typer.Argument(help="files of text: JSON lines with a text field, NLPCC, or plain lines "
                                          "\\[default: kg.pretrain.inputs]")
    ] = None,
    config: ConfigOption = None,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Masked-character pretraining of the extractor's encoder; registered as pretrain/vN.

    The character embeddings and the Bi-LSTM of `kg.model` learn to predict hidden characters of
    the texts (those of the workspace's dev and test splits left out). `kgqa train kg --init
    pretrain/vN` (or `--kg.train.init latest`) then starts the extractor from them.
    With `--kg.pretrain.encoder bert` a BERT masked-language model is pretrained instead and saved
    as a Hugging Face folder (registered as pretrain/vN too), for `kgqa train kg --kg.model.encoder
    pretrained --kg.model.pretrained FOLDER`.
    Example: kgqa pretrain data/duie/duie_test1.first5000.unlabeled.json workspace/data/corpus/train.jsonl
    """
    from kgqa_cli.extraction.pretrain import run_pretrain
    from kgqa_cli.ui import print_json, stdout

    settings = start(ctx, config, verbose)
    result = run_pretrain(settings.kg.pretrain, settings.kg.model, settings.paths,
                          list(inputs or settings.kg.pretrain.inputs))
    summary = {"model_version": result.version, "model_dir": str(result.model_dir), "sentences": result.sentences,
               "characters": result.characters, "curve": result.curve, "encoder": result.encoder}
    if result.encoder == "bert":
        summary["tokens"] = summary.pop("characters")
        summary["use"] = (f"kgqa train kg --kg.model.encoder pretrained --kg.model.pretrained {result.model_dir}")
    if json_output:
        print_json(summary)
        return
    last = result.curve[-1]
    if result.encoder == "bert":
        stdout.print(f"{result.version or 'unregistered'}: BERT on {result.sentences} texts, {result.characters} "
                     f"tokens; masked-token accuracy {last['masked_accuracy']:.4f} after {last['epoch']} epochs; "
                     f"Hugging Face folder {result.model_dir}\nuse it with: {summary['use']}", highlight=False)
        return
    stdout.print(f"{result.version}: {result.sentences} texts, {result.characters} characters; masked-character "
                 f"accuracy {last['masked_accuracy']:.4f} after {last['epoch']} epochs; model in {result.model_dir}",
                 highlight=False)
