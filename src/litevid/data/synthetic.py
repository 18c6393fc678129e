"""A built-in dataset whose classes are motions, so training and tests work with nothing downloaded.

Each clip shows one textured object (random shape, colours, pinwheel texture, background) that
moves in one way: translation in a direction, rotation clockwise or counter-clockwise, approach
(grows) or recede (shrinks). Appearance is drawn independently of the class, and classes come in
time-reversed pairs (right/left, clockwise/counter-clockwise, approach/recede, ...) whose clips
have the same distribution of *sets* of frames: a model that pools frames without temporal order
is at chance within each pair. Only temporal modelling solves it.

Everything is drawn from ``numpy.random.default_rng((seed, index))``: a clip depends only on the
seed and its index (any worker, any order), and labels are balanced by construction.

Registered as dataset ``synthetic`` (no annotation files: ``build_synthetic`` makes it; no flip or
kornia augmentation, since the classes are the motions those would change; 112 pixels unless a
model says otherwise).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from .specs import DatasetSpec, input_contract, register_dataset
from .transforms import ClipTransform

__all__ = ["SYNTHETIC_CLASSES", "SyntheticVideoDataset", "build_synthetic", "render_motion_clip"]

# Time-reversed pairs are adjacent: (0, 1), (2, 3), ...
SYNTHETIC_CLASSES = (
    "move right", "move left", "move down", "move up",
    "rotate clockwise", "rotate counterclockwise", "approach", "recede",
    "move down-right", "move up-left", "move down-left", "move up-right",
)
_DIRECTIONS = {0: (1, 0), 1: (-1, 0), 2: (0, 1), 3: (0, -1),
               8: (1, 1), 9: (-1, -1), 10: (-1, 1), 11: (1, -1)}


def render_motion_clip(label: int, *, frames: int, size: int,
                       rng: np.random.Generator) -> np.ndarray:
    """Render one clip of class ``label`` as uint8 ``(frames, size, size, 3)``.

    Image y grows downwards, so "rotate clockwise" is a growing angle in image coordinates.
    """
    if not 0 <= label < len(SYNTHETIC_CLASSES):
        raise ValueError(f"synthetic label {label} out of range 0..{len(SYNTHETIC_CLASSES) - 1}")
    t = np.linspace(-0.5, 0.5, frames, dtype=np.float32) if frames > 1 else np.zeros(1, np.float32)
    radius = rng.uniform(0.10, 0.16) * size
    angle0 = rng.uniform(0, 2 * math.pi)
    radii = np.full(frames, radius, np.float32)
    angles = np.full(frames, angle0, np.float32)
    offset = np.zeros((frames, 2), np.float32)
    if label in _DIRECTIONS:
        d = np.array(_DIRECTIONS[label], np.float32)
        d /= np.linalg.norm(d)
        offset = t[:, None] * (rng.uniform(0.35, 0.5) * size) * d[None]
    elif label in (4, 5):
        turn = rng.uniform(0.5, 1.0) * math.pi * (1 if label == 4 else -1)
        angles = angle0 + t * turn
    else:
        growth = math.log(rng.uniform(2.0, 3.0)) * (1 if label == 6 else -1)
        radii = radius * np.exp(t * growth)
    # Midpoint distribution is the same for both classes of a pair (their extents are equal).
    reach = np.abs(offset).max(axis=0) + radii.max() + 1
    centre = np.array([rng.uniform(reach[0], size - reach[0]), rng.uniform(reach[1], size - reach[1])],
                      np.float32)
    centres = centre[None] + offset  # (T, 2) as (x, y)

    sectors = int(rng.integers(3, 7))
    square = bool(rng.integers(0, 2))
    colour_a, colour_b = rng.uniform(40, 255, 3), rng.uniform(0, 215, 3)
    bg_a, bg_b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    ramp = (xs * math.cos(angle0) + ys * math.sin(angle0)) / (size * 1.5) + 0.5
    background = bg_a * (1 - ramp[..., None]) + bg_b * ramp[..., None]
    background += rng.normal(0, 8, (size, size, 3))

    dx = xs[None] - centres[:, 0, None, None]  # (T, H, W)
    dy = ys[None] - centres[:, 1, None, None]
    cos, sin = np.cos(angles)[:, None, None], np.sin(angles)[:, None, None]
    r = radii[:, None, None]
    u = (dx * cos + dy * sin) / r
    v = (-dx * sin + dy * cos) / r
    inside = (np.maximum(np.abs(u), np.abs(v)) <= 1) if square else (u * u + v * v <= 1)
    wedge = (np.floor((np.arctan2(v, u) + math.pi) / (2 * math.pi) * sectors) % 2).astype(bool)
    obj = np.where(wedge[..., None], colour_a, colour_b)  # (T, H, W, 3)
    clip = np.where(inside[..., None], obj, background[None])
    return np.clip(clip, 0, 255).astype(np.uint8)


class SyntheticVideoDataset(Dataset):
    """Procedural motion clips (see module docstring); the default dataset for training and tests.

    Args:
        num_clips: clips in the dataset.
        num_classes: first ``num_classes`` of ``SYNTHETIC_CLASSES`` (2..12).
        frames: frames per clip.
        size: frame height and width.
        seed: everything is a function of (seed, index).
        mean: normalisation mean (the model spec's).
        std: normalisation std.
        transform: replaces the default (centre crop + normalise at ``size``).

    ``frames``, ``size``, ``mean`` and ``std`` default to the ``synthetic`` entry's input contract
    (``input_contract(dataset="synthetic")``), as ``build_dataset`` does.
    """

    def __init__(self, num_clips: int = 512, num_classes: int = 8, *, frames: int | None = None,
                 size: int | None = None, seed: int = 0, mean: Sequence[float] | None = None,
                 std: Sequence[float] | None = None,
                 transform: ClipTransform | None = None) -> None:
        contract = input_contract(dataset="synthetic", frames=frames, size=size, mean=mean, std=std)
        frames, size, mean, std = (contract[k] for k in ("frames", "size", "mean", "std"))
        if not 2 <= num_classes <= len(SYNTHETIC_CLASSES):
            raise ValueError(f"synthetic num_classes must be 2..{len(SYNTHETIC_CLASSES)}, "
                             f"got {num_classes}")
        if num_clips < 1 or frames < 1 or size < 8:
            raise ValueError(f"synthetic dataset needs num_clips >= 1, frames >= 1, size >= 8 "
                             f"(got {num_clips}, {frames}, {size})")
        self.num_clips, self.frames, self.size, self.seed = num_clips, frames, size, seed
        self.classes = {"label": list(SYNTHETIC_CLASSES[:num_classes])}
        self.num_classes = num_classes
        self.heads = ("label",)
        # Balanced labels in a seed-dependent order (class counts differ by at most one).
        order = np.random.default_rng((seed, 2**31 - 1)).permutation(num_clips)
        self.labels = (order % num_classes).astype(np.int64)
        self.transform = transform or ClipTransform(size, short_side=size, train=False, flip=False,
                                                    mean=mean, std=std)
        self.batch_transform = None
        self.skipped = 0

    def __len__(self) -> int:
        return self.num_clips

    def frames_of(self, index: int) -> np.ndarray:
        """The raw uint8 clip ``(T, H, W, 3)`` of ``index``."""
        rng = np.random.default_rng((self.seed, index))
        return render_motion_clip(int(self.labels[index]), frames=self.frames, size=self.size,
                                  rng=rng)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        if not -self.num_clips <= index < self.num_clips:
            raise IndexError(index)
        index %= self.num_clips
        return self.transform(self.frames_of(index)), int(self.labels[index])


def build_synthetic(split: str, *, frames: int, size: int, mean: Sequence[float],
                    std: Sequence[float], num_clips: int | None = None, num_classes: int = 8,
                    seed: int = 0) -> SyntheticVideoDataset:
    """The ``synthetic`` split: 512 training clips (128 otherwise); each split its own stream."""
    clips = num_clips or (512 if split == "train" else 128)
    split_seed = int(np.random.SeedSequence([seed, ("train", "val", "test").index(split)])
                     .generate_state(1)[0])
    return SyntheticVideoDataset(clips, num_classes, frames=frames, size=size, seed=split_seed,
                                 mean=mean, std=std)


SYNTHETIC = register_dataset(DatasetSpec(
    name="synthetic", builder=build_synthetic, flip=False, input_defaults={"size": 112},
    # From scratch on a 2-core CPU in about 5 minutes: 8 frames at 64 px, 64 optimizer steps
    # per epoch (each at the learning rate of the recipe), 12 epochs.
    train_defaults={"frames": 8, "size": 64, "effective_batch": 8, "epochs": 12},
    augment={"affine": False, "color_jitter": False, "erasing": False}))
