"""The ``kgqa ensemble`` stage: several registered extractors combined into one new version.

The new version's model folder holds a copy of each member's folder and ``ensemble.json``
naming them; :class:`~kgqa_cli.extraction.predict.Extractor` loads it like any other model and
averages the members' pointer probabilities. The local stages that take a kg version (evaluate
and its gate, extract, the registry) take an ensemble as they take any version; the SageMaker
stages register and run single models.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kgqa_cli.data.corpus import load_corpus
from kgqa_cli.data.preprocess import require_split
from kgqa_cli.data.schema import Schema
from kgqa_cli.errors import ConfigError, CorruptArtifactError, MissingArtifactError
from kgqa_cli.extraction.config import KgConfig
from kgqa_cli.io import replace_folder, write_json
from kgqa_cli.workspace import Workspace, ensure_writable

if TYPE_CHECKING:
    from kgqa_cli.mlops.registry import ModelVersion

log = logging.getLogger(__name__)


@dataclass
class EnsembleResult:
    """The registered version, its members and its dev scores."""

    version: str
    model_dir: Path
    members: list[str]
    dev: dict = field(default_factory=dict)


def member_folders(versions: list[ModelVersion]) -> list[tuple[str, Path]]:
    """(name, model folder) of each member the versions hold, in order; a version that is itself
    an ensemble gives its own members. Errors name the version at fault."""
    from kgqa_cli.extraction.predict import ENSEMBLE_FILE, MODEL_FILES

    found: list[tuple[str, Path]] = []
    for version in versions:
        folder = version.path / "model"
        if (folder / ENSEMBLE_FILE).exists():
            try:
                listed = json.loads((folder / ENSEMBLE_FILE).read_text(encoding="utf-8"))["members"]
                members = [(member["source"], folder / member["folder"]) for member in listed]
                if not members:
                    raise ValueError("no members listed")
            except (ValueError, KeyError, TypeError) as exc:
                raise CorruptArtifactError(f"{version.name}: {folder / ENSEMBLE_FILE} cannot be read ({exc!r})",
                                           hint="rebuild that ensemble with `kgqa ensemble`") from exc
        else:
            members = [(version.name, folder)]
        for member, member_folder in members:
            if (member_folder / "config.json").exists() and json.loads(
                    (member_folder / "config.json").read_text(encoding="utf-8")).get("encoder") == "pretrained":
                raise ConfigError(f"{member} (in {version.name}) works on a pretrained encoder's tokens; an ensemble's "
                                  "members vote per character", hint="name versions trained with kg.model.encoder lstm")
            missing = [file for file in MODEL_FILES if not (member_folder / file).exists()]
            if missing:
                raise MissingArtifactError(f"{member} (in {version.name}): {member_folder} lacks {', '.join(missing)}",
                                           hint="name versions that `kgqa train kg` or `kgqa ensemble` registered")
        found += members
    names = [name for name, _ in found]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigError(f"{repeated[0]} is named twice: an ensemble's members are distinct models")
    return found


def run_ensemble(config: KgConfig, workspace: Workspace, versions: list[str]) -> EnsembleResult:
    """Copy the members into one model folder, score it on the dev split, register it as the
    next kg version (its members' names and dev figures in its metrics)."""
    from kgqa_cli.extraction.evaluate import evaluate_records
    from kgqa_cli.extraction.labels import channels_of
    from kgqa_cli.extraction.predict import ENSEMBLE_FILE, Extractor
    from kgqa_cli.mlops.registry import Registry, model_files
    from kgqa_cli.torch_setup import set_threads
    from kgqa_cli.ui import progress

    if len(versions) < 2:
        raise ConfigError(f"an ensemble needs two versions or more; got {len(versions)}",
                          hint="name several kg versions, e.g. `kgqa ensemble v2 v3 v4`")
    registry = Registry(workspace.registry_dir)
    chosen = [registry.get("kg", name, include_rejected=True) for name in versions]  # below the gate still counts
    members = member_folders(chosen)
    names = [name for name, _ in members]
    channels = channels_of(Schema.load(members[0][1] / "schema.jsonl"))
    for name, folder in members[1:]:
        if channels_of(Schema.load(folder / "schema.jsonl")) != channels:
            raise ConfigError(f"{name} was trained on another schema than {members[0][0]}: its output channels differ",
                              hint="an ensemble's members must share one schema")
    dev_path = require_split(workspace, "dev")
    dev_records = load_corpus(dev_path)
    out = workspace.model_dir("kg-ensemble") / "model"
    ensure_writable([out.parent, workspace.registry_dir])
    staging = out.with_name(f".{out.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    listed = []
    for number, (name, folder) in enumerate(members, 1):
        shutil.copytree(folder, staging / f"member-{number}")
        listed.append({"folder": f"member-{number}", "source": name})
    shutil.copy2(members[0][1] / "schema.jsonl", staging / "schema.jsonl")  # for readers of any model folder
    write_json(staging / ENSEMBLE_FILE, {"members": listed})
    set_threads(config.train.threads)
    with model_files(staging):
        extractor = Extractor.load(staging, device=config.train.device)
    dev: dict = {}
    if dev_records:
        with progress() as bar:
            task = bar.add_task(f"scoring the ensemble of {len(members)} on dev", total=len(dev_records))
            metrics, _ = evaluate_records(extractor, dev_records, config, on_progress=lambda n: bar.advance(task, n))
        dev = {k: metrics[k] for k in ("precision", "recall", "f1", "support")}
        log.info("ensemble of %s: dev P %.4f R %.4f F1 %.4f", ", ".join(names),
                 dev["precision"], dev["recall"], dev["f1"])
    write_json(staging / "metrics.json", {"dev": dev, "members": names})
    replace_folder(staging, out)
    hashes = {version.package.get("data_hash") for version in chosen}  # the members' data, when they share it
    version = registry.register("kg", out, {"dev_" + k: v for k, v in dev.items()} | {"members": names},
                                data_hash=hashes.pop() if len(hashes) == 1 else None)
    return EnsembleResult(version.name, version.path / "model", names, dev)
