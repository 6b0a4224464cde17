"""The training loop every model shares: epochs, the update step, the moving average of the
weights (EMA), early stopping on a dev score, and the checkpoint an interrupted run resumes from.

A model brings a :class:`Recipe`: its batches, its loss and its dev score (and, if it likes, a
progress display); :class:`Trainer` runs the epochs. Under torchrun every rank runs the loop
on its own share of the batches (the recipe draws it), rank 0 alone scores dev and the other
ranks take its scores, so that every rank stops alike; rank 0 alone writes.

Resume is exact: a run killed after an epoch's checkpoint and resumed ends with the same bytes
as one never killed. The checkpoint keeps the weights, the optimiser, the learning-rate schedule,
the averaged weights and every rank's random states, and a recipe's batches of an epoch depend
on the epoch alone. This is a small module of our own rather than 🤗 Accelerate: Accelerate's
``save_state`` writes a folder of files per process and restores random states only for its
own samplers, so the one-file checkpoint (loaded with ``weights_only=True``), the refusal of
another process count and the byte-identical resume would all have to be rebuilt on top of it,
for a loop that is short here.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import torch

from kgqa_cli import faults
from kgqa_cli.mlops import distributed
from kgqa_cli.mlops.checkpoint import CheckpointSpec, rng_state, set_rng_state
from kgqa_cli.mlops.distributed import Group

if TYPE_CHECKING:
    from kgqa_cli.workspace import Workspace

Batch = TypeVar("Batch")
Scores = dict[str, Any]  # a dev evaluation, as JSON


@dataclass(frozen=True)
class LoopSettings:
    """How long to train and how each step updates the weights."""

    epochs: int
    patience: int | None = None  # epochs without a better dev score before stopping; None: run them all
    grad_clip: float = 0.0  # the largest gradient norm; 0: no clipping
    ema_decay: float = 0.0  # decay of the weights' moving average, scored and saved in their place; 0: none


@dataclass
class EpochResult:
    """What a recipe makes of an epoch: its point of the learning curve, the number early
    stopping compares (higher is better; None: no comparison) and what is kept of the best."""

    point: dict[str, Any]
    score: float | None = None
    summary: Scores = field(default_factory=dict)


@dataclass
class Standing:
    """Where a run stands after its last finished epoch; what a checkpoint resumes."""

    epoch: int = 0
    best_score: float = -1.0
    best_epoch: int = 0
    bad_epochs: int = 0
    curve: list[dict[str, Any]] = field(default_factory=list)
    best: Scores = field(default_factory=dict)

    def stopped(self, patience: int | None) -> bool:
        """Whether early stopping has ended the run."""
        return patience is not None and self.bad_epochs >= patience


class Recipe(ABC, Generic[Batch]):
    """What one model brings to the loop. ``forward`` is the module its loss runs through (in
    DistributedDataParallel under torchrun), put in training mode at each epoch's start."""

    forward: torch.nn.Module

    @abstractmethod
    def batches(self, epoch: int) -> Iterable[Batch]:
        """The epoch's batches (this rank's share)."""

    @abstractmethod
    def loss(self, batch: Batch) -> torch.Tensor | None:
        """The batch's loss; None when it has nothing to learn from (no update, the schedule steps)."""

    @abstractmethod
    def score(self, epoch: int, scored: torch.nn.Module) -> Scores:
        """Dev scores of the weights ``scored`` (rank 0 only; the other ranks receive them)."""

    @abstractmethod
    def result(self, epoch: int, mean_loss: float, seconds: float, dev: Scores) -> EpochResult:
        """The epoch's curve point and score, from its mean loss over the ranks and its dev scores."""

    def begin_epoch(self, epoch: int, batches: Iterable[Batch]) -> None:
        """Called before the epoch's first step (a progress display starts here)."""

    def after_step(self, epoch: int, step: int, total_loss: float) -> None:
        """Called after each step with the epoch's summed loss so far."""

    def improved(self, epoch: int, scored: torch.nn.Module, standing: Standing) -> None:
        """Called when the epoch's score is the best yet, ``standing`` updated (the best weights
        are kept here)."""

    def epoch_done(self, epoch: int, standing: Standing) -> None:
        """Called at the end of each epoch, its checkpoint written."""

    def stopping(self, epoch: int, standing: Standing) -> None:
        """Called when early stopping ends the run after ``epoch``."""


class Trainer:
    """Runs a recipe's epochs on ``model`` with ``optimizer`` (and ``scheduler``, stepped after
    every batch); with ``checkpoint``, writes it after each epoch with ``extra`` added."""

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, settings: LoopSettings, *,
                 scheduler: torch.optim.lr_scheduler.LRScheduler | None = None, group: Group | None = None,
                 checkpoint: CheckpointSpec | None = None, extra: dict[str, Any] | None = None) -> None:
        self.model, self.optimizer, self.settings, self.scheduler = model, optimizer, settings, scheduler
        self.group = group if group is not None else Group()
        self.checkpoint, self.extra = checkpoint, extra or {}
        self.ema = None
        if settings.ema_decay:
            from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

            self.ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(settings.ema_decay))

    @property
    def scored(self) -> torch.nn.Module:
        """The weights dev scores and the saved model hold: the averaged ones, when kept."""
        return self.ema.module if self.ema is not None else self.model

    def restore(self, checkpoint: dict[str, Any]) -> Standing:
        """Continue from a checkpoint of this loop: weights, optimiser, schedule, averaged weights
        and this rank's random states (each rank draws its own dropout masks)."""
        self.model.load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        if "scheduler" in checkpoint and self.scheduler is not None:
            self.scheduler.load_state_dict(checkpoint["scheduler"])
        if self.ema is not None:
            self.ema.load_state_dict(checkpoint["ema"])
        standing = Standing(checkpoint["epoch"], checkpoint["best_f1"], checkpoint["best_epoch"],
                            checkpoint["bad_epochs"], checkpoint["curve"], checkpoint["best_dev"])
        set_rng_state(checkpoint["rank_rng"][self.group.rank] if self.group.active else checkpoint["rng"])
        return standing

    def run(self, recipe: Recipe[Batch], standing: Standing | None = None) -> Standing:
        """Train from the epoch after ``standing`` (a fresh run: the first) to the last, or
        until early stopping; returns where the run stopped."""
        standing = standing if standing is not None else Standing()
        for epoch in range(standing.epoch + 1, self.settings.epochs + 1):
            if standing.stopped(self.settings.patience):  # a resumed run that had stopped already
                break
            started = time.perf_counter()
            total, steps = self._train_epoch(recipe, epoch)
            self.model.eval()
            self.scored.eval()
            # The ranks hold the same weights: rank 0 scores, every rank takes its scores.
            dev = recipe.score(epoch, self.scored) if self.group.main else None
            dev = distributed.broadcast(dev) if self.group.active else dev
            mean_loss = distributed.mean(total / max(1, steps)) if self.group.active else total / max(1, steps)
            assert dev is not None  # rank 0 scored, or its scores arrived
            result = recipe.result(epoch, mean_loss, time.perf_counter() - started, dev)
            standing.curve.append(result.point)
            self._judge(recipe, standing, epoch, result)
            standing.epoch = epoch
            if self.checkpoint is not None:
                self._save_checkpoint(self.checkpoint, standing)
            recipe.epoch_done(epoch, standing)
            if standing.stopped(self.settings.patience):
                recipe.stopping(epoch, standing)
                break
        return standing

    def _train_epoch(self, recipe: Recipe[Batch], epoch: int) -> tuple[float, int]:
        """One pass over the epoch's batches; returns the summed loss and the number of steps."""
        recipe.forward.train()
        batches = recipe.batches(epoch)
        recipe.begin_epoch(epoch, batches)
        total, steps = 0.0, 0
        for steps, batch in enumerate(batches, start=1):
            loss = recipe.loss(batch)
            self.optimizer.zero_grad(set_to_none=True)
            if loss is not None:
                loss.backward()
                if self.settings.grad_clip:
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.settings.grad_clip)
                self.optimizer.step()
            if self.scheduler is not None:
                self.scheduler.step()
            if loss is not None:
                if self.ema is not None:
                    self.ema.update_parameters(self.model)
                total += loss.item()
            recipe.after_step(epoch, steps, total)
        return total, steps

    def _judge(self, recipe: Recipe[Batch], standing: Standing, epoch: int, result: EpochResult) -> None:
        """Keep the epoch as the best one, or count it towards early stopping."""
        if result.score is None:
            return
        if result.score > standing.best_score:
            standing.best_score, standing.best_epoch, standing.bad_epochs = result.score, epoch, 0
            standing.best = result.summary
            recipe.improved(epoch, self.scored, standing)
        else:
            standing.bad_epochs += 1

    def _save_checkpoint(self, spec: CheckpointSpec, standing: Standing) -> None:
        """Rank 0 writes the checkpoint with every rank's random states; no rank goes on before
        it is in place, so that a kill from here on resumes after this epoch."""
        rng = distributed.gather(rng_state()) if self.group.active else [rng_state()]
        if self.group.main:
            # best_f1 and best_dev: the names checkpoints have always had, so older ones still resume.
            spec.save({
                **spec.header(), "epoch": standing.epoch, "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                **({"scheduler": self.scheduler.state_dict()} if self.scheduler is not None else {}),
                **({"ema": self.ema.state_dict()} if self.ema is not None else {}),
                "best_f1": standing.best_score, "best_epoch": standing.best_epoch,
                "bad_epochs": standing.bad_epochs, "curve": standing.curve, "best_dev": standing.best,
                **self.extra, "rng": rng[0],
                **({"world_size": self.group.world, "rank_rng": rng} if self.group.active else {}),
            })
        distributed.barrier()
        faults.point("train.checkpoint")  # a kill here is an interrupted run that --resume continues


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
