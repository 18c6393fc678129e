"""Multi-head self-attention on ``F.scaled_dot_product_attention``.

Every attention in litevid goes through ``Attention`` (or ``sdpa`` for models that build q/k/v
themselves, e.g. pooled attention), so fused flash / memory-efficient kernels are used on GPU and
the CPU flash kernel on CPU, and FLOPs are counted in one place.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["Attention", "sdpa", "split_heads", "merge_heads"]


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
    """softmax(q k^T * scale + mask) v on (B, heads, N, hd) tensors; scale defaults to hd^-0.5."""
    return F.scaled_dot_product_attention(
        q, k, v, attn_mask=attn_mask, dropout_p=dropout_p, scale=scale
    )


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
