"""Training of the extractor: seeded, resumable, early-stopped on dev F1, registered when done."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from kgqa_cli.data.corpus import load_corpus
from kgqa_cli.data.preprocess import require_split
from kgqa_cli.data.schema import Schema
from kgqa_cli.errors import (
    ConfigError,
    CorruptArtifactError,
    FileSystemError,
    MissingArtifactError,
    describe_os_error,
)
from kgqa_cli.extraction.config import KgConfig
from kgqa_cli.extraction.labels import (
    Example,
    channel_subject_types,
    channels_of,
    make_example,
    make_token_example,
)
from kgqa_cli.extraction.members import batch_ids
from kgqa_cli.extraction.metrics import score_triples
from kgqa_cli.extraction.model import CasRel
from kgqa_cli.extraction.predict import Extractor, choose_device
from kgqa_cli.extraction.vocab import CharVocab, bigrams
from kgqa_cli.io import replace_folder, write_json
from kgqa_cli.mlops import distributed
from kgqa_cli.torch_setup import seed_everything, set_threads
from kgqa_cli.workspace import Workspace, ensure_writable

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


def _rng_state() -> dict:
    # Plain tuples, ints and tensors only, so the checkpoint loads with torch.load(weights_only=True).
    name, keys, position, has_gauss, cached = np.random.get_state()
    numpy_state = (name, torch.from_numpy(keys.astype(np.int64)), int(position), int(has_gauss), float(cached))
    state = {"python": random.getstate(), "numpy": numpy_state, "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    name, keys, position, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), position, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def make_batch(examples: list[Example], num_channels: int, device: torch.device,
               channel_types: list[int] | None = None, teacher_weight: float = 0.0) -> dict:
    """Padded ids, mask, subject pointer targets, and one row per (sentence, subject) pair (with
    ``channel_types``, also each subject's type: the one its predicates take most often). With
    ``teacher_weight`` and examples that carry a teacher's probabilities (``Example.teacher``),
    every pointer's target is that share of the teacher's probability plus the rest of the label."""
    ids, mask = batch_ids([example.ids for example in examples], device)
    size, width = ids.shape
    subject_heads = np.zeros((size, width), dtype=np.float32)
    subject_tails = np.zeros((size, width), dtype=np.float32)
    rows = []
    for row, example in enumerate(examples):
        for (head, tail), targets in sorted(example.subjects.items()):
            subject_heads[row, head] = 1.0
            subject_tails[row, tail] = 1.0
            rows.append((row, head, tail, targets))
    channel_mask = np.ones((len(rows), num_channels), dtype=np.float32)
    for number, (row, _, _, _) in enumerate(rows):
        if examples[row].channel_mask is not None:
            channel_mask[number] = examples[row].channel_mask
    object_heads = np.zeros((len(rows), width, num_channels), dtype=np.float32)
    object_tails = np.zeros((len(rows), width, num_channels), dtype=np.float32)
    for number, (_, _, _, targets) in enumerate(rows):
        for channel, head, tail in targets:
            object_heads[number, head, channel] = 1.0
            object_tails[number, tail, channel] = 1.0
    if teacher_weight and examples[0].teacher is not None:
        _blend_teacher(examples, teacher_weight, subject_heads, subject_tails, object_heads, object_tails)
    index = torch.tensor([[row, head, tail] for row, head, tail, _ in rows], dtype=torch.long).reshape(-1, 3)
    subject_types = None
    if channel_types is not None:
        subject_types = torch.tensor([
            Counter(channel_types[channel] for channel, _, _ in targets).most_common(1)[0][0] if targets else -100
            for _, _, _, targets in rows], dtype=torch.long).to(device)
    bigram_ids = None
    if examples and examples[0].bigrams is not None:
        bigram_ids, _ = batch_ids([example.bigrams for example in examples], device)
    lexicon = None
    if examples and examples[0].lexicon is not None:
        from kgqa_cli.extraction.lexicon import stack_features

        lexicon = tuple(torch.from_numpy(part).to(device)
                        for part in stack_features([example.lexicon for example in examples], width))
    return {
        "ids": ids, "mask": mask, "lexicon": lexicon, "bigrams": bigram_ids,
        "subject_heads": torch.from_numpy(subject_heads).to(device),
        "subject_tails": torch.from_numpy(subject_tails).to(device),
        "index": index.to(device),
        "subject_types": subject_types,
        "channel_mask": torch.from_numpy(channel_mask).to(device),
        "object_heads": torch.from_numpy(object_heads).to(device),
        "object_tails": torch.from_numpy(object_tails).to(device),
    }


def _blend_teacher(examples: list[Example], weight: float, subject_heads: np.ndarray, subject_tails: np.ndarray,
                   object_heads: np.ndarray, object_tails: np.ndarray) -> None:
    """Mix each example's teacher probabilities into the targets, in place (rows: the examples'
    subjects in sorted order, as ``make_batch`` makes them)."""
    number = 0
    for row, example in enumerate(examples):
        heads, tails, teacher_object_heads, teacher_object_tails = example.teacher
        length = len(heads)
        for target, taught in ((subject_heads, heads), (subject_tails, tails)):
            target[row, :length] = (1.0 - weight) * target[row, :length] + weight * taught
        count = len(example.subjects)
        for target, taught in ((object_heads, teacher_object_heads), (object_tails, teacher_object_tails)):
            block = target[number:number + count, :length]
            target[number:number + count, :length] = (1.0 - weight) * block + weight * taught
        number += count


def epoch_batches(examples: list[Example], batch_size: int, seed: int,
                  indices: list[int] | None = None) -> list[np.ndarray]:
    """Batches of similar lengths (little padding) in a random order fixed by ``seed``, of all
    examples or of those at ``indices`` (a rank's share, from :func:`distributed.sampler`).

    The order depends on the seed alone, so a resumed run sees the same batches.
    """
    rng = np.random.default_rng(seed)
    if indices is None:
        shuffled = rng.permutation(len(examples))
    else:
        shuffled = np.asarray(indices, dtype=np.int64)[rng.permutation(len(indices))]
    # Sort shuffled chunks of 50 batches by length: neighbours are alike, batches still vary.
    chunk = batch_size * 50
    batches = []
    for start in range(0, len(shuffled), chunk):
        part = sorted(shuffled[start:start + chunk].tolist(), key=lambda i: len(examples[i].ids))
        batches.extend(np.array(part[i:i + batch_size]) for i in range(0, len(part), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


class PointerLoss(torch.nn.Module):
    """:func:`batch_loss` of the model it holds, as a module's forward, so that
    DistributedDataParallel sees the pass it averages the gradients of."""

    def __init__(self, model: CasRel, object_weight: float = 1.0, positive_weight: float = 1.0):
        super().__init__()
        self.model, self.object_weight, self.positive_weight = model, object_weight, positive_weight

    def forward(self, batch: dict) -> torch.Tensor:
        return batch_loss(self.model, batch, self.object_weight, self.positive_weight)


def batch_loss(model: CasRel, batch: dict, object_weight: float = 1.0, positive_weight: float = 1.0) -> torch.Tensor:
    """Binary cross-entropy of every pointer, averaged over real (unpadded) characters; the
    object pointers' part weighted by ``object_weight``, every positive position by
    ``positive_weight``."""
    mask = batch["mask"].float()
    features = model.encode(batch["ids"], batch["mask"], batch.get("lexicon"), batch.get("bigrams"))
    heads, tails = model.subject_logits(features)
    positive = None if positive_weight == 1.0 else torch.tensor(positive_weight, device=heads.device)

    def bce(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits, targets, reduction="none", pos_weight=positive)

    subject_loss = bce(heads, batch["subject_heads"]) + bce(tails, batch["subject_tails"])
    loss = (subject_loss * mask).sum() / mask.sum()
    index = batch["index"]
    if index.shape[0]:
        type_logits = None
        if model.uses_types and batch.get("subject_types") is not None:
            type_logits = model.subject_type_logits(features, index[:, 0], index[:, 1], index[:, 2])
        object_heads, object_tails = model.object_logits(features, index[:, 0], index[:, 1], index[:, 2],
                                                         batch.get("subject_types"), type_logits=type_logits)
        object_loss = (
            (bce(object_heads, batch["object_heads"]) + bce(object_tails, batch["object_tails"]))
            * batch["channel_mask"].unsqueeze(1)  # a channel the sentence's source never labels teaches nothing
        ).sum(-1)
        object_mask = mask.index_select(0, index[:, 0])
        loss = loss + object_weight * (object_loss * object_mask).sum() / object_mask.sum()
        if type_logits is not None:
            loss = loss + F.cross_entropy(type_logits.float(), batch["subject_types"], ignore_index=-100)
    return loss


def evaluate_records(extractor: Extractor, records: list[dict], config: KgConfig, on_progress=None) -> tuple[dict, list[dict]]:
    """Extract from the texts of gold records and score the result; returns (metrics, predictions)."""
    settings = config.extract
    found = extractor.extract(
        [record["text"] for record in records],
        batch_size=settings.batch_size, max_chars=settings.max_chars,
        subject_threshold=settings.subject_threshold, object_threshold=settings.object_threshold,
        on_progress=on_progress, bfloat16=settings.bfloat16, workers=settings.workers,
    )
    predictions = [{"text": record["text"], "spo_list": triples} for record, triples in zip(records, found, strict=True)]
    return score_triples(records, predictions), predictions


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


def _fingerprint(config: KgConfig, data_hash: str) -> str:
    """What a checkpoint must match to be resumed: model and training settings, and the data."""
    text = json.dumps(_resume_settings(config), sort_keys=True) + data_hash
    return hashlib.sha256(text.encode()).hexdigest()


def learning_rate_factor(train_cfg: Any, steps_per_epoch: int):
    """The learning-rate multiplier of each optimiser step: a linear warmup over ``warmup_ratio``
    of all steps, then constant, linear or cosine decay to zero at the last step."""
    import math

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


def load_checkpoint(path: Path, config: KgConfig, data_hash: str, world: int = 1) -> dict:
    """Read ``last.pt`` for ``--resume``: it must load (tensors and plain values only, nothing that
    runs code) and match today's settings, data and number of processes (``world``), else the
    error names ``--restart``."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as exc:
        raise FileSystemError(describe_os_error(exc, "cannot read the checkpoint")) from exc
    except Exception as exc:  # truncated, empty, or not a torch file at all
        raise CorruptArtifactError(
            f"{path}: the checkpoint cannot be loaded ({exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else 'no detail'})",
            hint="pass --restart to start the training over",
        ) from exc
    if not isinstance(checkpoint, dict) or "fingerprint" not in checkpoint:
        raise CorruptArtifactError(f"{path}: not a kgqa training checkpoint", hint="pass --restart to start over")
    if checkpoint["fingerprint"] != _fingerprint(config, data_hash):
        saved, now = checkpoint.get("settings", {}), _resume_settings(config)
        changed = [f"{key} {saved.get(key)!r} -> {now.get(key)!r}" for key in sorted(set(saved) | set(now))
                   if saved.get(key) != now.get(key)]
        if not changed and checkpoint.get("data_hash") not in (None, data_hash):
            changed = ["the training data (train/dev split or schema) changed"]
        what = "; ".join(changed) if changed else "other settings or data"
        raise ConfigError(
            f"{path} cannot be resumed: it was made with {what}",
            hint="resume with the settings it was made with, or pass --restart to discard it and start over",
        )
    made_by = checkpoint.get("world_size", 1)
    if made_by != world:  # each rank's share of the data and its random state depend on the count
        raise ConfigError(
            f"{path} cannot be resumed: it was made by {made_by} training process(es), this run has {world}",
            hint=f"resume with {made_by} process(es) (torchrun --nproc_per_node), or pass --restart to start over",
        )
    return checkpoint


def save_model_folder(
    folder: Path, model: CasRel, vocab: CharVocab | None, schema: Schema, config: KgConfig, metrics: dict,
    lexicon: Any = None, bigram_vocab: CharVocab | None = None, subwords: Any = None,
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

        subwords.save(staging / ENCODER_FOLDER, model.encoder.config)
    else:
        vocab.save(staging / "vocab.json")
    schema.write(staging / "schema.jsonl")
    write_json(staging / "config.json", config.model.saved_settings())
    write_json(staging / "metrics.json", metrics)
    if lexicon is not None:
        lexicon.save(staging / "lexicon.json")
    if bigram_vocab is not None:
        bigram_vocab.save(staging / "bigrams.json")
    replace_folder(staging, folder)


def _save_checkpoint(path: Path, state: dict) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    torch.save(state, tmp)
    os.replace(tmp, path)


def fit(
    config: KgConfig,
    train_records: list[dict],
    dev_records: list[dict],
    schema: Schema,
    out_dir: Path,
    *,
    resume: bool = False,
    restart: bool = False,
    data_hash: str = "",
    extra: list[tuple[list[dict], list[str]]] = (),
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
    checkpoint_path = out_dir / CHECKPOINT
    model_folder = out_dir / MODEL_FOLDER
    fingerprint = _fingerprint(config, data_hash)

    checkpoint = None
    if restart and checkpoint_path.exists() and group.main:
        log.info("--restart: discarding %s", checkpoint_path)
        checkpoint_path.unlink()
    if resume:
        if checkpoint_path.exists():
            checkpoint = load_checkpoint(checkpoint_path, config, data_hash, group.world)
        else:
            log.info("no checkpoint at %s: starting afresh", checkpoint_path)
    if group.active:  # every rank must resume from the same epoch (one checkpoint on a shared disk)
        seen = distributed.gather(checkpoint["epoch"] if checkpoint is not None else None)
        if len(set(seen)) > 1:
            raise ConfigError(f"the ranks see different checkpoints at {checkpoint_path} (epochs {seen})",
                              hint="resume where every rank reads the same models folder, or pass --restart")

    if train_cfg.augment.copies:  # the same copies on every run of the same data and config (resume)
        from kgqa_cli.extraction.augment import augment_records, person_names
        from kgqa_cli.extraction.lexicon import jieba_dictionary

        outside = person_names(jieba_dictionary()) if train_cfg.augment.outside_names else []
        augmented = augment_records(train_records, train_cfg.augment, train_cfg.seed, outside)
        log.info("mention replacement: %d new sentences from %d", len(augmented), len(train_records))
        extra = [*extra, (augmented, [])]
    extra_records = [record for records, _ in extra for record in records]
    texts = [record["text"][: train_cfg.max_len] for record in [*train_records, *extra_records]]  # as examples see them
    channels = channels_of(schema)
    channel_index = {name: number for number, name in enumerate(channels)}
    vocab = subwords = encoder = encoder_provenance = None
    if config.model.uses_pretrained:
        encoder, subwords, encoder_provenance = _pretrained_encoder(config, checkpoint)
        examples = []
        unaligned = 0
        for record, tokenized in zip([*train_records, *extra_records], subwords.tokenize(texts), strict=True):
            example, left_out = make_token_example(record, tokenized, channel_index, train_cfg.max_len)
            examples.append(example)
            unaligned += left_out
        if unaligned:
            log.info("%d labelled spans cannot be placed on the tokens of %s (a border inside a token, or past "
                     "its longest input) and are left out", unaligned, config.model.pretrained)
    else:
        if checkpoint is not None:
            vocab = CharVocab(checkpoint["vocab"][2:])
        else:
            vocab = CharVocab.build(texts, train_cfg.min_char_count)
        examples = [make_example(record, vocab.encode, channel_index, train_cfg.max_len)
                    for record in [*train_records, *extra_records]]
    position = len(train_records)
    for records, masked in extra:
        mask = np.array([0.0 if name in set(masked) else 1.0 for name in channels], dtype=np.float32)
        for example in examples[position:position + len(records)]:
            example.channel_mask = mask
        position += len(records)
    lexicon = None
    if config.model.uses_lexicon:
        from kgqa_cli.extraction.lexicon import Lexicon

        lexicon = Lexicon.build(config.model.lexicon, train_records, train_cfg.max_len)
        features = [*lexicon.training_features(train_records, train_cfg.max_len),
                    *(lexicon.features(record["text"][: train_cfg.max_len]) for record in extra_records)]
        for example, found in zip(examples, features, strict=True):
            example.lexicon = found
        log.info("word lexicon: %d words with a vector, %d tags", len(lexicon.words), len(lexicon.tags))
    bigram_vocab = None
    if config.model.uses_bigrams:
        bigram_vocab = (CharVocab(checkpoint["bigrams"][2:]) if checkpoint is not None else
                        CharVocab.build([bigrams(record["text"][: train_cfg.max_len]) for record in train_records],
                                        config.model.min_bigram_count))
        for example, record in zip(examples, [*train_records, *extra_records], strict=True):
            example.bigrams = bigram_vocab.encode(bigrams(record["text"][: train_cfg.max_len]))
        log.info("bigrams: %d with a vector", len(bigram_vocab))
    if train_cfg.distill.teacher:
        from kgqa_cli.extraction.distill import attach_teacher

        if registry_root is None:
            raise ConfigError("kg.train.distill.teacher needs the workspace's registry")
        attach_teacher(examples, texts, registry_root, train_cfg.distill.teacher, channels, config.extract.bfloat16)
    examples = [example for example in examples if example.ids]
    channel_types = channel_subject_types(schema)[1] if config.model.subject_types else None
    model = CasRel(len(vocab) if vocab is not None else 0, len(channels), config.model,
                   (lexicon.vocabulary_size, lexicon.tag_count) if lexicon is not None else None, channel_types,
                   len(bigram_vocab) if bigram_vocab is not None else None, encoder=encoder)
    if config.train.init and checkpoint is None:
        from kgqa_cli.extraction.pretrain import initialise_from

        if registry_root is None:
            raise ConfigError("kg.train.init needs the workspace's registry")
        initialise_from(model, vocab, registry_root, config.train.init)
    model.to(device)
    optimizer = torch.optim.Adam(_parameter_groups(model, train_cfg), lr=train_cfg.lr,
                                 weight_decay=train_cfg.weight_decay)
    # Under torchrun each rank trains on its share of every epoch's sentences (all ranks the same
    # number of batches); one process takes them all.
    share = distributed.sampler(len(examples), train_cfg.seed) if group.active else None
    steps_per_epoch = ((len(share) if share is not None else len(examples)) + train_cfg.batch_size - 1) // train_cfg.batch_size
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, learning_rate_factor(train_cfg, steps_per_epoch))
    ema = None
    if train_cfg.ema_decay:
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

        ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(train_cfg.ema_decay))

    start_epoch, best_f1, best_epoch, bad_epochs, curve = 1, -1.0, 0, 0, []
    best_dev: dict = {}
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        if "scheduler" in checkpoint:
            scheduler.load_state_dict(checkpoint["scheduler"])
        if ema is not None:
            ema.load_state_dict(checkpoint["ema"])
        start_epoch = checkpoint["epoch"] + 1
        best_f1, best_epoch, bad_epochs = checkpoint["best_f1"], checkpoint["best_epoch"], checkpoint["bad_epochs"]
        curve, best_dev = checkpoint["curve"], checkpoint["best_dev"]
        # Each rank draws its own dropout masks: it goes on from its own random state.
        _set_rng_state(checkpoint["rank_rng"][group.rank] if group.active else checkpoint["rng"])
        log.info("resuming after epoch %d (best dev F1 %.4f at epoch %d)", checkpoint["epoch"], best_f1, best_epoch)

    log.info(
        "training on %d sentences (%d dev), %s, %d output channels, device %s",
        len(examples), len(dev_records),
        f"{len(vocab)} characters" if vocab is not None else f"encoder {config.model.pretrained}", len(channels), device,
    )
    # Each curve point keeps its epoch's seconds, so that a resumed run reports every epoch's.
    epoch_seconds: list[float] = [point["seconds"] for point in curve if "seconds" in point]
    stopped_early = bad_epochs >= train_cfg.patience
    batches_per_epoch = steps_per_epoch
    epoch = start_epoch - 1
    # Several ranks: gradients averaged in backward (a batch without subjects leaves the object
    # head unused on its rank, hence find_unused_parameters); one process: the loss module itself.
    trainer = distributed.wrap(PointerLoss(model, train_cfg.object_loss_weight, train_cfg.positive_weight), device,
                               find_unused_parameters=True)
    with progress(disable=not group.main) as bar:
        for epoch in range(start_epoch, train_cfg.epochs + 1):
            if stopped_early:
                break
            started = time.perf_counter()
            trainer.train()
            if share is not None:
                share.set_epoch(epoch)
                batches = epoch_batches(examples, train_cfg.batch_size, train_cfg.seed * 1000 + epoch, list(share))
            else:
                batches = epoch_batches(examples, train_cfg.batch_size, train_cfg.seed * 1000 + epoch)
            task = bar.add_task(f"epoch {epoch}/{train_cfg.epochs} loss -", total=batches_per_epoch)
            total_loss = 0.0
            for number, chosen in enumerate(batches, start=1):
                batch = make_batch([examples[i] for i in chosen], len(channels), device, channel_types,
                                   train_cfg.distill.weight)  # the weight counts only with a teacher attached
                loss = trainer(batch)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if train_cfg.grad_clip:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), train_cfg.grad_clip)
                optimizer.step()
                scheduler.step()
                if ema is not None:
                    ema.update_parameters(model)
                total_loss += loss.item()
                bar.update(task, advance=1, description=f"epoch {epoch}/{train_cfg.epochs} loss {total_loss / number:.4f}")
            model.eval()
            scored = ema.module if ema is not None else model  # the averaged weights, when kept
            scored.eval()
            dev = None
            if group.main:  # the ranks hold the same weights: rank 0 scores, every rank takes its scores
                extractor = Extractor(scored, vocab, schema, device=device, lexicon=lexicon, bigrams=bigram_vocab,
                                      subwords=subwords)
                dev_task = bar.add_task(f"epoch {epoch} dev", total=len(dev_records))
                dev, _ = evaluate_records(extractor, dev_records, config,
                                          on_progress=lambda n, t=dev_task: bar.advance(t, n))
                bar.remove_task(dev_task)
            dev = distributed.broadcast(dev)
            mean_loss = distributed.mean(total_loss / max(1, batches_per_epoch))
            epoch_seconds.append(round(time.perf_counter() - started, 2))
            curve.append({
                "epoch": epoch, "loss": round(mean_loss, 6),
                "dev_precision": dev["precision"], "dev_recall": dev["recall"], "dev_f1": dev["f1"],
                "seconds": epoch_seconds[-1],
            })
            bar.update(task, description=f"epoch {epoch}/{train_cfg.epochs} loss {mean_loss:.4f} dev F1 {dev['f1']:.4f}")
            if dev["f1"] > best_f1:
                best_f1, best_epoch, bad_epochs = dev["f1"], epoch, 0
                best_dev = {k: dev[k] for k in ("precision", "recall", "f1", "support")}
                if group.main:
                    save_model_folder(model_folder, scored, vocab, schema, config, {
                        "best_epoch": epoch, "dev": best_dev, "train": _train_settings(config),
                        "thresholds": {
                            "subject": config.extract.subject_threshold, "object": config.extract.object_threshold,
                        },
                        **({"encoder": encoder_provenance} if encoder_provenance is not None else {}),
                    }, lexicon, bigram_vocab, subwords)
            else:
                bad_epochs += 1
            stopped_early = bad_epochs >= train_cfg.patience
            rng = distributed.gather(_rng_state()) if group.active else [_rng_state()]
            if group.main:
                _save_checkpoint(checkpoint_path, {
                    "fingerprint": fingerprint, "settings": _resume_settings(config), "data_hash": data_hash,
                    "epoch": epoch, "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    **({"ema": ema.state_dict()} if ema is not None else {}),
                    "best_f1": best_f1, "best_epoch": best_epoch,
                    "bad_epochs": bad_epochs, "curve": curve, "best_dev": best_dev,
                    **({"vocab": vocab.itos} if vocab is not None else {}),
                    **({"encoder": encoder_provenance} if encoder_provenance is not None else {}),
                    **({"bigrams": bigram_vocab.itos} if bigram_vocab is not None else {}),
                    "rng": rng[0],
                    **({"world_size": group.world, "rank_rng": rng} if group.active else {}),
                })
            # No rank goes on before the checkpoint is in place: a kill from here on resumes after this epoch.
            distributed.barrier()
            from kgqa_cli import faults

            faults.point("train.checkpoint")  # a kill here is an interrupted run that --resume continues
            if group.main:
                log.info("epoch %d: loss %.4f, dev P %.4f R %.4f F1 %.4f%s", epoch, mean_loss, dev["precision"],
                         dev["recall"], dev["f1"], " (best)" if best_epoch == epoch else "")
    if group.main:
        if not model_folder.exists():
            raise MissingArtifactError(f"no model was saved in {model_folder}", hint="train for at least one epoch")
        write_json(model_folder / "curve.json", curve)
    return TrainResult(
        model_dir=model_folder, best_epoch=best_epoch, epochs_run=len(curve), dev=best_dev, curve=curve,
        epoch_seconds=epoch_seconds, stopped_early=stopped_early, device=str(device), encoder=encoder_provenance,
    )


def _pretrained_encoder(config: KgConfig, checkpoint: dict | None) -> tuple[Any, Any, dict]:
    """The pretrained encoder, its tokenizer (as ``Subwords``) and provenance; refuses settings
    that need the character layers, and a checkpoint made from other encoder weights."""
    from kgqa_cli.extraction.tokens import Subwords, max_tokens_of
    from kgqa_cli.pretrained import load_encoder

    train_cfg = config.train
    if train_cfg.init:
        raise ConfigError("kg.train.init starts the character encoder from `kgqa pretrain`; it does not apply with "
                          "kg.model.encoder pretrained", hint="set kg.train.init to null")
    if train_cfg.distill.teacher:
        raise ConfigError("kg.train.distill.teacher teaches per character; a pretrained encoder's pointers are on "
                          "tokens", hint="set kg.train.distill.teacher to null, or train with kg.model.encoder lstm")
    name = config.model.pretrained
    location = name
    channel = os.environ.get("SM_CHANNEL_PRETRAINED")
    if name.startswith("s3://") and channel:  # in a SageMaker training job: the prefix arrives as a channel
        location = channel
    encoder, tokenizer, provenance = load_encoder(location, "kg.model.pretrained")
    provenance = {**provenance, "encoder": name}
    if checkpoint is not None:
        saved = (checkpoint.get("encoder") or {}).get("revision")
        if saved is not None and saved != provenance["revision"]:
            raise ConfigError(f"the checkpoint was trained from other weights of {name} (revision {saved}, now "
                              f"{provenance['revision']})", hint="pass --restart to start over from today's encoder")
    return encoder, Subwords(tokenizer, max_tokens_of(encoder.config, tokenizer)), provenance


def _parameter_groups(model: CasRel, train_cfg: Any) -> list[dict]:
    """The optimiser's parameter groups: a pretrained encoder's weights at ``encoder_lr`` (they
    only need adjusting), the rest at ``lr``."""
    if model.encoder is None:
        return [{"params": list(model.parameters())}]
    encoder_ids = {id(parameter) for parameter in model.encoder.parameters()}
    return [{"params": list(model.encoder.parameters()), "lr": train_cfg.encoder_lr},
            {"params": [parameter for parameter in model.parameters() if id(parameter) not in encoder_ids]}]


@contextmanager
def training_lock(workspace: Workspace, stage: str, command: str) -> Iterator[None]:
    """Refuse at once a second run of ``stage`` in this workspace while one runs (both would write
    the same checkpoints and model folder); ``command`` names it in the refusal."""
    from kgqa_cli.io import exclusive_lock

    if not distributed.init_from_env().main:  # the other ranks of a torchrun group write nothing
        yield
        return
    with exclusive_lock(workspace.model_dir(stage).parent / f".{stage}.lock", wait=False, what=command):
        yield


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
