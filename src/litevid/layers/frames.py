"""Folding time into the batch for 2D-per-frame models, and back."""

from __future__ import annotations

import torch

__all__ = ["fold_frames", "unfold_frames"]


def fold_frames(x: torch.Tensor) -> torch.Tensor:
    """(B, C, T, H, W) -> (B*T, C, H, W), frame-major within each clip."""
    B, C, T, H, W = x.shape
    return x.transpose(1, 2).reshape(B * T, C, H, W)


def unfold_frames(x: torch.Tensor, num_frames: int) -> torch.Tensor:
    """(B*T, ...) -> (B, T, ...)."""
    return x.reshape(x.shape[0] // num_frames, num_frames, *x.shape[1:])
