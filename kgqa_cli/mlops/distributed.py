"""Data-parallel training with torch's DistributedDataParallel, in processes started by ``torchrun``.

``torchrun`` (locally ``torchrun --nproc_per_node N -m kgqa_cli train kg``; on SageMaker the
PyTorch container's launcher) starts one process per rank and sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``; :func:`init_from_env` joins that group
(gloo on CPUs, NCCL on GPUs). The training loops wrap their model with :func:`wrap`, draw their
share of each epoch's sentences from :func:`sampler`, and let rank 0 alone write files. Without
torchrun (no ``WORLD_SIZE``, or 1) every function here leaves the single process as it is.
"""

from __future__ import annotations

import atexit
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    import torch
    from torch.distributed import ProcessGroup
    from torch.utils.data import Dataset
    from torch.utils.data.distributed import DistributedSampler

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Group:
    """This process's place in the process group: rank, world size (1: not distributed) and its
    rank on its host (the GPU it uses)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        """Whether this rank writes the results (rank 0)."""
        return self.rank == 0


def current() -> Group:
    """The initialised process group's rank and size, or a single process."""
    try:
        import torch.distributed as dist
    except ImportError:
        return Group()
    if dist.is_available() and dist.is_initialized():
        return Group(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    return Group()


def init_from_env(environ: Mapping[str, str] | None = None) -> Group:
    """Join the group ``torchrun`` started this process in (``init_method="env://"``); once is
    enough, a second call returns the group. Without ``WORLD_SIZE`` above 1: a single process."""
    env = os.environ if environ is None else environ
    world = int(env.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return Group()
    import torch
    import torch.distributed as dist

    if dist.is_initialized():
        return current()
    local_rank = int(env.get("LOCAL_RANK", "0") or 0)
    if torch.cuda.is_available():
        # One GPU per process on a host: "cuda" then means this rank's GPU everywhere.
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
        # NCCL for CUDA tensors, gloo for the CPU ones (the logged loss, objects, a model kept on the CPU).
        backend = "cpu:gloo,cuda:nccl"
    else:
        backend = "gloo"
    dist.init_process_group(backend, init_method="env://")
    # Left at exit while the interpreter still runs: a group (or a DDP wrapper's reducer, kept in
    # a reference cycle) still alive during finalisation can abort the process from a gloo thread
    # that wants the GIL ("terminate called without an active exception").
    atexit.register(_leave)
    group = Group(dist.get_rank(), dist.get_world_size(), local_rank)
    log.info("distributed: rank %d of %d (%s, rendezvous %s:%s)", group.rank, group.world, backend,
             env.get("MASTER_ADDR"), env.get("MASTER_PORT"))
    return group


def _leave() -> None:
    import gc

    import torch.distributed as dist

    gc.collect()  # the wrappers' reducers first, then the group they communicate through
    if dist.is_initialized():
        dist.destroy_process_group()


def wrap(module: torch.nn.Module, device: torch.device, find_unused_parameters: bool = False) -> torch.nn.Module:
    """``module`` in DistributedDataParallel (rank 0's weights on every rank from here on, gradients
    averaged in backward); the module itself outside a group."""
    if not current().active:
        return module
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [device.index if device.index is not None else _cuda_device()] if device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=device_ids, find_unused_parameters=find_unused_parameters)


def _cuda_device() -> int:
    import torch

    return torch.cuda.current_device()


def sampler(count: int, seed: int) -> DistributedSampler[int]:
    """This rank's share of ``count`` items, shuffled per epoch (call ``set_epoch``); every rank
    gets the same number (some items twice when ``count`` does not divide), so that the ranks
    take the same number of steps."""
    from torch.utils.data.distributed import DistributedSampler

    group = current()
    # The sampler reads only len() of its data set: the range of the item numbers stands for it.
    items = cast("Dataset[int]", range(count))
    return DistributedSampler(items, num_replicas=group.world, rank=group.rank, shuffle=True, seed=seed)


def mean(value: float) -> float:
    """The mean of a number over the ranks (the logged loss); the number itself outside a group."""
    group = current()
    if not group.active:
        return value
    import torch
    import torch.distributed as dist

    tensor = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(tensor, group=_cpu_group())
    return float(tensor.item()) / group.world


def broadcast(value: T) -> T:
    """Rank 0's ``value`` on every rank (a picklable object: dev scores, a version), so that
    every rank decides alike; the value itself outside a group."""
    if not current().active:
        return value
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0, group=_cpu_group())
    return box[0]


def gather(value: T) -> list[T]:
    """Every rank's ``value``, in rank order; ``[value]`` outside a group."""
    group = current()
    if not group.active:
        return [value]
    import torch.distributed as dist

    values: list[Any] = [None] * group.world
    dist.all_gather_object(values, value, group=_cpu_group())
    return values


def barrier() -> None:
    """Wait until every rank gets here (no-op outside a group)."""
    if current().active:
        import torch.distributed as dist

        dist.barrier(group=_cpu_group())


_CPU_GROUP: list[ProcessGroup] = []


def _cpu_group() -> ProcessGroup | None:
    """A gloo group for the small CPU-side exchanges (numbers, pickled objects, barriers), so that
    they never need a GPU; the default group when it is gloo already."""
    import torch.distributed as dist

    if dist.get_backend() == "gloo":
        return None
    if not _CPU_GROUP:
        _CPU_GROUP.append(dist.new_group(backend="gloo"))
    return _CPU_GROUP[0]
