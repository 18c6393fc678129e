"""Clip transforms: one set of random parameters per clip, applied to every frame.

Two stages, split by cost:

* ``ClipTransform`` runs in the loader workers on ``uint8`` frames: resize of the short side (done
  by the decoder when it can, else here on uint8), random or centre crop, horizontal flip. These
  are slicing and one resample, so they stay cheap per clip. It returns either the finished
  normalised float clip ``(C, T, H, W)`` or, for GPU-side augmentation, the ``uint8`` clip.
* ``VideoAugment`` is the photometric and geometric augmentation of the study (random affine:
  translate, scale, shear, rotate; colour jitter; random erasing) with kornia's
  ``VideoSequential(data_format="BCTHW", same_on_frame=True)``, then normalisation with the model
  spec's mean and std. It works on batches, so it can run on the GPU after collation
  (``augment="batch"``), or per clip inside ``ClipTransform`` (``augment="worker"``).

Flip lives in the worker stage because it is a free view on uint8 there. It is configurable per
dataset (``DatasetSpec.flip``): Something-Something labels name directions ("from left to right"),
and the synthetic dataset's classes are motion directions, so both default to no flip. Sizes and
mean/std not given come from ``specs.input_contract`` (the model spec's defaults), never literals.
kornia is imported inside ``VideoAugment``: ``import litevid`` needs only torch, numpy, rich.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .specs import dataset_spec, input_contract

__all__ = ["AugmentConfig", "ClipTransform", "VideoAugment", "default_augment", "normalize_clip"]


@dataclass(frozen=True)
class AugmentConfig:
    """Training augmentation of one dataset (the study's families; parameters are ours since the
    supplement with the exact values is not public).

    Attributes:
        flip: horizontal flip with probability 0.5 (off for direction-labelled datasets).
        affine: random affine with the ranges below (probability ``affine_p``).
        degrees: rotation range +-degrees.
        translate: translation as a fraction of width/height.
        scale: zoom range.
        shear: shear range +-degrees.
        color_jitter: brightness/contrast/saturation/hue jitter (probability ``jitter_p``).
        erasing: random erasing (Zhong et al.) with probability ``erasing_p``.
    """

    flip: bool = True
    affine: bool = True
    affine_p: float = 0.8
    degrees: float = 10.0
    translate: float = 0.1
    scale: tuple[float, float] = (0.8, 1.2)
    shear: float = 5.0
    color_jitter: bool = True
    jitter_p: float = 0.8
    brightness: float = 0.3
    contrast: float = 0.3
    saturation: float = 0.3
    hue: float = 0.05
    erasing: bool = True
    erasing_p: float = 0.25

    @property
    def any_batch_op(self) -> bool:
        return self.affine or self.color_jitter or self.erasing


def default_augment(dataset: str) -> AugmentConfig:
    """The training augmentation of a registered dataset: all on unless its spec turns parts off
    (``DatasetSpec.augment``), flip as its spec says (off where labels name directions)."""
    spec = dataset_spec(dataset)
    return AugmentConfig(**{"flip": spec.flip, **spec.augment})


def _stats(values: Sequence[float], name: str) -> torch.Tensor:
    t = torch.tensor([float(v) for v in values], dtype=torch.float32)
    if t.ndim != 1 or t.numel() not in (1, 3):
        raise ValueError(f"{name} needs 1 or 3 values, got {list(values)}")
    return t.expand(3).clone()


def normalize_clip(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8 (or [0, 1] float) clip(s) ``(..., C, T, H, W)`` -> normalised float32."""
    m, s = _stats(mean, "mean"), _stats(std, "std")
    if x.dtype == torch.uint8:
        scale, shift = 1.0 / (255.0 * s), m / s
    else:
        scale, shift = 1.0 / s, m / s
    shape = (3, 1, 1, 1)
    out = x.to(torch.float32, memory_format=torch.contiguous_format)
    return out.mul_(scale.to(out.device).view(shape)).sub_(shift.to(out.device).view(shape))


class VideoAugment(nn.Module):
    """Batch augmentation (kornia, same parameters for every frame of a clip) + normalisation.

    Input ``(B, C, T, H, W)`` uint8 or float in [0, 1]; output normalised float32, same shape.
    With ``config=None`` it only normalises (evaluation).
    """

    def __init__(self, config: AugmentConfig | None, *, mean: Sequence[float],
                 std: Sequence[float], flip: bool = False) -> None:
        super().__init__()
        self.register_buffer("mean", _stats(mean, "mean"), persistent=False)
        self.register_buffer("std", _stats(std, "std"), persistent=False)
        self.aug: nn.Module | None = None
        if config is None:
            return
        import kornia.augmentation as K

        ops: list[nn.Module] = []
        if flip and config.flip:
            ops.append(K.RandomHorizontalFlip(p=0.5))
        if config.affine:
            ops.append(K.RandomAffine(degrees=config.degrees,
                                      translate=(config.translate, config.translate),
                                      scale=config.scale, shear=config.shear, p=config.affine_p))
        if config.color_jitter:
            ops.append(K.ColorJitter(config.brightness, config.contrast, config.saturation,
                                     config.hue, p=config.jitter_p))
        if config.erasing:
            ops.append(K.RandomErasing(p=config.erasing_p))
        if ops:
            self.aug = K.VideoSequential(*ops, data_format="BCTHW", same_on_frame=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 5 or x.shape[1] != 3:
            raise ValueError(f"VideoAugment expects (B, 3, T, H, W), got {tuple(x.shape)}")
        x = x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()
        if self.aug is not None and self.training:
            x = self.aug(x)
        shape = (1, 3, 1, 1, 1)
        return (x - self.mean.view(shape)) / self.std.view(shape)


class ClipTransform:
    """uint8 frames ``(T, H, W, 3)`` -> clip ``(C, T, size, size)``.

    Args:
        size: output height and width (default: the ``ModelSpec`` default).
        short_side: short side before cropping; default ``size * 8 / 7`` (256 for 224), the
            usual resize-then-crop ratio. The dataset asks the decoder for this size already.
        train: random crop (and flip, augmentation); otherwise centre crop.
        flip: random horizontal flip when training.
        mean: normalisation mean, the model spec's (default: the ``ModelSpec`` default).
        std: normalisation std, likewise.
        augment: ``VideoAugment`` to run per clip here (``augment="worker"``), or ``None``.
        output: ``"float"`` (normalised float32) or ``"uint8"`` (for batch augmentation).
    """

    def __init__(self, size: int | None = None, *, short_side: int | None = None,
                 train: bool = True, flip: bool = True, mean: Sequence[float] | None = None,
                 std: Sequence[float] | None = None, augment: VideoAugment | None = None,
                 output: str = "float") -> None:
        if output not in ("float", "uint8"):
            raise ValueError(f"output must be 'float' or 'uint8', got {output!r}")
        if output == "uint8" and augment is not None:
            raise ValueError("augment runs on float clips; with output='uint8' apply it per batch")
        contract = input_contract(size=size, mean=mean, std=std)
        self.size = int(contract["size"])
        self.short_side = int(short_side) if short_side else round(self.size * 8 / 7)
        if self.short_side < self.size:
            raise ValueError(f"short_side {self.short_side} is smaller than the crop size "
                             f"{self.size}")
        self.train, self.flip, self.output = train, flip, output
        self.mean, self.std = contract["mean"], contract["std"]
        self.augment = augment.train(train) if augment is not None else None

    def __repr__(self) -> str:
        return (f"ClipTransform(size={self.size}, short_side={self.short_side}, train={self.train}, "
                f"flip={self.flip}, output={self.output!r}, augment={self.augment is not None})")

    def _resize(self, frames: np.ndarray) -> np.ndarray:
        h, w = frames.shape[1:3]
        if min(h, w) == self.short_side:
            return frames
        scale = self.short_side / min(h, w)
        size = (max(self.size, round(h * scale)), max(self.size, round(w * scale)))
        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)  # (T, 3, H, W)
        x = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
        return x.permute(0, 2, 3, 1).numpy()  # (T, H', W', 3)

    def __call__(self, frames: np.ndarray, *, generator: torch.Generator | None = None) -> torch.Tensor:
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"expected uint8 frames (T, H, W, 3), got {frames.dtype} {frames.shape}")
        frames = self._resize(frames)
        h, w = frames.shape[1:3]
        s = self.size
        if self.train:
            y0 = int(torch.randint(0, h - s + 1, (1,), generator=generator))
            x0 = int(torch.randint(0, w - s + 1, (1,), generator=generator))
            flip = self.flip and bool(torch.rand((), generator=generator) < 0.5)
        else:
            y0, x0, flip = (h - s) // 2, (w - s) // 2, False
        crop = frames[:, y0:y0 + s, x0:x0 + s]
        if flip:
            crop = crop[:, :, ::-1]
        clip = torch.from_numpy(np.ascontiguousarray(crop)).permute(3, 0, 1, 2)  # (C, T, H, W)
        if self.output == "uint8":
            return clip.contiguous()
        if self.augment is not None and self.augment.aug is not None:
            with torch.no_grad():
                return self.augment(clip.unsqueeze(0))[0]
        return normalize_clip(clip, self.mean, self.std)
