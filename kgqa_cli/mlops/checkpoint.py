"""The resumable checkpoint of a training run: every random state, the settings it must match, and
the number of processes that made it.

A checkpoint holds plain values and tensors only, so that it loads with
``torch.load(weights_only=True)`` (nothing in it runs code). Its ``fingerprint`` is the hash of
the settings a resumed run must share (as dotted keys, ``kg.train.lr``) and of its data; a
run with other settings, other data or another number of processes is refused with the
difference named, since its batches and random draws would not continue the killed run's.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from kgqa_cli.errors import ConfigError, CorruptArtifactError, FileSystemError, describe_os_error
from kgqa_cli.mlops import distributed
from kgqa_cli.mlops.distributed import Group

log = logging.getLogger(__name__)

RngState = dict[str, Any]  # python, numpy, torch (and cuda) generator states, as torch.save keeps them


def rng_state() -> RngState:
    """This process's global random states: Python's, numpy's, torch's and every GPU's."""
    # Plain tuples, ints and tensors only, so the checkpoint loads with torch.load(weights_only=True).
    legacy = cast(tuple[str, np.ndarray, int, int, float], np.random.get_state())  # legacy=True: the tuple form
    name, keys, position, has_gauss, cached = legacy
    numpy_state = (name, torch.from_numpy(keys.astype(np.int64)), int(position), int(has_gauss), float(cached))
    state: RngState = {"python": random.getstate(), "numpy": numpy_state, "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: RngState) -> None:
    """Put back the random states :func:`rng_state` took."""
    random.setstate(state["python"])
    name, keys, position, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), position, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@dataclass(frozen=True)
class CheckpointSpec:
    """Where a run keeps its checkpoint and what a resumed run must match: ``settings`` (dotted
    keys to values, named in a refusal) and the hash of its data."""

    path: Path
    settings: dict[str, Any]
    data_hash: str

    @property
    def fingerprint(self) -> str:
        text = json.dumps(self.settings, sort_keys=True) + self.data_hash
        return hashlib.sha256(text.encode()).hexdigest()

    def header(self) -> dict[str, Any]:
        """The checkpoint's first keys: what :meth:`load` compares."""
        return {"fingerprint": self.fingerprint, "settings": self.settings, "data_hash": self.data_hash}

    def save(self, state: dict[str, Any]) -> None:
        """Write ``state`` in one rename: a kill leaves the previous checkpoint or this one."""
        tmp = self.path.with_name(f".{self.path.name}.partial")
        torch.save(state, tmp)
        os.replace(tmp, self.path)

    def load(self, world: int = 1) -> dict[str, Any]:
        """Read the checkpoint for ``--resume``: it must load and match today's settings, data and
        number of processes (``world``), else the error names ``--restart``."""
        checkpoint = self._read()
        if checkpoint["fingerprint"] != self.fingerprint:
            raise ConfigError(
                f"{self.path} cannot be resumed: it was made with {self._difference(checkpoint)}",
                hint="resume with the settings it was made with, or pass --restart to discard it and start over",
            )
        made_by = checkpoint.get("world_size", 1)
        if made_by != world:  # each rank's share of the data and its random state depend on the count
            raise ConfigError(
                f"{self.path} cannot be resumed: it was made by {made_by} training process(es), this run has {world}",
                hint=f"resume with {made_by} process(es) (torchrun --nproc_per_node), or pass --restart to start over",
            )
        return checkpoint

    def _read(self) -> dict[str, Any]:
        path = self.path
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        except OSError as exc:
            raise FileSystemError(describe_os_error(exc, "cannot read the checkpoint")) from exc
        except Exception as exc:  # truncated, empty, or not a torch file at all
            detail = str(exc).splitlines()[0] if str(exc) else "no detail"
            raise CorruptArtifactError(
                f"{path}: the checkpoint cannot be loaded ({exc.__class__.__name__}: {detail})",
                hint="pass --restart to start the training over",
            ) from exc
        if not isinstance(checkpoint, dict) or "fingerprint" not in checkpoint:
            raise CorruptArtifactError(f"{path}: not a kgqa training checkpoint", hint="pass --restart to start over")
        return checkpoint

    def _difference(self, checkpoint: dict[str, Any]) -> str:
        """The settings that changed since the checkpoint, or that its data did."""
        saved, now = checkpoint.get("settings", {}), self.settings
        changed = [f"{key} {saved.get(key)!r} -> {now.get(key)!r}" for key in sorted(set(saved) | set(now))
                   if saved.get(key) != now.get(key)]
        if not changed and checkpoint.get("data_hash") not in (None, self.data_hash):
            changed = ["the training data (train/dev split or schema) changed"]
        return "; ".join(changed) if changed else "other settings or data"


def checkpoint_to_resume(spec: CheckpointSpec, group: Group, *, resume: bool, restart: bool) -> dict[str, Any] | None:
    """The checkpoint ``--resume`` continues (None: a fresh start); ``--restart`` deletes it."""
    checkpoint = None
    if restart and spec.path.exists() and group.main:
        log.info("--restart: discarding %s", spec.path)
        spec.path.unlink()
    if resume:
        if spec.path.exists():
            checkpoint = spec.load(group.world)
        else:
            log.info("no checkpoint at %s: starting afresh", spec.path)
    if group.active:  # every rank must resume from the same epoch (one checkpoint on a shared disk)
        seen = distributed.gather(checkpoint["epoch"] if checkpoint is not None else None)
        if len(set(seen)) > 1:
            raise ConfigError(f"the ranks see different checkpoints at {spec.path} (epochs {seen})",
                              hint="resume where every rank reads the same models folder, or pass --restart")
    return checkpoint
