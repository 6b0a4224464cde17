"""Training of the extractor: seeded, resumable, early-stopped on dev F1, registered when done.

The loop itself (epochs, EMA, early stopping, the checkpoint) is :mod:`kgqa_cli.mlops.trainer`'s;
the extractor brings its batches and loss (:mod:`~kgqa_cli.extraction.batches`), its examples
(:mod:`~kgqa_cli.extraction.training_set`) and its dev F1."""

from __future__ import annotations

import json
import logging
import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from kgqa_cli.data.corpus import load_corpus
from kgqa_cli.data.preprocess import require_split
from kgqa_cli.data.records import Record
from kgqa_cli.data.schema import Schema
from kgqa_cli.errors import ConfigError, MissingArtifactError
from kgqa_cli.extraction.batches import PointerBatch, PointerLoss, epoch_batches, make_batch
from kgqa_cli.extraction.config import KgConfig, KgTrainConfig
from kgqa_cli.extraction.evaluate import evaluate_records
from kgqa_cli.extraction.model import CasRel
from kgqa_cli.extraction.predict import Extractor, choose_device
from kgqa_cli.extraction.training_set import ExtraRecords, TrainingSet, build_training_set
from kgqa_cli.extraction.vocab import CharVocab
from kgqa_cli.io import replace_folder, write_json
from kgqa_cli.mlops import distributed
from kgqa_cli.mlops.checkpoint import CheckpointSpec, checkpoint_to_resume
from kgqa_cli.mlops.distributed import Group
from kgqa_cli.mlops.trainer import EpochResult, LoopSettings, Recipe, Scores, Standing, Trainer, training_lock
from kgqa_cli.torch_setup import seed_everything, set_threads
from kgqa_cli.workspace import Workspace, ensure_writable

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID
    from torch.utils.data.distributed import DistributedSampler

    from kgqa_cli.extraction.lexicon import Lexicon
    from kgqa_cli.extraction.tokens import Subwords

log = logging.getLogger(__name__)

CHECKPOINT = "last.pt"
MODEL_FOLDER = "model"


@dataclass
class TrainResult:
    """What a training run produced."""

    model_dir: Path
    best_epoch: int
    epochs_run: int
    dev: dict
    curve: list[dict]
    epoch_seconds: list[float] = field(default_factory=list)
    stopped_early: bool = False
    device: str = "cpu"
    version: str | None = None
    encoder: dict | None = None  # the pretrained encoder's provenance (load_encoder), None for a character model


def _resume_settings(config: KgConfig) -> dict:
    """The settings a checkpoint must match to be resumed, as dotted keys (``kg.train.lr``)."""
    settings = {"model": config.model.saved_settings(), "train": _train_settings(config)}
    for key in ("epochs", "patience", "device", "threads"):  # more epochs after a stop is still the same run
        settings["train"].pop(key)
    flat: dict = {}
    for section, values in settings.items():
        for key, value in values.items():
            flat[f"kg.{section}.{key}"] = value
    return flat


def _train_settings(config: KgConfig) -> dict:
    """``kg.train`` as recorded; a character model's leaves out ``encoder_lr``, which it never uses."""
    settings = config.train.model_dump(mode="json")
    if not config.model.uses_pretrained:
        settings.pop("encoder_lr")
    return settings


def learning_rate_factor(train_cfg: KgTrainConfig, steps_per_epoch: int) -> Callable[[int], float]:
    """The learning-rate multiplier of each optimiser step: a linear warmup over ``warmup_ratio``
    of all steps, then constant, linear or cosine decay to zero at the last step."""
    total = max(1, train_cfg.epochs * steps_per_epoch)
    warmup = int(train_cfg.warmup_ratio * total)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if train_cfg.decay == "none":
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return 1.0 - progress if train_cfg.decay == "linear" else 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def save_model_folder(
    folder: Path, model: CasRel, vocab: CharVocab | None, schema: Schema, config: KgConfig, metrics: dict,
    lexicon: Lexicon | None = None, bigram_vocab: CharVocab | None = None, subwords: Subwords | None = None,
) -> None:
    """Write weights, vocabulary, schema, config, metrics (and the word lexicon and bigram
    vocabulary when the model uses them; with a pretrained encoder, its config and tokenizer in
    ``encoder/`` instead of the vocabulary); replace the folder in one rename."""
    from safetensors.torch import save_file

    staging = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    save_file(state, str(staging / "model.safetensors"))
    if subwords is not None:
        from kgqa_cli.extraction.tokens import ENCODER_FOLDER

        assert model.encoder is not None  # a tokenizer's subwords come with its encoder
        subwords.save(staging / ENCODER_FOLDER, model.encoder.config)
    else:
        assert vocab is not None  # a character model has its vocabulary
        vocab.save(staging / "vocab.json")
    schema.write(staging / "schema.jsonl")
    write_json(staging / "config.json", config.model.saved_settings())
    write_json(staging / "metrics.json", metrics)
    if lexicon is not None:
        lexicon.save(staging / "lexicon.json")
    if bigram_vocab is not None:
        bigram_vocab.save(staging / "bigrams.json")
    replace_folder(staging, folder)




class PointerTraining(Recipe[np.ndarray]):
    """The extractor's part of the loop: its seeded batches, pointer loss and dev F1; the best
    model folder written by rank 0 whenever dev F1 improves."""

    def __init__(self, config: KgConfig, data: TrainingSet, model: CasRel, schema: Schema, dev_records: list[Record],
                 model_folder: Path, bar: Progress, share: DistributedSampler | None, steps_per_epoch: int) -> None:
        train_cfg = config.train
        self.config, self.data, self.model, self.schema, self.dev_records = config, data, model, schema, dev_records
        self.model_folder, self.bar, self.share, self.steps_per_epoch = model_folder, bar, share, steps_per_epoch
        self.device = next(model.parameters()).device
        self.main = distributed.current().main
        # Several ranks: gradients averaged in backward (a batch without subjects leaves the object
        # head unused on its rank, hence find_unused_parameters); one process: the loss module itself.
        self.forward = distributed.wrap(PointerLoss(model, train_cfg.object_loss_weight, train_cfg.positive_weight),
                                        self.device, find_unused_parameters=True)
        self.task: TaskID | None = None
        self.mean_loss = 0.0

    def batches(self, epoch: int) -> list[np.ndarray]:
        train_cfg = self.config.train
        if self.share is not None:  # this rank's share of the epoch's sentences
            self.share.set_epoch(epoch)
            return epoch_batches(self.data.examples, train_cfg.batch_size, train_cfg.seed * 1000 + epoch,
                                 list(self.share))
        return epoch_batches(self.data.examples, train_cfg.batch_size, train_cfg.seed * 1000 + epoch)

    def loss(self, batch: np.ndarray) -> torch.Tensor:
        examples = self.data.examples
        made: PointerBatch = make_batch([examples[i] for i in batch], len(self.data.channels), self.device,
                                        self.data.channel_types,
                                        self.config.train.distill.weight)  # the weight counts only with a teacher
        loss: torch.Tensor = self.forward(made)
        return loss

    def begin_epoch(self, epoch: int, batches: object) -> None:
        self.task = self.bar.add_task(f"epoch {epoch}/{self.config.train.epochs} loss -", total=self.steps_per_epoch)

    def after_step(self, epoch: int, step: int, total_loss: float) -> None:
        assert self.task is not None
        self.bar.update(self.task, advance=1,
                        description=f"epoch {epoch}/{self.config.train.epochs} loss {total_loss / step:.4f}")

    def score(self, epoch: int, scored: torch.nn.Module) -> Scores:
        data = self.data
        assert isinstance(scored, CasRel)  # the model, or its averaged copy
        extractor = Extractor(scored, data.vocab, self.schema, device=self.device, lexicon=data.lexicon,
                              bigrams=data.bigram_vocab, subwords=data.subwords)
        dev_task = self.bar.add_task(f"epoch {epoch} dev", total=len(self.dev_records))
        def advance(done: int) -> None:
            self.bar.advance(dev_task, done)

        dev, _ = evaluate_records(extractor, self.dev_records, self.config, on_progress=advance)
        self.bar.remove_task(dev_task)
        return dev

    def result(self, epoch: int, mean_loss: float, seconds: float, dev: Scores) -> EpochResult:
        self.mean_loss = mean_loss
        point = {
            "epoch": epoch, "loss": round(mean_loss, 6),
            "dev_precision": dev["precision"], "dev_recall": dev["recall"], "dev_f1": dev["f1"],
            "seconds": round(seconds, 2),  # kept per epoch, so that a resumed run reports every epoch's
        }
        assert self.task is not None
        self.bar.update(self.task,
                        description=f"epoch {epoch}/{self.config.train.epochs} loss {mean_loss:.4f} dev F1 {dev['f1']:.4f}")
        return EpochResult(point, dev["f1"], {k: dev[k] for k in ("precision", "recall", "f1", "support")})

    def improved(self, epoch: int, scored: torch.nn.Module, standing: Standing) -> None:
        if not self.main:
            return
        assert isinstance(scored, CasRel)  # the model, or its averaged copy
        config, data = self.config, self.data
        save_model_folder(self.model_folder, scored, data.vocab, self.schema, config, {
            "best_epoch": epoch, "dev": standing.best, "train": _train_settings(config),
            "thresholds": {"subject": config.extract.subject_threshold, "object": config.extract.object_threshold},
            **({"encoder": data.encoder_provenance} if data.encoder_provenance is not None else {}),
        }, data.lexicon, data.bigram_vocab, data.subwords)

    def epoch_done(self, epoch: int, standing: Standing) -> None:
        if self.main:
            dev = standing.curve[-1]
            log.info("epoch %d: loss %.4f, dev P %.4f R %.4f F1 %.4f%s", epoch, self.mean_loss, dev["dev_precision"],
                     dev["dev_recall"], dev["dev_f1"], " (best)" if standing.best_epoch == epoch else "")


def fit(
    config: KgConfig,
    train_records: list[Record],
    dev_records: list[Record],
    schema: Schema,
    out_dir: Path,
    *,
    resume: bool = False,
    restart: bool = False,
    data_hash: str = "",
    extra: ExtraRecords | None = None,
    registry_root: Path | None = None,
) -> TrainResult:
    """Train on records, keep the best dev-F1 model in ``out_dir/model`` and a resumable ``last.pt``.

    ``extra`` holds more training records from other sources, each with the channels its labels
    never cover (masked in the loss for its sentences); ``kg.train.augment`` adds copies of the
    training records with their names swapped."""
    from kgqa_cli.ui import progress

    train_cfg = config.train
    group = distributed.init_from_env()  # under torchrun: one rank of several, else a single process
    set_threads(train_cfg.threads)
    device = choose_device(train_cfg.device)
    seed_everything(train_cfg.seed)
    if group.main:
        out_dir.mkdir(parents=True, exist_ok=True)
    spec = CheckpointSpec(out_dir / CHECKPOINT, _resume_settings(config), data_hash)
    checkpoint = checkpoint_to_resume(spec, group, resume=resume, restart=restart)
    data = build_training_set(config, train_records, extra or [], schema, checkpoint, registry_root)
    model = _new_model(config, data, checkpoint, registry_root).to(device)
    # Under torchrun each rank trains on its share of every epoch's sentences (all ranks the same
    # number of batches); one process takes them all.
    share = distributed.sampler(len(data.examples), train_cfg.seed) if group.active else None
    steps_per_epoch = ((len(share) if share is not None else len(data.examples)) + train_cfg.batch_size - 1) \
        // train_cfg.batch_size
    trainer = _new_trainer(train_cfg, model, steps_per_epoch, group, spec, data.checkpoint_extra())
    standing = Standing()
    if checkpoint is not None:
        standing = trainer.restore(checkpoint)
        log.info("resuming after epoch %d (best dev F1 %.4f at epoch %d)", checkpoint["epoch"], standing.best_score,
                 standing.best_epoch)
    reads = f"{len(data.vocab)} characters" if data.vocab is not None else f"encoder {config.model.pretrained}"
    log.info("training on %d sentences (%d dev), %s, %d output channels, device %s", len(data.examples),
             len(dev_records), reads, len(data.channels), device)
    model_folder = out_dir / MODEL_FOLDER
    with progress(disable=not group.main) as bar:
        recipe = PointerTraining(config, data, model, schema, dev_records, model_folder, bar, share, steps_per_epoch)
        standing = trainer.run(recipe, standing)
    if group.main:
        if not model_folder.exists():
            raise MissingArtifactError(f"no model was saved in {model_folder}", hint="train for at least one epoch")
        write_json(model_folder / "curve.json", standing.curve)
    return TrainResult(
        model_dir=model_folder, best_epoch=standing.best_epoch, epochs_run=len(standing.curve), dev=standing.best,
        curve=standing.curve, epoch_seconds=[point["seconds"] for point in standing.curve if "seconds" in point],
        stopped_early=standing.stopped(train_cfg.patience), device=str(device), encoder=data.encoder_provenance,
    )


def _new_model(config: KgConfig, data: TrainingSet, checkpoint: dict[str, Any] | None,
               registry_root: Path | None) -> CasRel:
    """The extractor sized for ``data``; a fresh run with ``kg.train.init`` starts from a pretrained encoder."""
    lexicon, bigram_vocab = data.lexicon, data.bigram_vocab
    model = CasRel(len(data.vocab) if data.vocab is not None else 0, len(data.channels), config.model,
                   (lexicon.vocabulary_size, lexicon.tag_count) if lexicon is not None else None, data.channel_types,
                   len(bigram_vocab) if bigram_vocab is not None else None, encoder=data.encoder)
    if config.train.init and checkpoint is None:
        from kgqa_cli.extraction.pretrain import initialise_from

        if registry_root is None:
            raise ConfigError("kg.train.init needs the workspace's registry")
        assert data.vocab is not None  # kg.train.init is refused with a pretrained encoder
        initialise_from(model, data.vocab, registry_root, config.train.init)
    return model


def _new_trainer(train_cfg: KgTrainConfig, model: CasRel, steps_per_epoch: int, group: Group, spec: CheckpointSpec,
                 extra: dict[str, Any]) -> Trainer:
    """Adam on ``model`` with the learning-rate schedule, in the shared loop with its checkpoint."""
    optimizer = torch.optim.Adam(_parameter_groups(model, train_cfg), lr=train_cfg.lr,
                                 weight_decay=train_cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, learning_rate_factor(train_cfg, steps_per_epoch))
    settings = LoopSettings(train_cfg.epochs, train_cfg.patience, train_cfg.grad_clip, train_cfg.ema_decay)
    return Trainer(model, optimizer, settings, scheduler=scheduler, group=group, checkpoint=spec, extra=extra)


def _parameter_groups(model: CasRel, train_cfg: KgTrainConfig) -> list[dict[str, Any]]:
    """The optimiser's parameter groups: a pretrained encoder's weights at ``encoder_lr`` (they
    only need adjusting), the rest at ``lr``."""
    if model.encoder is None:
        return [{"params": list(model.parameters())}]
    encoder_ids = {id(parameter) for parameter in model.encoder.parameters()}
    return [{"params": list(model.encoder.parameters()), "lr": train_cfg.encoder_lr},
            {"params": [parameter for parameter in model.parameters() if id(parameter) not in encoder_ids]}]


def run_train(
    config: KgConfig, workspace: Workspace, *, resume: bool = False, restart: bool = False, register: bool = True
) -> TrainResult:
    """The ``kgqa train kg`` stage: workspace splits in, model folder and registry version out.
    Under torchrun every rank trains; rank 0 alone holds the lock and writes."""
    with training_lock(workspace, "kg", "`kgqa train kg`"):
        return _train_and_register(config, workspace, resume=resume, restart=restart, register=register)


def _train_and_register(
    config: KgConfig, workspace: Workspace, *, resume: bool, restart: bool, register: bool
) -> TrainResult:
    from kgqa_cli.mlops.registry import Registry, hash_paths

    train_path, dev_path = require_split(workspace, "train"), require_split(workspace, "dev")
    if not workspace.schema_file.exists():
        raise MissingArtifactError(f"{workspace.schema_file} does not exist", hint="run `kgqa preprocess` first")
    schema = Schema.load(workspace.schema_file)
    train_records, dev_records = load_corpus(train_path), load_corpus(dev_path)
    if not train_records:
        raise MissingArtifactError(f"{train_path} holds no sentences", hint="run `kgqa preprocess` on a labelled corpus")
    if resume and restart:
        raise ConfigError("--resume and --restart exclude each other")
    extra, extra_paths = [], []
    for name in config.train.extra:
        path = workspace.corpus_dir / f"extra-{name}.jsonl"
        if not path.exists():
            raise MissingArtifactError(f"{path} does not exist: kg.train.extra names {name!r}",
                                       hint="add it to preprocess.extra and run `kgqa preprocess`, or drop it from kg.train.extra")
        masked = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))["masked_channels"]
        extra.append((load_corpus(path), masked))
        extra_paths += [path, path.with_suffix(".json")]
    data_hash = hash_paths([train_path, dev_path, workspace.schema_file, *extra_paths])
    out_dir = workspace.model_dir("kg")
    main = distributed.init_from_env().main
    if main:
        ensure_writable([out_dir, workspace.registry_dir])  # before minutes of training, not after
    result = fit(config, train_records, dev_records, schema, out_dir, resume=resume, restart=restart,
                 data_hash=data_hash, extra=extra, registry_root=workspace.registry_dir)
    if register:
        if main:
            version = Registry(workspace.registry_dir).register(
                "kg", result.model_dir, {"dev_" + k: v for k, v in result.dev.items()} | {"best_epoch": result.best_epoch},
                data_hash=data_hash, encoder=result.encoder,
            )
            result.version = version.name
        result.version = distributed.broadcast(result.version)  # and the other ranks wait for it
    return result
