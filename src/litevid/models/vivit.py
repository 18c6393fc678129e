"""ViViT factorised encoder (Arnab et al. 2021, "Model 2") with a DeiT-small spatial encoder.

A DeiT-S/16 (D = 384, 12 blocks, 6 heads) encodes every frame on its own; its CLS outputs form a
sequence of T frame tokens, to which a learned temporal CLS token and position embedding are
added before 2 more ViT blocks (the temporal encoder); the temporal CLS is classified. The study's
25.4M fixes 12 spatial + 2 temporal layers and per-frame 16x16 patches (not 2x16x16 tubelets),
see MODELS.md section 7. The spatial encoder lives under ``spatial.`` with timm DeiT key names, so
``deit_small_patch16_224`` loads into it after a prefix; the temporal encoder is new (ViViT's
trunc-normal(0.02) init).
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn as nn

from ..layers import Block
from ..layers.classifier import NumClasses
from ..layers.patch_embed import PatchEmbed
from ..layers.pos_embed import resample_pos_embed_1d, resample_pos_embed_2d
from ..layers.weight_init import init_transformer_weights
from ._base import VideoModel
from ._registry import InitSpec, ModelSpec, register_model
from ._weights import drop_keys

__all__ = ["ViViTFE", "FrameViT"]

_norm = partial(nn.LayerNorm, eps=1e-6)


class FrameViT(nn.Module):
    """A ViT/DeiT image encoder applied to every frame; returns the normalised CLS tokens.

    Keys (``cls_token``, ``pos_embed``, ``patch_embed.proj``, ``blocks.i.*``, ``norm``) are timm's.
    """

    def __init__(
        self,
        size: int = 224,
        patch_size: int = 16,
        in_chans: int = 3,
        embed_dim: int = 384,
        depth: int = 12,
        num_heads: int = 6,
        mlp_ratio: float = 4.0,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path: list[float] | None = None,
    ) -> None:
        super().__init__()
        drop_path = drop_path or [0.0] * depth
        self.patch_embed = PatchEmbed(patch_size, in_chans, embed_dim)
        self.grid = self.patch_embed.grid(size, size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.grid[0] * self.grid[1], embed_dim))
        self.pos_drop = nn.Dropout(drop_rate)
        self.blocks = nn.ModuleList(
            Block(embed_dim, num_heads, mlp_ratio, drop=drop_rate, attn_drop=attn_drop_rate,
                  drop_path=drop_path[i])
            for i in range(depth)
        )
        self.norm = _norm(embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T, H, W)`` -> per-frame CLS features ``(B, T, D)``."""
        B, _, T, H, W = x.shape
        grid = self.patch_embed.grid(H, W)
        pos = self.pos_embed
        if grid != self.grid:  # static shapes only
            pos = resample_pos_embed_2d(pos, grid, 1, old_grid=self.grid)
        x = self.patch_embed(x)  # (B*T, N, D)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)  # (B*T, 1+N, D)
        x = self.pos_drop(x + pos)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x[:, 0]).reshape(B, T, -1)  # (B, T, D)


class ViViTFE(VideoModel):
    """Factorised encoder: per-frame DeiT (``spatial``) -> temporal transformer -> linear head.

    Args:
        num_classes: classifier width (0 = no classifier), or a dict of named widths.
        frames: clip length the temporal position embedding is built for.
        size: frame side the spatial position embedding is built for.
        patch_size: ViT patch side.
        in_chans: input channels.
        embed_dim: width of both encoders.
        depth: spatial encoder blocks (12 = all of DeiT-S).
        temporal_depth: temporal encoder blocks.
        num_heads: attention heads of both encoders.
        mlp_ratio: MLP width / D.
        drop_rate: dropout on embeddings and inside blocks.
        attn_drop_rate: attention dropout.
        drop_path_rate: stochastic depth of the deepest block (linear over all 14).
        head_drop_rate: dropout before the classifier.
    """

    def __init__(
        self,
        num_classes: NumClasses = 400,
        frames: int = 16,
        size: int = 224,
        patch_size: int = 16,
        in_chans: int = 3,
        embed_dim: int = 384,
        depth: int = 12,
        temporal_depth: int = 2,
        num_heads: int = 6,
        mlp_ratio: float = 4.0,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.1,
        head_drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        self.in_chans = in_chans
        n = depth + temporal_depth
        dpr = [drop_path_rate * i / max(n - 1, 1) for i in range(n)]
        self.spatial = FrameViT(size, patch_size, in_chans, embed_dim, depth, num_heads, mlp_ratio,
                                drop_rate, attn_drop_rate, dpr[:depth])
        self.temporal_cls = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.temporal_pos = nn.Parameter(torch.zeros(1, frames + 1, embed_dim))
        self.temporal_drop = nn.Dropout(drop_rate)
        self.temporal_blocks = nn.ModuleList(
            Block(embed_dim, num_heads, mlp_ratio, drop=drop_rate, attn_drop=attn_drop_rate,
                  drop_path=dpr[depth + i])
            for i in range(temporal_depth)
        )
        self.temporal_norm = _norm(embed_dim)
        self.create_head(embed_dim, num_classes, drop_rate=head_drop_rate,
                         init_fn=init_transformer_weights)  # features are the temporal CLS token

        self.apply(init_transformer_weights)
        for p in (self.spatial.cls_token, self.spatial.pos_embed, self.temporal_cls, self.temporal_pos):
            nn.init.trunc_normal_(p, std=0.02)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T, H, W)`` -> normalised temporal CLS ``(B, D)``."""
        x = self.spatial(x)  # (B, T, D)
        B, T, _ = x.shape
        pos = self.temporal_pos
        if T + 1 != pos.shape[1]:  # another clip length than the one built for
            pos = resample_pos_embed_1d(pos, T, num_prefix_tokens=1, mode="linear")
        x = torch.cat([self.temporal_cls.expand(B, -1, -1), x], dim=1)  # (B, 1+T, D)
        x = self.temporal_drop(x + pos)
        for blk in self.temporal_blocks:
            x = blk(x)
        return self.temporal_norm(x[:, 0])

    def checkpoint_filter(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Map a DeiT-small image checkpoint (timm / official keys) onto the spatial encoder.

        Unprefixed keys get ``spatial.``; ``head``/``head_dist``/``dist_token`` (distilled DeiT)
        are dropped; ``pos_embed`` is resized to this model's patch grid. A ViViT-FE checkpoint
        (already prefixed) keeps its keys, its temporal embedding resized to this clip length.
        """
        native = any(k.startswith(("spatial.", "temporal_")) for k in state_dict)
        if native:
            state = dict(state_dict)
            if "temporal_pos" in state:
                state["temporal_pos"] = resample_pos_embed_1d(
                    state["temporal_pos"], self.temporal_pos.shape[1] - 1, 1, mode="linear")
        else:
            state = drop_keys(state_dict, ("head.", "head_dist.", "dist_token", "fc_norm.", "head_drop."))
            state = {f"spatial.{k}": v for k, v in state.items()}
        if "spatial.pos_embed" in state:
            state["spatial.pos_embed"] = resample_pos_embed_2d(
                state["spatial.pos_embed"], self.spatial.grid, 1)
        return state


# ---- builder and registered variants ----------------------------------------------------------


@register_model(ModelSpec(
    paper_name="ViViT-FE", category="attention-only", paper_params_m=25.4,
    init=InitSpec(dataset="ImageNet-1K", method="per-frame", sources=("deit_small_patch16_224",),
                  layouts=("timm-vit",),
                  notes="DeiT-small into the spatial encoder under `spatial.` (pos_embed resized, "
                        "head dropped); the 2-layer temporal encoder is new (trunc-normal 0.02)"),
))
def vivit_fe(*, frames: int = 16, size: int = 224, **kwargs) -> ViViTFE:
    model_args = dict(patch_size=16, embed_dim=384, depth=12, temporal_depth=2, num_heads=6)
    return ViViTFE(frames=frames, size=size, **dict(model_args, **kwargs))
