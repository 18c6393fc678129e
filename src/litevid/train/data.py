"""Datasets and loaders of a training run: reproducible clips, resumable order, the model's heads.

Every random choice a loader worker makes for a clip (TSN offsets, crop, flip, per-clip
augmentation) is drawn from a generator seeded by (run seed, epoch, clip index): a clip is the
same whichever worker loads it and however many workers there are, so a run resumed in the
middle of an epoch sees exactly the batches the uninterrupted run saw. The epoch's order comes
from ``DistributedSampler`` (its own seeded generator; one shard per rank) and the loader's own
seed from a generator of its own, so building a loader never touches the global RNG.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, default_collate

from .distributed import DistContext, ShardSampler, SkipSampler

__all__ = ["ClipResult", "EvalBatch", "EvalClips", "SeededClips", "clip_ids", "eval_loader",
           "model_heads", "train_loader"]


def _mix(*values: int) -> int:
    """A 63-bit seed from integers (SplitMix64-style), stable across processes and runs."""
    h = 0x9E3779B97F4A7C15
    for v in values:
        h = (h ^ (v & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 31
    return h & 0x7FFFFFFFFFFFFFFF


class SeededClips(Dataset):
    """``dataset[i]`` under a torch RNG seeded by (seed, epoch, i); the caller's RNG is untouched."""

    def __init__(self, dataset: Dataset, seed: int) -> None:
        self.dataset, self.seed, self.epoch = dataset, seed, 0

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> Any:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(_mix(self.seed, self.epoch, index))
            return self.dataset[index]

    def __getattr__(self, name: str) -> Any:  # classes, skipped, batch_transform, ...
        if name == "dataset":
            raise AttributeError(name)
        return getattr(self.dataset, name)


def model_heads(dataset: Any, action_map: bool) -> int | dict[str, int]:
    """Classifier widths for ``dataset``: its one label width, or its named heads without the
    joint ``action`` head that an ``action_map`` derives from the others (EK100: verb and noun
    are trained; action is scored from them)."""
    n = dataset.num_classes
    if isinstance(n, int):
        return n
    heads = {h: w for h, w in n.items() if not (action_map and h == "action")}
    return heads["label"] if set(heads) == {"label"} else heads


def train_loader(dataset: SeededClips, *, epoch: int, batch_size: int, workers: int, seed: int,
                 dist: DistContext, skip_batches: int = 0) -> tuple[DataLoader, int]:
    """The loader of one training epoch, resuming after ``skip_batches`` micro-batches.

    Returns the loader and the number of micro-batches this rank's shard holds in the epoch.
    """
    dataset.epoch = epoch
    sampler = DistributedSampler(dataset, num_replicas=dist.world_size, rank=dist.rank,
                                 shuffle=True, seed=seed, drop_last=True)
    sampler.set_epoch(epoch)
    loader = DataLoader(
        dataset, batch_size=batch_size, sampler=SkipSampler(sampler, skip_batches * batch_size),
        num_workers=workers, pin_memory=dist.backend.pin_memory, drop_last=True,
        generator=torch.Generator().manual_seed(_mix(seed, epoch, 1)),
        persistent_workers=False)
    return loader, len(sampler) // batch_size


@dataclass
class ClipResult:
    """One evaluation item: the clip and its target, or why it could not be read."""

    index: int
    clip: torch.Tensor | None = None
    target: Any = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class EvalBatch:
    """A batch of the clips that decoded (``clips`` is ``None`` when none did), the dataset
    indices they came from, and the items left out (``failed``) or used with a warning."""

    clips: torch.Tensor | None
    target: Any
    indices: list[int]
    failed: list[tuple[int, str]]
    warned: list[tuple[int, str]]

    def pin_memory(self) -> EvalBatch:  # the DataLoader calls this when pin_memory=True
        if self.clips is not None:
            self.clips = self.clips.pin_memory()
        return self


class EvalClips(Dataset):
    """``dataset`` for evaluation: item ``i`` is clip ``i`` or the reason it is missing, never
    another clip in its place (``VideoClipDataset.__getitem__`` replaces bad clips, as long
    training runs want; a score must not). The error is returned, not raised, so a worker
    process reports it as one line and the evaluation goes on or stops as the caller decides."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> ClipResult:
        load = getattr(self.dataset, "load", None)
        warnings: list[str] = []
        try:
            clip, target = load(index, warnings) if load is not None else self.dataset[index]
        except (ValueError, OSError) as exc:  # FileNotFoundError is an OSError
            return ClipResult(index, error=str(exc) or type(exc).__name__)
        return ClipResult(index, clip, target, warnings=warnings)


def collate_results(items: list[ClipResult]) -> EvalBatch:
    """Stack the clips that decoded; keep the others aside with their reasons."""
    good = [r for r in items if r.error is None]
    clips, target = (default_collate([(r.clip, r.target) for r in good]) if good
                     else (None, None))
    return EvalBatch(clips, target, [r.index for r in good],
                     [(r.index, r.error) for r in items if r.error is not None],
                     [(r.index, w) for r in good for w in r.warnings])


def eval_loader(dataset: Dataset, *, batch_size: int, workers: int,
                dist: DistContext) -> DataLoader:
    """Every clip once over all ranks, in order (``ShardSampler``), as ``EvalBatch`` es: clips
    that cannot be read are listed, never replaced (``EvalClips``)."""
    sampler = ShardSampler(len(dataset), dist.rank, dist.world_size)  # type: ignore[arg-type]
    return DataLoader(EvalClips(dataset), batch_size=batch_size, sampler=sampler,
                      num_workers=workers, pin_memory=dist.backend.pin_memory,
                      collate_fn=collate_results, generator=torch.Generator().manual_seed(0))


def clip_ids(dataset: Any, indices: list[int]) -> list[str]:
    """Names of clips for the predictions file: the record's path (and frame range), else the
    index."""
    records = getattr(dataset, "records", None)
    if records is None:
        return [str(i) for i in indices]
    out = []
    for i in indices:
        r = records[i]
        rng = f":{r.start_frame}-{r.end_frame}" if r.start_frame is not None else ""
        out.append(f"{r.path}{rng}")
    return out
