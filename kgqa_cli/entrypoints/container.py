"""The training container's entry point: plain kgqa code run the way SageMaker runs a script.

SageMaker's PyTorch training container unpacks our source, installs its requirements and runs
``kgqa_train.py``, which calls :func:`main`. The job's contract is the environment: the data
channel ``SM_CHANNEL_TRAIN`` (the workspace's ``data/corpus/`` for kg, ``data/questions/`` for
qa), the hyperparameters ``SM_HPS`` (``kind`` and the model's config section as JSON, under
``kgqa_config``), and ``SM_MODEL_DIR``, where the model's files must end up (safetensors and
JSON only: nothing that runs code when loaded), with ``code/`` for the serving container. Log lines go to stdout, one per line, so that
the job's metric definitions (:data:`kgqa_cli.aws.source.METRIC_DEFINITIONS`) find the loss and dev scores.

With several instances, or several processes per instance, the job's hyperparameter
``sagemaker_torch_distributed_enabled`` makes the container start this entry point under
``torchrun``: each process is a rank of one torch.distributed group (see
:mod:`kgqa_cli.mlops.distributed`), trains with DistributedDataParallel in a workspace of its
own, and rank 0 writes the model.

A test runs it locally with the same environment and folders, exactly as the container would,
with one process and with two ranks under torchrun on loopback.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kgqa_cli.settings import KgqaConfig


def _hyperparameters() -> dict[str, Any]:
    raw = json.loads(os.environ.get("SM_HPS", "{}"))
    # SageMaker hands hyperparameters over as strings; ours are JSON inside them.
    return {key: (json.loads(value) if key == "kgqa_config" and isinstance(value, str) else value)
            for key, value in raw.items()}


def main() -> int:
    """Train the model of ``SM_HPS['kind']`` on the channel's files; write it to SM_MODEL_DIR."""
    from kgqa_cli.settings import KgqaConfig

    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s", force=True)
    hyperparameters = _hyperparameters()
    kind = hyperparameters.get("kind")
    from kgqa_cli.aws.source import METRIC_DEFINITIONS

    if kind not in METRIC_DEFINITIONS:
        print(f"kgqa container: hyperparameter kind must be kg or qa, not {kind!r}", file=sys.stderr)
        return 2
    from kgqa_cli.mlops.distributed import init_from_env

    group = init_from_env()  # under torchrun (several instances or processes): one rank of the group
    channel = Path(os.environ["SM_CHANNEL_TRAIN"])
    model_dir = Path(os.environ["SM_MODEL_DIR"])
    scratch = Path(os.environ.get("SM_OUTPUT_DATA_DIR") or tempfile.mkdtemp(prefix="kgqa-"))
    # A workspace per rank: the processes of one instance share the scratch folder, and each
    # copies the channel into its own workspace instead of racing to fill one.
    workspace = scratch / ("workspace" if group.main else f"workspace-rank{group.rank}")
    settings = KgqaConfig.model_validate({"workspace": str(workspace),
                                          kind: hyperparameters.get("kgqa_config") or {}})
    target = settings.paths.corpus_dir if kind == "kg" else settings.paths.questions_dir
    shutil.copytree(channel, target, dirs_exist_ok=True)
    init_channel = os.environ.get("SM_CHANNEL_INIT")
    if kind == "kg" and init_channel and settings.kg.train.init and not _restore_init(settings, Path(init_channel)):
        return 2
    folder = _train(settings, kind)
    if not group.main:
        print(f"kgqa container: rank {group.rank} done; rank 0 writes the model")
        return 0
    model_dir.mkdir(parents=True, exist_ok=True)
    shutil.copytree(folder, model_dir, dirs_exist_ok=True)
    from kgqa_cli.aws.source import write_inference_code

    # code/ makes the artefact deployable as it is (endpoint, Batch Transform), as SageMaker's
    # PyTorch serving container expects it: no repacking step afterwards.
    write_inference_code(model_dir)
    print(f"kgqa container: {kind} model written to {model_dir}")
    return 0


def _restore_init(settings: KgqaConfig, init_channel: Path) -> bool:
    """kg.train.init's registered encoder arrived as the `init` channel: into this workspace's
    registry under its own name, where `kgqa train kg --init` looks for it. The name comes from
    the job's hyperparameters: only a version name, never a path, is taken (False, said on
    stderr, for another)."""
    import re

    from kgqa_cli.errors import ConfigError
    from kgqa_cli.io import contained_path

    name = settings.kg.train.init
    if not name or not re.fullmatch(r"pretrain/v[1-9][0-9]*", name, re.ASCII):
        print(f"kgqa container: kg.train.init {name!r} is not a version name such as pretrain/v1", file=sys.stderr)
        return False
    target = contained_path(settings.paths.registry_dir, name, what="kg.train.init", error=ConfigError)
    shutil.copytree(init_channel, target, dirs_exist_ok=True)
    return True


def _train(settings: KgqaConfig, kind: str) -> Path:
    """Train the model of ``kind`` in the workspace; the folder of its files."""
    if kind == "kg":
        from kgqa_cli.extraction.train import run_train

        return run_train(settings.kg, settings.paths, register=False).model_dir
    from kgqa_cli.understanding.training import train_question_model

    return train_question_model(settings.qa, settings.paths).version.path / "model"


if __name__ == "__main__":
    sys.exit(main())
