"""Resampling learned position embeddings to other grids and clip lengths.

Models are built for the clip size they are asked for (``frames``, ``size``), so their embeddings
already have the right shape; these helpers adapt embeddings that come from elsewhere: an
ImageNet checkpoint trained at 224 (loading), or an input whose size differs from the built one
(forward). All of them depend only on static shapes, so they trace and export.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["resample_pos_embed_2d", "resample_pos_embed_1d"]


def resample_pos_embed_2d(
    pos_embed: torch.Tensor,
    new_grid: tuple[int, int],
    num_prefix_tokens: int = 1,
    old_grid: tuple[int, int] | None = None,
    mode: str = "bicubic",
) -> torch.Tensor:
    """Interpolate a ViT position embedding ``(1, P + h*w, D)`` to ``(1, P + H*W, D)``.

    The ``num_prefix_tokens`` leading entries (CLS) are kept as they are; the patch part is
    treated as an image and resized (bicubic, as timm and DeiT do when fine-tuning at another
    resolution).

    Args:
        pos_embed: embedding with the prefix tokens first.
        new_grid: target patch grid ``(H, W)``.
        num_prefix_tokens: number of leading non-spatial tokens.
        old_grid: source grid; inferred as square when omitted.
        mode: ``F.interpolate`` mode.
    """
    prefix, grid = pos_embed[:, :num_prefix_tokens], pos_embed[:, num_prefix_tokens:]
    n, D = grid.shape[1], grid.shape[2]
    if old_grid is None:
        side = math.isqrt(n)
        if side * side != n:
            raise ValueError(f"cannot infer a square grid from {n} position embeddings; pass old_grid")
        old_grid = (side, side)
    if tuple(old_grid) == tuple(new_grid):
        return pos_embed
    grid = grid.reshape(1, old_grid[0], old_grid[1], D).permute(0, 3, 1, 2)  # (1, D, h, w)
    kwargs = {"align_corners": False} if mode in ("bilinear", "bicubic") else {}
    grid = F.interpolate(grid.float(), size=tuple(new_grid), mode=mode, **kwargs).to(pos_embed.dtype)
    grid = grid.permute(0, 2, 3, 1).reshape(1, new_grid[0] * new_grid[1], D)  # (1, H*W, D)
    return torch.cat([prefix, grid], dim=1)


def resample_pos_embed_1d(
    pos_embed: torch.Tensor, new_len: int, num_prefix_tokens: int = 0, mode: str = "nearest"
) -> torch.Tensor:
    """Resize a sequence embedding ``(1, P + L, D)`` along L to ``(1, P + new_len, D)``.

    Used for temporal embeddings when the clip length changes (TimeSformer resizes its
    ``time_embed`` with nearest neighbours). Prefix tokens are kept.
    """
    prefix, seq = pos_embed[:, :num_prefix_tokens], pos_embed[:, num_prefix_tokens:]
    if seq.shape[1] == new_len:
        return pos_embed
    kwargs = {"align_corners": False} if mode == "linear" else {}
    seq = F.interpolate(seq.transpose(1, 2).float(), size=new_len, mode=mode, **kwargs)  # (1, D, L')
    return torch.cat([prefix, seq.transpose(1, 2).to(pos_embed.dtype)], dim=1)
