"""Late temporal modelling: a small transformer over per-frame (or per-time-step) features.

Shared by VTN (Neimark et al. 2021; 3 layers of width 256 over ResNet-50 / EfficientNet-B0 frame
features) and I3D-BERT (Kalfaoglu et al. 2020; one BERT layer of width 512 over I3D time steps).
Sequence: project features to ``dim``, prepend a learned CLS token, add a learned positional
embedding, run pre-norm ``Block``s; the CLS output is the clip feature.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .block import Block

__all__ = ["TemporalTransformer"]


class TemporalTransformer(nn.Module):
    """CLS-token transformer over a ``(B, T, in_dim)`` sequence.

    Args:
        in_dim: feature width of the input sequence.
        dim: transformer width (after the linear projection).
        depth: number of blocks.
        num_heads: attention heads.
        max_len: longest sequence, CLS included (size of the positional embedding). Shorter
            sequences use its first positions, so one model takes any T up to ``max_len - 1``.
        mlp_ratio: feed-forward width / ``dim``.
        drop: dropout on embeddings and inside blocks.
        final_norm: LayerNorm after the last block (VTN) or not (BERT5).
        final_drop: dropout on the output sequence (BERT5: 0.1).
        token_keep_prob: BERT5's training-time masking: each non-CLS token is kept as an
            attention key with this probability (1.0 = off). Eval always attends to every token.
    """

    def __init__(
        self,
        in_dim: int,
        dim: int,
        depth: int,
        num_heads: int,
        max_len: int,
        mlp_ratio: float = 4.0,
        drop: float = 0.1,
        final_norm: bool = True,
        final_drop: float = 0.0,
        token_keep_prob: float = 1.0,
    ) -> None:
        super().__init__()
        self.max_len = max_len
        self.token_keep_prob = token_keep_prob
        self.proj = nn.Linear(in_dim, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, max_len, dim))
        self.pos_drop = nn.Dropout(drop)
        self.blocks = nn.ModuleList(
            Block(dim, num_heads, mlp_ratio, drop=drop) for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim, eps=1e-6) if final_norm else nn.Identity()
        self.out_drop = nn.Dropout(final_drop)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)

    def _key_mask(self, B: int, N: int, device: torch.device) -> torch.Tensor | None:
        if not (self.training and self.token_keep_prob < 1.0):
            return None
        keep = torch.rand(B, N, device=device) < self.token_keep_prob  # (B, N) bernoulli
        keep[:, 0] = True  # the CLS token is always a key
        return keep[:, None, None, :]  # (B, 1, 1, N): broadcast over heads and queries

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, T, in_dim) -> (B, T + 1, dim)
        B, T, _ = x.shape
        if T + 1 > self.max_len:
            raise ValueError(f"sequence of {T} steps exceeds the positional embedding ({self.max_len - 1})")
        x = self.proj(x)
        x = torch.cat([self.cls_token.expand(B, -1, -1), x], dim=1)  # (B, T+1, dim)
        x = self.pos_drop(x + self.pos_embed[:, : T + 1])
        mask = self._key_mask(B, T + 1, x.device)
        for blk in self.blocks:
            x = blk(x, mask)
        return self.out_drop(self.norm(x))
