"""Data-parallel training under ``torchrun``: process group, gradient averaging, agreement.

Gradients are averaged with an explicit all-reduce after each backward pass, the same
collective DistributedDataParallel performs. Doing it by hand lets one training step
update several networks in turn (a GAN's generator and discriminator) without wrapping
each in DDP and fighting its assumptions about one forward per backward.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class ProcessInfo:
    """This process's place in the job."""

    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_from_env(device: torch.device | None = None) -> ProcessInfo:
    """Join the process group that ``torchrun`` describes in the environment, if any."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return ProcessInfo()
    if not dist.is_initialized():
        backend = "nccl" if device is not None and device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    return ProcessInfo(rank=dist.get_rank(), world_size=dist.get_world_size())


def shutdown() -> None:
    """Leave the process group together (no-op when not distributed): a barrier first, so
    no rank tears its connections down while another still talks over them (rank 0 saves
    the model after the last step; gloo aborts a peer whose connection closes under it)."""
    if dist.is_initialized():
        if dist.get_world_size() > 1:
            dist.barrier()
        dist.destroy_process_group()


def average_gradients(module: torch.nn.Module) -> None:
    """Average the gradients of ``module`` across processes (no-op when alone)."""
    if not (dist.is_initialized() and dist.get_world_size() > 1):
        return
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def broadcast_module(module: torch.nn.Module) -> None:
    """Copy rank 0's parameters and buffers to every process."""
    if not (dist.is_initialized() and dist.get_world_size() > 1):
        return
    for tensor in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(tensor.data, src=0)


def any_process(flag: bool) -> bool:
    """True on every process if ``flag`` is true on any (to stop all ranks together)."""
    if not (dist.is_initialized() and dist.get_world_size() > 1):
        return flag
    value = torch.tensor([1 if flag else 0])
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())
