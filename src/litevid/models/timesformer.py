"""TimeSformer (Bertasius et al. 2021), base size, divided space-time attention.

Every frame is cut into 16x16 patches (ViT-B/16, D = 768). Each of the 12 blocks first attends
over time among the T tokens at one spatial position (``temporal_attn`` + ``temporal_fc``), then
over space among the tokens of one frame, with the single CLS token replicated into every frame
and averaged back, then applies the MLP. This follows ``facebookresearch/TimeSformer``
``lib/models/vit.py``; the study initialises it from DeiT-base (MODELS.md section 6).

Differences from the reference code: patch tokens are kept as a ``(B, h*w, T, D)`` grid (same
maths, fewer rearranges); position and time embeddings are resized bicubic / nearest when the
input grid or clip length differs from the built one; every ``temporal_fc`` starts at zero (the
reference random init skips the first block; its DeiT loading zeroes all of them).
"""

from __future__ import annotations

from functools import partial
from typing import Callable

import torch
import torch.nn as nn

from ..layers import Attention, DropPath, Mlp
from ..layers.classifier import NumClasses
from ..layers.patch_embed import PatchEmbed
from ..layers.pos_embed import resample_pos_embed_1d, resample_pos_embed_2d
from ..layers.weight_init import init_transformer_weights
from ._base import VideoModel
from ._registry import InitSpec, ModelSpec, register_model
from ._weights import drop_keys

__all__ = ["TimeSformer", "DividedBlock"]


class DividedBlock(nn.Module):
    """Divided space-time block: temporal attention, spatial attention, MLP (all pre-norm).

    ``norm1``/``attn``/``norm2``/``mlp`` carry timm ViT key names so DeiT weights load as they
    are; ``temporal_norm1``/``temporal_attn`` start as copies of them, ``temporal_fc`` at zero,
    so the block initially equals the 2D ViT block applied per frame.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        norm_layer: Callable[[int], nn.Module] = partial(nn.LayerNorm, eps=1e-6),
    ) -> None:
        super().__init__()
        self.temporal_norm1 = norm_layer(dim)
        self.temporal_attn = Attention(dim, num_heads, qkv_bias, attn_drop, drop)
        self.temporal_fc = nn.Linear(dim, dim)
        self.norm1 = norm_layer(dim)
        self.attn = Attention(dim, num_heads, qkv_bias, attn_drop, drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)

    def forward(self, cls: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Args: ``cls`` (B, 1, D) and patch tokens ``x`` (B, N, T, D), N = h*w."""
        B, N, T, D = x.shape
        # temporal attention among the T tokens of each spatial position
        xt = x.reshape(B * N, T, D)
        res = self.drop_path(self.temporal_attn(self.temporal_norm1(xt)))  # (B*N, T, D)
        x = x + self.temporal_fc(res).reshape(B, N, T, D)

        # spatial attention within each frame, the CLS token replicated into every frame
        xs = x.transpose(1, 2).reshape(B * T, N, D)  # (B*T, N, D)
        cls_t = cls.expand(B, T, D).reshape(B * T, 1, D)
        res = self.drop_path(self.attn(self.norm1(torch.cat([cls_t, xs], dim=1))))  # (B*T, 1+N, D)
        res = res.reshape(B, T, N + 1, D)
        cls = cls + res[:, :, 0].mean(dim=1, keepdim=True)  # (B, 1, D): mean over frames
        x = x + res[:, :, 1:].transpose(1, 2)  # (B, N, T, D)

        cls = cls + self.drop_path(self.mlp(self.norm2(cls)))
        x = x + self.drop_path(self.mlp(self.norm2(x)))
        return cls, x


class TimeSformer(VideoModel):
    """ViT with divided space-time attention over per-frame patch tokens.

    Args:
        num_classes: classifier width (0 = no classifier), or a dict of named widths.
        frames: clip length T the time embedding is built for.
        size: frame side the position embedding is built for.
        patch_size: ViT patch side.
        in_chans: input channels.
        embed_dim: token width D.
        depth: number of divided blocks.
        num_heads: attention heads.
        mlp_ratio: MLP width / D.
        drop_rate: dropout on embeddings, inside blocks and before the classifier.
        attn_drop_rate: attention dropout.
        drop_path_rate: stochastic depth of the last block (linear from 0).
    """

    def __init__(
        self,
        num_classes: NumClasses = 400,
        frames: int = 16,
        size: int = 224,
        patch_size: int = 16,
        in_chans: int = 3,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.1,
    ) -> None:
        super().__init__()
        self.in_chans = in_chans
        self.patch_embed = PatchEmbed(patch_size, in_chans, embed_dim)
        self.grid = self.patch_embed.grid(size, size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.grid[0] * self.grid[1], embed_dim))
        self.time_embed = nn.Parameter(torch.zeros(1, frames, embed_dim))
        self.pos_drop = nn.Dropout(drop_rate)
        dpr = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]  # meta-safe linspace
        self.blocks = nn.ModuleList(
            DividedBlock(embed_dim, num_heads, mlp_ratio, True, drop_rate, attn_drop_rate, dpr[i])
            for i in range(depth)
        )
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.create_head(embed_dim, num_classes, drop_rate=drop_rate,
                         init_fn=init_transformer_weights)  # features are the CLS token

        self.apply(init_transformer_weights)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        for blk in self.blocks:  # temporal branch starts switched off
            nn.init.zeros_(blk.temporal_fc.weight)
            nn.init.zeros_(blk.temporal_fc.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T, H, W)`` -> normalised CLS token ``(B, D)``."""
        B, _, T, H, W = x.shape
        grid = self.patch_embed.grid(H, W)
        x = self.patch_embed(x)  # (B*T, N, D)
        pos = self.pos_embed
        if grid != self.grid:  # static shapes only: another input size than the one built for
            pos = resample_pos_embed_2d(pos, grid, 1, old_grid=self.grid)
        time = self.time_embed
        if T != time.shape[1]:
            time = resample_pos_embed_1d(time, T)
        D = x.shape[-1]
        x = (x + pos[:, 1:]).reshape(B, T, -1, D).transpose(1, 2)  # (B, N, T, D)
        x = self.pos_drop(x + time.unsqueeze(1))  # time embedding shared by all positions
        cls = self.pos_drop(self.cls_token + pos[:, :1]).expand(B, -1, -1)  # (B, 1, D)
        for blk in self.blocks:
            cls, x = blk(cls, x)
        return self.norm(cls[:, 0])  # only the CLS token is read; LayerNorm is per token

    def checkpoint_filter(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Map a ViT/DeiT-base image checkpoint (timm / official DeiT keys) onto TimeSformer.

        Every ViT key keeps its name; ``attn``/``norm1`` are duplicated into
        ``temporal_attn``/``temporal_norm1``; ``temporal_fc`` and ``time_embed`` are set to zero;
        ``pos_embed`` is resized to this model's patch grid and ``head`` is dropped. A TimeSformer
        checkpoint (it already has ``time_embed``) only gets its embeddings resized.
        """
        state = drop_keys(state_dict, ("head.", "fc_norm.", "head_drop."))
        if "pos_embed" in state:
            state["pos_embed"] = resample_pos_embed_2d(state["pos_embed"], self.grid, 1)
        if "time_embed" in state:
            state["time_embed"] = resample_pos_embed_1d(state["time_embed"], self.time_embed.shape[1])
            return state
        state["time_embed"] = torch.zeros_like(self.time_embed, device="cpu")
        for i, blk in enumerate(self.blocks):
            p = f"blocks.{i}."
            for src, dst in (("attn.", "temporal_attn."), ("norm1.", "temporal_norm1.")):
                for k in [k for k in state if k.startswith(p + src)]:
                    state[p + dst + k[len(p + src):]] = state[k].clone()
            state[p + "temporal_fc.weight"] = torch.zeros_like(blk.temporal_fc.weight, device="cpu")
            state[p + "temporal_fc.bias"] = torch.zeros_like(blk.temporal_fc.bias, device="cpu")
        return state


# ---- builder and registered variants ----------------------------------------------------------


@register_model(ModelSpec(
    paper_name="TimeSformer", category="attention-only", paper_params_m=121.0,
    init=InitSpec(dataset="ImageNet-1K", method="temporal-copy", sources=("deit_base_patch16_224",),
                  layouts=("timm", "official DeiT"),
                  notes="DeiT-base; ViT keys as is, attn/norm1 copied to temporal_attn/"
                        "temporal_norm1, temporal_fc and time_embed zero, pos_embed resized to the "
                        "patch grid, head dropped"),
))
def timesformer(*, frames: int = 16, size: int = 224, **kwargs) -> TimeSformer:
    model_args = dict(patch_size=16, embed_dim=768, depth=12, num_heads=12)
    return TimeSformer(frames=frames, size=size, **dict(model_args, **kwargs))
