"""TimeSformer (Bertasius et al. 2021), base size, divided space-time attention.

Every frame is cut into 16x16 patches (ViT-B/16, D = 768). Each of the 12 blocks first attends
over time among the T tokens at one spatial position (``temporal_attn`` + ``temporal_fc``), then
over space among the tokens of one frame, with the single CLS token replicated into every frame
and averaged back, then applies the MLP. This follows ``facebookresearch/TimeSformer``
``timesformer/models/vit.py``; the study initialises it from DeiT-base (MODELS.md section 6).

Checkpoints ``checkpoint_filter`` maps (each a registered layout, recognised from its keys):

* ``timm-vit`` (image): timm / official DeiT / timm-JAX ViT-B/16 ImageNet weights, the study's
  initialisation: ViT keys as they are, ``attn``/``norm1`` copied to the temporal branch,
  ``temporal_fc`` and ``time_embed`` zero, the ImageNet classifier dropped.
* ``timesformer-official`` (video): the release of ``facebookresearch/TimeSformer``
  (``TimeSformer_divST_8x32_224_K400.pyth``, ``..._K600``, ``..._SSv2``, the HR and L files):
  ``{"model_state": {"model.<VisionTransformer key>": ...}, ...}``; ``model.`` is stripped and
  ``model.head`` becomes ``head.fc``.
* ``hf-timesformer`` (video): Hugging Face ``TimesformerForVideoClassification``
  (``facebook/timesformer-base-finetuned-k400`` ..., ``model.safetensors`` or
  ``pytorch_model.bin``), renamed module by module; ``classifier`` becomes ``head.fc``.
* litevid's own state dict, loaded as it is.

A video checkpoint built for another clip length or patch grid is resized on loading:
``time_embed`` nearest in time (as the official loader and forward do, so an 8-frame K400 file in
a 16-frame model computes what the original computes on 16 frames), ``pos_embed`` bicubic over
the 2D patch grid (the official loader interpolates the flattened sequence, which mixes rows);
a note in the load report says so.

Differences from the reference code: patch tokens are kept as a ``(B, h*w, T, D)`` grid (same
maths, fewer rearranges); position and time embeddings are resized bicubic / nearest when the
input grid or clip length differs from the built one (the original resizes the position grid
nearest at inference); every ``temporal_fc`` starts at zero (the reference random init skips the
first block; its DeiT loading zeroes all of them). Numerics otherwise match the original and the
Hugging Face port: LayerNorm eps 1e-6 throughout (the release's ``norm_layer``), softmax scale
``head_dim ** -0.5``, exact GELU, the final norm applied to the CLS token only (it is per token),
dropout and drop-path inactive in eval.
"""

from __future__ import annotations

import math
import re
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
from ._layouts import CheckpointLayout, register_layout
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

    # ---- checkpoints ---------------------------------------------------------------------------

    def checkpoint_filter(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Map a TimeSformer or ViT/DeiT checkpoint onto this model (see ``map_checkpoint``)."""
        return self.map_checkpoint(state_dict)[0]

    def map_checkpoint(
        self, state_dict: dict[str, torch.Tensor]
    ) -> tuple[dict[str, torch.Tensor], list[str]]:
        """Map a checkpoint onto this model's keys; return the state and what was done.

        The source is told from its keys (so a state dict handed over directly maps the same way
        as a file): Hugging Face names are renamed module by module; the official release's
        ``model.`` prefix is stripped. A video checkpoint (it has ``time_embed``) keeps every
        tensor, its classifier becomes ``head.fc`` and its embeddings are resized to this model's
        clip length and patch grid. An image checkpoint (timm / DeiT ViT) gets its ``attn`` and
        ``norm1`` duplicated into ``temporal_attn`` / ``temporal_norm1``, ``temporal_fc`` and
        ``time_embed`` at zero, ``pos_embed`` resized, and its ImageNet classifier dropped. Keys
        that map onto nothing keep their names, so the load report lists them as unexpected.
        """
        notes: list[str] = []
        state = dict(state_dict)
        if any(_HF_KEY.match(k) for k in state):
            state = {_hf_name(k): v for k, v in state.items()}
        elif "model.cls_token" in state or "model.time_embed" in state:
            state = {(k[len("model."):] if k.startswith("model.") else k): v
                     for k, v in state.items()}
        if "time_embed" in state:  # a video checkpoint: the official release's head -> head.fc
            for t in ("weight", "bias"):
                if f"head.{t}" in state:
                    state[f"head.fc.{t}"] = state.pop(f"head.{t}")
            notes += self._resize_embeddings(state)
            return state, notes

        # an ImageNet ViT / DeiT: the study's initialisation
        if "head.weight" in state:
            notes.append("ImageNet classifier (head) dropped")
            state = drop_keys(state, ("head.weight", "head.bias"))
        if "dist_token" in state and "pos_embed" in state:  # distilled DeiT: CLS, DIST, grid
            pos = state["pos_embed"]
            state["pos_embed"] = torch.cat([pos[:, :1], pos[:, 2:]], dim=1)
            notes.append("the DeiT distillation token's position entry dropped")
        notes += self._resize_embeddings(state)
        state["time_embed"] = torch.zeros_like(self.time_embed, device="cpu")
        for i, blk in enumerate(self.blocks):
            p = f"blocks.{i}."
            for src, dst in (("attn.", "temporal_attn."), ("norm1.", "temporal_norm1.")):
                for k in [k for k in state if k.startswith(p + src)]:
                    state[p + dst + k[len(p + src):]] = state[k].clone()
            state[p + "temporal_fc.weight"] = torch.zeros_like(blk.temporal_fc.weight, device="cpu")
            state[p + "temporal_fc.bias"] = torch.zeros_like(blk.temporal_fc.bias, device="cpu")
        notes.append("image checkpoint: attn/norm1 copied to temporal_attn/temporal_norm1, "
                     "temporal_fc and time_embed zero")
        return state, notes

    def _resize_embeddings(self, state: dict[str, torch.Tensor]) -> list[str]:
        """Resize ``pos_embed`` / ``time_embed`` in ``state`` to this model's; say what changed."""
        notes = []
        pos = state.get("pos_embed")
        if pos is not None and pos.dim() == 3 and pos.shape[1] != self.pos_embed.shape[1]:
            new = resample_pos_embed_2d(pos, self.grid, 1)
            side = math.isqrt(pos.shape[1] - 1)
            notes.append(f"pos_embed resized from a {side}x{side} to a {self.grid[0]}x"
                         f"{self.grid[1]} patch grid (bicubic)")
            state["pos_embed"] = new
        time = state.get("time_embed")
        frames = self.time_embed.shape[1]
        if time is not None and time.dim() == 3 and time.shape[1] != frames:
            state["time_embed"] = resample_pos_embed_1d(time, frames)
            notes.append(f"time_embed resized from {time.shape[1]} to {frames} frames (nearest, "
                         "as the original does)")
        return notes


# ---- published checkpoint layouts -------------------------------------------------------------

# Hugging Face ``TimesformerForVideoClassification`` (``timesformer.`` + ``TimesformerModel``; the
# bare ``TimesformerModel`` has no prefix). Names outside the encoder blocks:
_HF_KEY = re.compile(r"^(?:timesformer\.)?(?:embeddings\.|encoder\.layer\.\d+\.)")
_HF_TOP = {
    "embeddings.cls_token": "cls_token",
    "embeddings.position_embeddings": "pos_embed",
    "embeddings.time_embeddings": "time_embed",
    "embeddings.patch_embeddings.projection.weight": "patch_embed.proj.weight",
    "embeddings.patch_embeddings.projection.bias": "patch_embed.proj.bias",
    "layernorm.weight": "norm.weight",
    "layernorm.bias": "norm.bias",
    "classifier.weight": "head.fc.weight",
    "classifier.bias": "head.fc.bias",
}
# module paths inside ``encoder.layer.{i}`` -> inside ``blocks.{i}``
_HF_BLOCK = {
    "temporal_layernorm": "temporal_norm1",
    "temporal_attention.attention.qkv": "temporal_attn.qkv",
    "temporal_attention.output.dense": "temporal_attn.proj",
    "temporal_dense": "temporal_fc",
    "layernorm_before": "norm1",
    "attention.attention.qkv": "attn.qkv",
    "attention.output.dense": "attn.proj",
    "layernorm_after": "norm2",
    "intermediate.dense": "mlp.fc1",
    "output.dense": "mlp.fc2",
}
_HF_BLOCK_KEY = re.compile(r"encoder\.layer\.(\d+)\.(.+)\.(weight|bias)")


def _hf_name(key: str) -> str:
    """litevid's name for a Hugging Face TimeSformer key (the key itself when none)."""
    k = key[len("timesformer."):] if key.startswith("timesformer.") else key
    if k in _HF_TOP:
        return _HF_TOP[k]
    m = _HF_BLOCK_KEY.fullmatch(k)
    if m is not None and m[2] in _HF_BLOCK:
        return f"blocks.{m[1]}.{_HF_BLOCK[m[2]]}.{m[3]}"
    return key


register_layout(CheckpointLayout(
    name="timm-vit", models=("timesformer", "vivit_fe"),
    source="timm ViT / DeiT (TimeSformer: vit_base_patch16_224 / deit_base_patch16_224, ViViT-FE: "
           "deit_small_patch16_224); official DeiT release ({'model': ...}, same keys)",
    datasets="ImageNet-1K / ImageNet-21K",
    signature=(r"^cls_token$", r"^pos_embed$", r"^patch_embed\.proj\.weight$",
               r"^blocks\.0\.attn\.qkv\.weight$", r"^head\.weight$"),
    classifier=r"^head\.weight$",
    mapped="TimeSformer: ViT keys as they are, attn/norm1 copied to the temporal branch, "
           "temporal_fc and time_embed zero; ViViT-FE: under `spatial.`; pos_embed resized, "
           "classifier dropped",
    kind="image"))
register_layout(CheckpointLayout(
    name="timesformer-official", models=("timesformer",),
    source="facebookresearch/TimeSformer release (TimeSformer_divST_8x32_224_K400.pyth, "
           "{'model_state': {'model.<key>': ...}})",
    datasets="Kinetics-400 / Kinetics-600 / Something-Something-v2",
    signature=(r"^model\.time_embed$", r"^model\.patch_embed\.proj\.weight$",
               r"^model\.blocks\.0\.temporal_attn\.qkv\.weight$"),
    classifier=r"^model\.head\.weight$",
    mapped="'model.' stripped, model.head -> head.fc, time_embed (nearest) / pos_embed (bicubic) "
           "resized to the model's clip"))
register_layout(CheckpointLayout(
    name="hf-timesformer", models=("timesformer",),
    source="Hugging Face transformers TimesformerForVideoClassification (model.safetensors, "
           "pytorch_model.bin)",
    datasets="Kinetics-400 / Kinetics-600 / Something-Something-v2",
    signature=(r"^(?:timesformer\.)?embeddings\.time_embeddings$",
               r"^(?:timesformer\.)?embeddings\.patch_embeddings\.projection\.weight$",
               r"^(?:timesformer\.)?encoder\.layer\.0\.temporal_attention\.attention\.qkv\."
               r"weight$"),
    classifier=r"^classifier\.weight$",
    mapped="renamed module by module (encoder.layer.i -> blocks.i, ...), classifier -> head.fc, "
           "embeddings resized to the model's clip"))


# ---- builder and registered variants ----------------------------------------------------------


@register_model(ModelSpec(
    paper_name="TimeSformer", category="attention-only", paper_params_m=121.0,
    init=InitSpec(dataset="ImageNet-1K", method="temporal-copy", sources=("deit_base_patch16_224",),
                  layouts=("timm-vit", "timesformer-official", "hf-timesformer"),
                  notes="DeiT-base (timm-vit); ViT keys as is, attn/norm1 copied to temporal_attn/"
                        "temporal_norm1, temporal_fc and time_embed zero, pos_embed resized to the "
                        "patch grid, head dropped. Kinetics / SSv2 TimeSformer checkpoints (the "
                        "official release, Hugging Face) load whole, classifier included, "
                        "embeddings resized to the clip"),
))
def timesformer(*, frames: int = 16, size: int = 224, **kwargs) -> TimeSformer:
    model_args = dict(patch_size=16, embed_dim=768, depth=12, num_heads=12)
    return TimeSformer(frames=frames, size=size, **dict(model_args, **kwargs))
