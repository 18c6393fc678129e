"""Loader throughput: decode + sample + transform, clips per second for one worker on one core.

What a ``DataLoader`` worker does per training clip, timed by stage on real video files: open the
file and read its frame count (``info``), draw the TSN indices, decode those frames (resized on uint8 while converting), then
crop/flip/normalise (and, with ``augment="worker"``, the kornia augmentation on the CPU). A clip
is one step of ``bench.timing``'s timed loop (same stopping rule, same statistics as every other
measurement) and the result is a ``Measurement`` row of mode ``loader`` for the results store.
Torch and the decoder are held to one thread, so the figure is per core: a machine with N free
cores feeds about N times this with N workers. CPU time of the process is recorded beside wall
time because on a shared machine wall time also counts other people's work.
"""

from __future__ import annotations

import os
import time
from typing import Sequence

import torch

from ..results.measurement import Measurement
from ..utils.config import MAX_SEED, Bound
from .decode import open_video
from .sampling import sample_indices
from .transforms import ClipTransform, VideoAugment, default_augment

__all__ = ["LOADER_MODE", "bench_loader"]

LOADER_MODE = "loader"
STAGES = ("info", "sample", "decode", "transform")


def bench_loader(videos: Sequence[str | os.PathLike], *, model: str = "tsm_r50",
                 frames: int | None = None, size: int | None = None,
                 short_side: int | None = None, clips: int = 100, warmup: int = 5,
                 train: bool = True, augment: str = "batch", dataset: str = "k400",
                 seed: int = 0) -> Measurement:
    """Time ``clips`` clips (after ``warmup``) cycling over ``videos``.

    Args:
        videos: video files or frame folders (whole file = one clip).
        model: registry name whose input contract (frames, size, mean/std) the clips follow.
        frames: clip length T (default: the model's).
        size: crop size (default: the model's).
        short_side: resize before crop (default ``size * 8 / 7``).
        clips: timed clips.
        warmup: untimed clips first (file cache, allocator).
        train: TSN sampling + random crop/flip; otherwise segment centres + centre crop.
        augment: ``batch`` (worker stops at the uint8 clip; kornia runs per batch on the device),
            ``worker`` (kornia affine/jitter/erasing per clip on this CPU) or ``off``.
        dataset: whose augmentation defaults to use (flip off for ``ssv2``).
        seed: torch seed for the sampled indices and crops.

    Returns:
        A ``loader`` row: per-clip latency statistics, ``breakdown_ms`` (mean ms per stage),
        ``cpu_s`` and ``timed_s`` of the timed loop, the settings and the environment.
    """
    from ..bench.timing import StopRule, run_timed, warm_up
    from ..devices import get_backend
    from ..models import model_spec
    from ..results.stats import summarize

    if not videos:
        raise ValueError("no videos to benchmark")
    at_least_1, at_least_0 = Bound(ge=1), Bound(ge=0)
    for name, value, bound in (("frames", frames, at_least_1), ("size", size, at_least_1),
                               ("short_side", short_side, at_least_1),
                               ("clips", clips, at_least_1), ("warmup", warmup, at_least_0),
                               ("seed", seed, Bound(ge=0, le=MAX_SEED))):
        problem = None if value is None else bound.problem(value)
        if problem:  # 0 is not "the default": a number given is checked
            raise ValueError(f"{name} {problem}")
    if augment not in ("batch", "worker", "off"):
        raise ValueError(f"augment must be batch, worker or off, got {augment!r}")
    paths = [os.fspath(v) for v in videos]
    for p in paths:
        if not os.path.exists(p):
            raise FileNotFoundError(f"{p}: video not found")
    spec = model_spec(model)
    frames = frames if frames is not None else spec.frames
    size = size if size is not None else spec.size
    config = default_augment(dataset)
    aug = (VideoAugment(config, mean=spec.mean, std=spec.std)
           if augment == "worker" and train else None)
    transform = ClipTransform(size, short_side=short_side, train=train, flip=config.flip,
                              mean=spec.mean, std=spec.std, augment=aug,
                              output="uint8" if augment == "batch" else "float")
    gen = torch.Generator().manual_seed(seed)
    stage_ms: dict[str, list[float]] = {name: [] for name in STAGES}
    shape: list[int] = []
    count = [0]

    def step() -> None:
        """One clip, the next video in turn; stage times are recorded beside the timer's."""
        path = paths[count[0] % len(paths)]
        count[0] += 1
        t0 = time.perf_counter()
        with open_video(path) as video:  # one open per clip, as the dataset does
            info = video.info
            t1 = time.perf_counter()
            idx = info.first_index + sample_indices(info.frames, frames, train=train,
                                                    generator=gen)
            t2 = time.perf_counter()
            raw = video.read(idx, short_side=transform.short_side)
            t3 = time.perf_counter()
        clip = transform(raw, generator=gen)
        t4 = time.perf_counter()
        for name, dt in zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            stage_ms[name].append(dt * 1e3)
        shape[:] = list(clip.shape)

    cpu = get_backend("cpu")
    timer = cpu.timer()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        warm_up(step, timer, warmup)
        for v in stage_ms.values():
            v.clear()
        cpu0 = time.process_time()
        timing = run_timed(step, timer, StopRule(min_iters=clips, min_seconds=0.0,
                                                 max_iters=clips))
        cpu_s = time.process_time() - cpu0
    finally:
        torch.set_num_threads(threads)

    row = Measurement(
        model=model, mode=LOADER_MODE, batch=1, requested_batch=1, frames=frames, size=size,
        input_shape="x".join(str(s) for s in shape),
        precision="uint8" if augment == "batch" else "fp32",
        settings={"videos": paths, "clips": clips, "warmup": warmup, "train": train,
                  "augment": augment, "dataset": dataset, "short_side": transform.short_side,
                  "threads": 1, "seed": seed})
    row.set_environment({**cpu.environment(), "num_threads": 1})
    row.set_latency(summarize(timing.samples_ms), timing.samples_ms)
    row.timed_s, row.timer, row.cpu_s = timing.wall_s, timer.kind, cpu_s
    row.breakdown_ms = {name: sum(v) / len(v) for name, v in stage_ms.items()}
    return row
