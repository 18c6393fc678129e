"""Multi-head self-attention on ``F.scaled_dot_product_attention``.

Every attention in litevid goes through ``Attention`` (or ``sdpa`` for models that build q/k/v
themselves, e.g. pooled attention), so fused flash / memory-efficient kernels are used on GPU and
the CPU flash kernel on CPU, and FLOPs are counted in one place.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["Attention", "explicit_attention", "sdpa", "split_heads", "merge_heads"]


def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """(B, N, D) -> (B, heads, N, D // heads)."""
    B, N, D = x.shape
    return x.reshape(B, N, num_heads, D // num_heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, heads, N, hd) -> (B, N, heads * hd)."""
    B, h, N, hd = x.shape
    return x.transpose(1, 2).reshape(B, N, h * hd)


def sdpa(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    attn_mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
    scale: float | None = None,
) -> torch.Tensor:
    """softmax(q k^T * scale + mask) v on (B, heads, N, hd) tensors; scale defaults to hd^-0.5.

    Inside ``explicit_attention()`` (exporting for a runtime without a fused attention kernel)
    the same function is written as batched matmuls and a softmax; otherwise PyTorch's fused
    ``scaled_dot_product_attention``.
    """
    if _EXPLICIT and dropout_p == 0.0:
        return _explicit_sdpa(q, k, v, attn_mask, q.shape[-1] ** -0.5 if scale is None else scale)
    return F.scaled_dot_product_attention(
        q, k, v, attn_mask=attn_mask, dropout_p=dropout_p, scale=scale
    )


_EXPLICIT = False


@contextlib.contextmanager
def explicit_attention() -> Iterator[None]:
    """While active, ``sdpa`` is traced as 3-D ``bmm`` + softmax + ``bmm``.

    The decomposition of the fused kernel that ``torch.export`` produces has 4-D matmuls
    (``expand`` + ``bmm``) and NaN guards (``eq``/``any``/``where``) that ExecuTorch's XNNPACK
    delegate does not take, which splits the delegated graph at every attention.
    """
    global _EXPLICIT
    before, _EXPLICIT = _EXPLICIT, True
    try:
        yield
    finally:
        _EXPLICIT = before


def _explicit_sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                   attn_mask: torch.Tensor | None, scale: float) -> torch.Tensor:
    *lead, Nq, hd = q.shape
    Nk = k.shape[-2]
    q3, k3, v3 = (t.reshape(-1, t.shape[-2], t.shape[-1]) for t in (q, k, v))
    attn = torch.bmm(q3 * scale, k3.transpose(1, 2))  # (B * heads, Nq, Nk)
    if attn_mask is not None:  # a mask broadcasting to (B, heads, Nq, Nk); bool: True = keep
        if attn_mask.dtype == torch.bool:
            attn_mask = torch.zeros(attn_mask.shape, dtype=q.dtype).masked_fill(
                ~attn_mask, float("-inf"))
        attn = (attn.reshape(*lead, Nq, Nk) + attn_mask).reshape(-1, Nq, Nk)
    out = torch.bmm(attn.softmax(-1), v3)  # (B * heads, Nq, hd_v)
    return out.reshape(*lead, Nq, v.shape[-1])


class Attention(nn.Module):
    """ViT-style attention: fused ``qkv`` projection, SDPA, output ``proj``.

    Key names (``qkv``, ``proj``) follow timm's ViT/DeiT/Swin so ImageNet checkpoints load as is.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        qkv_bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        scale: float | None = None,
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.scale = scale
        self.attn_drop = attn_drop
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        B, N, D = x.shape
        # (B, N, 3D) -> (3, B, heads, N, hd)
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, D // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        x = sdpa(q, k, v, attn_mask, self.attn_drop if self.training else 0.0, self.scale)
        x = merge_heads(x)  # (B, N, D)
        return self.proj_drop(self.proj(x))
