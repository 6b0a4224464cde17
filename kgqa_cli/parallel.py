"""Synchronous data-parallel training over torch.distributed, for SageMaker jobs on several
instances (each instance one rank).

Every rank builds the same model from the same seed (rank 0's weights are broadcast anyway),
takes every ``world``-th batch of the same seeded batch order, and averages its gradients with
the others' before each optimizer step (one all-reduce of the flattened gradients), so all ranks
hold the same weights after every step: the same training as one process with a batch
``world`` times larger. Dev scoring runs on every rank, so early stopping decides alike.
Outside a process group nothing changes.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class DataParallel:
    """This process's place in the group: rank and world size (1: not distributed)."""

    rank: int = 0
    world: int = 1

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        """Whether this rank writes the results (rank 0)."""
        return self.rank == 0

    def shard(self, batches: list[T]) -> list[T]:
        """This rank's batches: every ``world``-th one, all ranks taking the same count (the
        collectives pair up step by step). Fewer batches than ranks: each rank takes one, some
        the same, so that none is left without a step."""
        if not self.active or not batches:
            return batches
        if len(batches) < self.world:
            return [batches[self.rank % len(batches)]]
        usable = len(batches) // self.world * self.world
        return batches[:usable][self.rank::self.world]

    def broadcast_parameters(self, model: Any) -> None:
        """Rank 0's weights on every rank."""
        if self.active:
            import torch.distributed as dist

            for tensor in model.state_dict().values():
                dist.broadcast(tensor, src=0)

    def average_gradients(self, model: Any) -> None:
        """Replace each gradient by its mean over the ranks (one all-reduce)."""
        if not self.active:
            return
        import torch
        import torch.distributed as dist

        # Every parameter, a zero where this rank's batch left it without a gradient (the object
        # head of a batch without subjects): all ranks reduce tensors of one size, in one order.
        parameters = list(model.parameters())
        if not parameters:
            return
        flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in parameters])
        dist.all_reduce(flat)
        flat /= self.world
        offset = 0
        for parameter in parameters:
            averaged = flat[offset:offset + parameter.numel()].view_as(parameter)
            if parameter.grad is None:
                parameter.grad = averaged.clone()
            else:
                parameter.grad.copy_(averaged)
            offset += parameter.numel()

    def mean(self, value: float) -> float:
        """The mean of a number over the ranks (the logged loss)."""
        if not self.active:
            return value
        import torch
        import torch.distributed as dist

        tensor = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(tensor)
        return float(tensor.item()) / self.world


def current() -> DataParallel:
    """The process group's rank and size, or a single process."""
    try:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            return DataParallel(dist.get_rank(), dist.get_world_size())
    except ImportError:
        pass
    return DataParallel()


def init_from_sagemaker(environment: dict[str, str] | None = None) -> DataParallel:
    """Join the process group of a SageMaker job on several hosts (``SM_HOSTS``,
    ``SM_CURRENT_HOST``; the first host is the rendezvous, port ``KGQA_DIST_PORT`` or 29500);
    gloo on CPUs, NCCL on GPUs. One host: nothing to join."""
    env = environment if environment is not None else os.environ
    hosts = json.loads(env.get("SM_HOSTS", "[]")) or []
    if len(hosts) <= 1:
        return DataParallel()
    import torch
    import torch.distributed as dist

    rank = hosts.index(env["SM_CURRENT_HOST"])
    # NCCL for CUDA tensors, gloo for the CPU ones (the logged loss, a model kept on the CPU).
    backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"
    address = f"tcp://{hosts[0]}:{env.get('KGQA_DIST_PORT', '29500')}"
    dist.init_process_group(backend, init_method=address, rank=rank, world_size=len(hosts))
    log.info("data-parallel: rank %d of %d (%s, %s)", rank, len(hosts), backend, address)
    return DataParallel(rank, len(hosts))
