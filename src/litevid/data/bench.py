"""Loader throughput: decode + sample + transform, clips per second for one worker on one core.

What a ``DataLoader`` worker does per training clip, timed by stage on real video files: read the
frame count, draw the TSN indices, decode those frames (resized on uint8 while converting), then
crop/flip/normalise (and, with ``augment="worker"``, the kornia augmentation on the CPU). Torch
and the decoder are held to one thread, so the figure is per core: a machine with N free cores
feeds about N times this with N workers. CPU time of the process is reported beside wall time
because on a shared machine wall time also counts other people's work.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any, Sequence

import torch

from .decode import read_video_frames, video_info
from .sampling import sample_indices
from .transforms import ClipTransform, VideoAugment, default_augment

__all__ = ["bench_loader"]


def bench_loader(videos: Sequence[str | os.PathLike], *, frames: int = 16, size: int = 224,
                 short_side: int | None = None, clips: int = 100, warmup: int = 5,
                 train: bool = True, augment: str = "batch", dataset: str = "k400",
                 seed: int = 0) -> dict[str, Any]:
    """Time ``clips`` clips (after ``warmup``) cycling over ``videos``.

    Args:
        videos: video files or frame folders (whole file = one clip).
        frames: clip length T.
        size: crop size.
        short_side: resize before crop (default ``size * 8 / 7``).
        clips: timed clips.
        warmup: untimed clips first (file cache, allocator).
        train: TSN sampling + random crop/flip; otherwise segment centres + centre crop.
        augment: ``batch`` (worker stops at the uint8 clip; kornia runs per batch on the device),
            ``worker`` (kornia affine/jitter/erasing per clip on this CPU) or ``off``.
        dataset: whose augmentation defaults to use (flip off for ``ssv2``).
        seed: torch seed for the sampled indices and crops.

    Returns:
        A dict with clips/s (wall and per CPU second), per-stage milliseconds and the settings.
    """
    if not videos:
        raise ValueError("no videos to benchmark")
    if clips < 1:
        raise ValueError(f"clips must be >= 1, got {clips}")
    if augment not in ("batch", "worker", "off"):
        raise ValueError(f"augment must be batch, worker or off, got {augment!r}")
    paths = [os.fspath(v) for v in videos]
    for p in paths:
        if not os.path.exists(p):
            raise FileNotFoundError(f"{p}: video not found")
    config = default_augment(dataset)
    aug = VideoAugment(config, mean=(0.45,) * 3, std=(0.225,) * 3) if augment == "worker" and train else None
    transform = ClipTransform(size, short_side=short_side, train=train, flip=config.flip,
                              augment=aug, output="uint8" if augment == "batch" else "float")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(seed)
    stages: dict[str, list[float]] = {"info": [], "sample": [], "decode": [], "transform": []}
    shape = None
    try:
        for k in range(warmup + clips):
            path = paths[k % len(paths)]
            t0 = time.perf_counter()
            info = video_info(path)
            t1 = time.perf_counter()
            idx = info.first_index + sample_indices(info.frames, frames, train=train, generator=gen)
            t2 = time.perf_counter()
            raw = read_video_frames(path, idx, short_side=transform.short_side)
            t3 = time.perf_counter()
            clip = transform(raw, generator=gen)
            t4 = time.perf_counter()
            if k == warmup:
                wall0, cpu0 = t0, time.process_time()
            if k >= warmup:
                for name, dt in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                    stages[name].append(dt * 1e3)
            shape = tuple(clip.shape)
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
    finally:
        torch.set_num_threads(threads)
    per_clip = [sum(v) for v in zip(*stages.values())]
    return {
        "videos": paths,
        "clips": clips,
        "clip_shape": list(shape or ()),
        "clip_dtype": "uint8" if augment == "batch" else "float32",
        "train": train,
        "augment": augment,
        "threads": 1,
        "wall_s": wall,
        "cpu_s": cpu,
        "clips_per_s": clips / wall,
        "clips_per_cpu_s": clips / cpu if cpu > 0 else None,
        "ms_per_clip": {"mean": statistics.fmean(per_clip), "median": statistics.median(per_clip)},
        "stages_ms": {name: statistics.fmean(v) for name, v in stages.items()},
    }
