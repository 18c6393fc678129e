"""Several processes through PyTorch's own launcher: ``torchrun`` + ``DistributedDataParallel``.

``torchrun --nproc_per_node=N -m litevid train ...`` (or ``--nnodes``/``--rdzv-endpoint`` for
several machines) starts N processes with ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` set;
``DistContext.from_env`` resolves each process's device through ``litevid.devices`` (``auto`` /
``cuda`` -> ``cuda:<LOCAL_RANK>``), makes it current, joins the process group with the device
backend's choice (NCCL on GPUs, gloo on CPU) and every process trains on its shard. Without
those variables it is a single process and nothing is initialised. Only rank 0 writes files,
logs and results.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterator

import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from ..devices import DeviceBackend, get_backend

__all__ = ["DistContext", "ShardSampler", "SkipSampler"]


@dataclass
class DistContext:
    """Where this process stands: rank, world size, its device backend."""

    backend: DeviceBackend
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def device(self) -> torch.device:
        """Where this process's tensors go."""
        return self.backend.device

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, device: str = "auto") -> "DistContext":
        """Read torchrun's variables, pick the device and join the process group if needed."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        backend = get_backend(device, local_rank=local if world > 1 else None, world_size=world)
        backend.set_current()
        if world > 1 and not dist.is_initialized():
            dist.init_process_group(backend=backend.dist_backend)
        return cls(backend=backend, rank=rank, world_size=world, local_rank=local)

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum ``tensor`` over ranks in place (on this process's device, and back)."""
        if self.enabled:
            work = tensor.to(self.device)
            dist.all_reduce(work, op=dist.ReduceOp.SUM)
            if work is not tensor:
                tensor.copy_(work.to(tensor.device))
        return tensor

    def broadcast_object(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank."""
        if not self.enabled:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather_objects(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, in rank order (on every rank)."""
        if not self.enabled:
            return [obj]
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def close(self) -> None:
        if self.enabled and dist.is_initialized():
            dist.destroy_process_group()


class ShardSampler(Sampler[int]):
    """Indices ``rank, rank + world, ...`` in order, without padding: every clip is evaluated
    exactly once over all ranks (``DistributedSampler`` pads with repeats, which would count some
    clips twice in the metrics)."""

    def __init__(self, length: int, rank: int = 0, world_size: int = 1) -> None:
        self.indices = list(range(rank, length, world_size))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


class SkipSampler(Sampler[int]):
    """Another sampler's indices after skipping the first ``skip`` (resuming mid-epoch)."""

    def __init__(self, base: Sampler[int], skip: int = 0) -> None:
        self.base, self.skip = base, skip

    def __iter__(self) -> Iterator[int]:
        it = iter(self.base)
        for _ in range(self.skip):
            next(it, None)
        return it

    def __len__(self) -> int:
        return max(len(self.base) - self.skip, 0)  # type: ignore[arg-type]
