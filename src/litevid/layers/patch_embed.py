"""Patch and tubelet embeddings: a strided convolution that turns pixels into tokens.

``PatchEmbed`` embeds every frame on its own with a 2D convolution (ViT/DeiT key ``proj``), so the
ImageNet patch kernel loads unchanged; TimeSformer and ViViT-FE use it. ``TubeletEmbed`` is a 3D
convolution over space-time cubes (Video Swin's ``PatchEmbed3D``, MViT's ``cube1``), returning a
channels-last grid that window and pooling attention reshape directly.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from .frames import fold_frames

__all__ = ["PatchEmbed", "TubeletEmbed"]


def _triple(v: int | tuple[int, int, int]) -> tuple[int, int, int]:
    return (v, v, v) if isinstance(v, int) else tuple(v)  # type: ignore[return-value]


class PatchEmbed(nn.Module):
    """Per-frame non-overlapping ``patch_size`` x ``patch_size`` patches -> ``embed_dim`` tokens.

    Args:
        patch_size: side of a square patch (16 for ViT/DeiT).
        in_chans: input channels.
        embed_dim: token width.
    """

    def __init__(self, patch_size: int = 16, in_chans: int = 3, embed_dim: int = 768) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def grid(self, height: int, width: int) -> tuple[int, int]:
        """Patch grid ``(h, w)`` of a ``height`` x ``width`` frame (the border remainder is cut)."""
        return height // self.patch_size, width // self.patch_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T, H, W)`` clip -> ``(B*T, h*w, D)`` tokens, frame-major within each clip."""
        x = self.proj(fold_frames(x))  # (B*T, D, h, w)
        return x.flatten(2).transpose(1, 2)  # (B*T, h*w, D)


class TubeletEmbed(nn.Module):
    """3D convolutional embedding of space-time cubes, returned channels-last.

    Args:
        kernel_size: cube size ``(kt, kh, kw)``.
        in_chans: input channels.
        embed_dim: token width.
        stride: cube stride; defaults to ``kernel_size`` (non-overlapping tubelets).
        padding: convolution padding (MViT's overlapping ``cube1`` pads ``(1, 3, 3)``).
        pad_to_stride: zero-pad the end of T/H/W up to a multiple of ``stride`` first, as Video
            Swin does, so no border pixels are dropped.
        norm_layer: optional norm over channels after the convolution (Swin: LayerNorm).
    """

    def __init__(
        self,
        kernel_size: int | tuple[int, int, int],
        in_chans: int = 3,
        embed_dim: int = 96,
        stride: int | tuple[int, int, int] | None = None,
        padding: int | tuple[int, int, int] = 0,
        pad_to_stride: bool = False,
        norm_layer: Callable[[int], nn.Module] | None = None,
    ) -> None:
        super().__init__()
        kernel_size = _triple(kernel_size)
        self.stride = _triple(stride) if stride is not None else kernel_size
        self.pad_to_stride = pad_to_stride
        self.proj = nn.Conv3d(in_chans, embed_dim, kernel_size, self.stride, _triple(padding))
        self.norm = norm_layer(embed_dim) if norm_layer is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T, H, W)`` -> ``(B, T', H', W', D)``."""
        if self.pad_to_stride:
            T, H, W = x.shape[-3:]
            st, sh, sw = self.stride
            pads = (0, -W % sw, 0, -H % sh, 0, -T % st)  # static-shape padding, zero when divisible
            if any(pads):
                x = F.pad(x, pads)
        x = self.proj(x).permute(0, 2, 3, 4, 1)  # (B, T', H', W', D)
        if self.norm is not None:
            x = self.norm(x)
        return x
