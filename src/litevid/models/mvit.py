"""MViT-S 16x4 (Fan et al. 2021, Multiscale Vision Transformers v1, small).

A channel-expanding, resolution-shrinking transformer: a 3x8x8 cube embedding (stride 2x8x8) turns
16x224x224 into 8x28x28 tokens of width 128; 16 blocks grow the width 128 -> 256 -> 512 (blocks 2,
9) while query pooling halves the spatial grid at blocks 3 and 10 (28 -> 14 -> 7). Every block
uses pooling attention: keys and values are pooled by depthwise 3x3x3 convolutions with an
"adaptive" stride (1,4,4) that is divided by each query stride (SlowFast's rule, applied from the
query-pooling block on), so K/V are 8x7x7, or 8x14x14 in the two query-pooling blocks. MODELS.md
section 9 gives the structure (MViT paper Table 3c; SlowFast ``MViT`` v1 code for the details).

The study lists MViT-S without a parameter count; the MViT paper gives 26.1M (this model:
26.04M). The KV stride is not published: (1,4,4) gives 29.9 GFLOPs, (1,8,8) 25.3 (paper: 32.9).
No ImageNet weights exist for MViT-S, so it starts from random init (trunc-normal 0.02).

Published Kinetics checkpoints of the same class (MViT v1, in practice MViT-B 16x4 / 32x3: build
``create_model("mvit_s", **MVIT_B_16X4)`` or ``mvit_b()``) load exactly through
``load_pretrained``; ``MViT.checkpoint_filter`` maps four key layouts, each recognised from its
keys and proven against the original code by the fixtures of ``tools/weight_fixtures/mvit.py``:

* ``torchvision-mvit``: torchvision ``mvit_v1_b`` (fused ``attn.qkv``, ``pos_encoding.*``,
  ``attn.pool_q.norm_act.0``, ``mlp.0/3``, ``project``, ``head.1``);
* ``pytorchvideo-mvit``: pytorchvideo ``create_multiscale_vision_transformers``
  (``MVIT_B_16x4.pyth``: ``patch_embed.patch_model``, ``cls_positional_encoding.*``,
  ``attn.q/k/v``, ``attn.pool_q`` + ``attn.norm_q``, ``norm_embed``, ``head.proj``);
* ``slowfast-mvit``: the SlowFast repository's MViT v1 code that wrote
  ``K400_MVIT_B_16x4_CONV.pyth`` (litevid's names, except ``attn.pool_q`` + ``attn.norm_q`` and
  ``head.projection``);
* ``slowfast-mvit-qkv``: SlowFast's code since the MViTv2 release run with an MViT v1
  configuration (fused ``attn.qkv``; otherwise as ``slowfast-mvit``).

The pooling LayerNorms are where the originals differ: pytorchvideo and SlowFast's v1 code build
them with PyTorch's default eps 1e-5, torchvision and SlowFast's current code with 1e-6 (the
model's other LayerNorms use 1e-6 everywhere); ``adapt_to_layout`` sets ``pool_norm_eps`` to the
checkpoint's. Not expressible (such checkpoints report unexpected/missing keys): MViTv2 (relative
position tables, residual pooling, attention-side widening; torchvision ``mvit_v2_s``), a joint
position embedding (``sep_pos_embed=False``), no CLS token, ``pool_first``, avg/max pooling,
head multipliers that differ from the width multipliers, and per-stride pooling kernels
(``POOL_KVQ_KERNEL`` unset); the 2D-patch ImageNet MViT-B (``MVIT_B_16.pyth``) neither.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Callable

import torch
import torch.nn as nn

from ..layers import DropPath, Mlp, merge_heads, sdpa, split_heads
from ..layers.classifier import NumClasses
from ..layers.patch_embed import TubeletEmbed
from ..layers.pos_embed import resample_pos_embed_1d, resample_pos_embed_2d
from ..layers.weight_init import init_transformer_weights
from ._base import VideoModel
from ._layouts import CheckpointLayout, register_layout
from ._registry import InitSpec, ModelSpec, register_model

__all__ = ["MVIT_B_16X4", "AttentionPool", "MViT", "MultiScaleAttention", "MultiScaleBlock",
           "POOL_NORM_EPS", "mvit_b"]

Size3 = tuple[int, int, int]
_norm = partial(nn.LayerNorm, eps=1e-6)


class AttentionPool(nn.Module):
    """Pool per-head tokens ``(B, heads, 1 + T*H*W, hd)`` over (T, H, W); the CLS token passes.

    A depthwise Conv3d (no bias) then LayerNorm(head_dim), as SlowFast's ``attention_pool`` in
    ``conv`` mode; the norm runs over the CLS token too, as in every original.
    """

    def __init__(self, head_dim: int, kernel: Size3, stride: Size3,
                 norm_layer: Callable[[int], nn.Module] = _norm) -> None:
        super().__init__()
        padding = tuple(k // 2 for k in kernel)
        self.pool = nn.Conv3d(head_dim, head_dim, kernel, stride, padding, groups=head_dim, bias=False)
        self.norm = norm_layer(head_dim)

    def forward(self, x: torch.Tensor, thw: Size3) -> tuple[torch.Tensor, Size3]:
        B, h, _, hd = x.shape
        cls, x = x[:, :, :1], x[:, :, 1:]
        x = x.reshape(B * h, *thw, hd).permute(0, 4, 1, 2, 3)  # (B*heads, hd, T, H, W)
        x = self.pool(x)
        thw = tuple(x.shape[2:])
        x = x.reshape(B, h, hd, -1).transpose(2, 3)  # (B, heads, T'*H'*W', hd)
        return self.norm(torch.cat([cls, x], dim=2)), thw  # type: ignore[return-value]


class MultiScaleAttention(nn.Module):
    """Pooling attention: separate q/k/v Linears, per-head pooling, ``layers.sdpa``, ``proj``.

    Args:
        dim: token width (kept; the block's MLP changes the width).
        num_heads: heads (head_dim stays 128 in MViT-S).
        stride_q: query pooling stride; ``(1,1,1)`` = no query pooling.
        stride_kv: key/value pooling stride.
        kernel: pooling kernel.
        pool_norm_eps: eps of the pooling LayerNorms (see ``POOL_NORM_EPS``).
    """

    def __init__(self, dim: int, num_heads: int, stride_q: Size3, stride_kv: Size3,
                 kernel: Size3 = (3, 3, 3), qkv_bias: bool = True, attn_drop: float = 0.0,
                 proj_drop: float = 0.0, pool_norm_eps: float = 1e-6) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.attn_drop = attn_drop
        hd = dim // num_heads
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.k = nn.Linear(dim, dim, bias=qkv_bias)
        self.v = nn.Linear(dim, dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        norm = partial(nn.LayerNorm, eps=pool_norm_eps)
        self.pool_q = AttentionPool(hd, kernel, stride_q, norm) if max(stride_q) > 1 else None
        self.pool_k = AttentionPool(hd, kernel, stride_kv, norm)
        self.pool_v = AttentionPool(hd, kernel, stride_kv, norm)

    def forward(self, x: torch.Tensor, thw: Size3) -> tuple[torch.Tensor, Size3]:
        # x: (B, 1 + T*H*W, D)
        q = split_heads(self.q(x), self.num_heads)  # (B, heads, N, hd)
        k = split_heads(self.k(x), self.num_heads)
        v = split_heads(self.v(x), self.num_heads)
        q_thw = thw
        if self.pool_q is not None:
            q, q_thw = self.pool_q(q, thw)
        k, _ = self.pool_k(k, thw)
        v, _ = self.pool_v(v, thw)
        x = sdpa(q, k, v, dropout_p=self.attn_drop if self.training else 0.0)  # (B, heads, Nq, hd)
        return self.proj_drop(self.proj(merge_heads(x))), q_thw


class MultiScaleBlock(nn.Module):
    """``x = pool(x) + attn(LN1(x))``; ``x = proj(LN2(x)) or x`` + ``MLP(LN2(x))``.

    The residual is max-pooled like the queries (kernel stride+1 where the stride is > 1), and a
    Linear ``proj`` widens it where the MLP changes the width (``dim != dim_out``).
    """

    def __init__(self, dim: int, dim_out: int, num_heads: int, stride_q: Size3, stride_kv: Size3,
                 mlp_ratio: float = 4.0, qkv_bias: bool = True, drop: float = 0.0,
                 attn_drop: float = 0.0, drop_path: float = 0.0, kernel: Size3 = (3, 3, 3),
                 pool_norm_eps: float = 1e-6) -> None:
        super().__init__()
        self.norm1 = _norm(dim)
        self.attn = MultiScaleAttention(dim, num_heads, stride_q, stride_kv, kernel, qkv_bias,
                                        attn_drop, drop, pool_norm_eps)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = _norm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), dim_out, drop=drop)
        self.proj = nn.Linear(dim, dim_out) if dim != dim_out else None
        if max(stride_q) > 1:
            kernel = tuple(s + 1 if s > 1 else s for s in stride_q)
            self.pool_skip = nn.MaxPool3d(kernel, stride_q, tuple(k // 2 for k in kernel))
        else:
            self.pool_skip = None

    def forward(self, x: torch.Tensor, thw: Size3) -> tuple[torch.Tensor, Size3]:
        x_attn, new_thw = self.attn(self.norm1(x), thw)
        if self.pool_skip is not None:
            B, _, D = x.shape
            cls, grid = x[:, :1], x[:, 1:]
            grid = grid.transpose(1, 2).reshape(B, D, *thw)  # (B, D, T, H, W)
            grid = self.pool_skip(grid).flatten(2).transpose(1, 2)  # (B, T*H'*W', D)
            x = torch.cat([cls, grid], dim=1)
        x = x + self.drop_path(x_attn)
        xn = self.norm2(x)
        skip = self.proj(xn) if self.proj is not None else x
        return skip + self.drop_path(self.mlp(xn)), new_thw


class MViT(VideoModel):
    """Multiscale Vision Transformer v1 with a CLS token and separable position embeddings.

    Args:
        num_classes: classifier width (0 = no classifier), or a dict of named widths.
        frames: clip length the temporal position embedding is built for.
        size: frame side the spatial position embedding is built for.
        in_chans: input channels.
        embed_dim: width after the cube embedding.
        depth: number of blocks.
        num_heads: heads of the first block.
        patch_kernel: cube embedding kernel.
        patch_stride: cube embedding stride.
        patch_padding: cube embedding padding.
        dim_mul: ``{block: factor}``: width and heads are multiplied at these blocks.
        stride_q: ``{block: stride}`` of query pooling.
        stride_kv: initial ("adaptive") K/V pooling stride, divided by each query stride.
        pool_kernel: K/V/Q pooling kernel.
        pool_norm_eps: eps of the pooling LayerNorms: 1e-6 (torchvision, SlowFast today) or 1e-5
            (pytorchvideo, SlowFast's MViT v1 code); ``load_pretrained`` sets the checkpoint's.
        mlp_ratio: MLP width / width.
        drop_rate: dropout inside blocks.
        attn_drop_rate: attention dropout.
        drop_path_rate: stochastic depth of the last block (linear from 0).
        head_drop_rate: dropout before the classifier.

    ``dim_mul`` / ``stride_q`` also take JSON's form (string block numbers, lists).
    """

    def __init__(
        self,
        num_classes: NumClasses = 400,
        frames: int = 16,
        size: int = 224,
        in_chans: int = 3,
        embed_dim: int = 128,
        depth: int = 16,
        num_heads: int = 1,
        patch_kernel: Size3 = (3, 8, 8),
        patch_stride: Size3 = (2, 8, 8),
        patch_padding: Size3 = (1, 3, 3),
        dim_mul: dict[int, float] | None = None,
        stride_q: dict[int, Size3] | None = None,
        stride_kv: Size3 = (1, 4, 4),
        pool_kernel: Size3 = (3, 3, 3),
        pool_norm_eps: float = 1e-6,
        mlp_ratio: float = 4.0,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.1,
        head_drop_rate: float = 0.5,
    ) -> None:
        super().__init__()
        dim_mul = ({3: 2.0, 10: 2.0} if dim_mul is None
                   else {int(i): float(m) for i, m in dim_mul.items()})
        stride_q = ({3: (1, 2, 2), 10: (1, 2, 2)} if stride_q is None
                    else {int(i): tuple(s) for i, s in stride_q.items()})
        self.in_chans = in_chans
        self.patch_embed = TubeletEmbed(patch_kernel, in_chans, embed_dim, patch_stride, patch_padding)
        # token grid of the built clip size (conv arithmetic)
        self.grid = tuple((n + 2 * p - k) // s + 1 for n, k, s, p in
                          zip((frames, size, size), patch_kernel, patch_stride, patch_padding))
        T, H, W = self.grid
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed_spatial = nn.Parameter(torch.zeros(1, H * W, embed_dim))
        self.pos_embed_temporal = nn.Parameter(torch.zeros(1, T, embed_dim))
        self.pos_embed_class = nn.Parameter(torch.zeros(1, 1, embed_dim))

        dpr = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]
        self.blocks = nn.ModuleList()
        dim, heads, kv = embed_dim, num_heads, tuple(stride_kv)
        for i in range(depth):
            if i in dim_mul:  # SlowFast: heads and width change at the block itself...
                heads = int(heads * dim_mul[i])
                dim = int(dim * dim_mul[i])
            dim_out = int(dim * dim_mul.get(i + 1, 1.0))  # ...the MLP widens one block earlier
            sq = tuple(stride_q.get(i, (1, 1, 1)))
            kv = tuple(max(a // b, 1) for a, b in zip(kv, sq))  # adaptive K/V stride
            self.blocks.append(MultiScaleBlock(dim, dim_out, heads, sq, kv, mlp_ratio, True,
                                               drop_rate, attn_drop_rate, dpr[i],
                                               tuple(pool_kernel), pool_norm_eps))
        self.norm = _norm(dim)
        self.create_head(dim, num_classes, drop_rate=head_drop_rate,
                         init_fn=init_transformer_weights)  # features are the CLS token

        self.apply(init_transformer_weights)
        for p in (self.cls_token, self.pos_embed_spatial, self.pos_embed_temporal, self.pos_embed_class):
            nn.init.trunc_normal_(p, std=0.02)

    def _pos_embed(self, thw: Size3) -> torch.Tensor:
        """``(1, 1 + T*H*W, D)`` from the separable parts, resized if the grid is not the built one."""
        T, H, W = thw
        spatial, temporal = self.pos_embed_spatial, self.pos_embed_temporal
        if (H, W) != self.grid[1:]:  # static shapes only
            spatial = resample_pos_embed_2d(spatial, (H, W), 0, old_grid=self.grid[1:])
        if T != self.grid[0]:
            temporal = resample_pos_embed_1d(temporal, T, mode="linear")
        pos = spatial.repeat(1, T, 1) + temporal.repeat_interleave(H * W, dim=1)  # (t, h, w) order
        return torch.cat([self.pos_embed_class, pos], dim=1)

    # ---- published checkpoints ----------------------------------------------------------------

    def arch_args(self) -> dict[str, float]:
        """The pooling-norm eps when a checkpoint set another than the default, so a model
        fine-tuned from pytorchvideo / SlowFast v1 weights is rebuilt with it."""
        eps = next(m.norm.eps for m in self.modules() if isinstance(m, AttentionPool))
        return {} if eps == 1e-6 else {"pool_norm_eps": eps}

    def adapt_to_layout(self, layout: CheckpointLayout) -> list[str]:
        """Give the pooling LayerNorms the eps of the code that wrote the checkpoint."""
        eps = POOL_NORM_EPS.get(layout.name)
        norms = [m.norm for m in self.modules() if isinstance(m, AttentionPool)]
        if eps is None or all(n.eps == eps for n in norms):
            return []
        for n in norms:
            n.eps = eps
        return [f"pooling LayerNorms: eps {eps:g}, as in the code that writes {layout.name} files"]

    def checkpoint_filter(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Map torchvision / pytorchvideo / SlowFast MViT v1 keys onto litevid's (see the module
        docstring); keys litevid has no place for (MViTv2's ``rel_pos_*``, ...) pass through and
        are reported as unexpected. A fused ``attn.qkv`` is split in its row order (q, k, v, each
        head-major), torchvision's 1-D class token and 2-D position tables get their batch dims.
        """
        out: dict[str, torch.Tensor] = {}
        for key, value in state_dict.items():
            m = _QKV.match(key)
            if m is not None:  # (3 * D, ...) rows: q, k, v
                for name, part in zip("qkv", value.chunk(3, dim=0)):
                    out[f"{m['blk']}.attn.{name}.{m['kind']}"] = part
                continue
            new = key
            for pattern, repl in _RENAMES:
                new = pattern.sub(repl, new)
            if new in _TV_POS:  # torchvision: (D,) / (N, D) -> (1, N, D)
                value = value.reshape(1, -1, value.shape[-1])
                new = _TV_POS[new]
            out[new] = value
        return out

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T, H, W)`` -> normalised CLS ``(B, 512)``."""
        x = self.patch_embed(x)  # (B, T', H', W', D)
        B, T, H, W, D = x.shape
        x = x.reshape(B, T * H * W, D)
        x = torch.cat([self.cls_token.expand(B, -1, -1), x], dim=1) + self._pos_embed((T, H, W))
        thw = (T, H, W)
        for blk in self.blocks:
            x, thw = blk(x, thw)
        return self.norm(x[:, 0])


# ---- checkpoint layouts -----------------------------------------------------------------------

# a fused (3 * D, D) projection: torchvision and SlowFast since the MViTv2 release
_QKV = re.compile(r"^(?P<blk>blocks\.\d+)\.attn\.qkv\.(?P<kind>weight|bias)$")
# one pass, in order; no pattern matches a litevid key, so litevid's own files pass unchanged
_RENAMES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), r) for p, r in (
    # torchvision mvit_v1_b
    (r"^conv_proj\.", "patch_embed.proj."),
    (r"^pos_encoding\.", "_tv_pos."),
    (r"\.attn\.project\.0\.", ".attn.proj."),
    (r"\.attn\.(pool_[qkv])\.norm_act\.0\.", r".attn.\1.norm."),
    (r"^(blocks\.\d+)\.mlp\.0\.", r"\1.mlp.fc1."),
    (r"^(blocks\.\d+)\.mlp\.3\.", r"\1.mlp.fc2."),
    (r"^(blocks\.\d+)\.project\.", r"\1.proj."),
    (r"^head\.1\.", "head.fc."),
    # pytorchvideo create_multiscale_vision_transformers
    (r"^patch_embed\.patch_model\.", "patch_embed.proj."),
    (r"^cls_positional_encoding\.", ""),
    (r"^norm_embed\.", "norm."),
    (r"^head\.proj\.", "head.fc."),
    # pytorchvideo and SlowFast: the pooling conv and its norm are siblings
    (r"\.attn\.pool_([qkv])\.weight$", r".attn.pool_\1.pool.weight"),
    (r"\.attn\.norm_([qkv])\.", r".attn.pool_\1.norm."),
    # SlowFast TransformerBasicHead
    (r"^head\.projection\.", "head.fc."),
))
_TV_POS = {"_tv_pos.class_token": "cls_token", "_tv_pos.spatial_pos": "pos_embed_spatial",
           "_tv_pos.temporal_pos": "pos_embed_temporal", "_tv_pos.class_pos": "pos_embed_class"}

_MAPPED = "MViT v1 (MViT-B 16x4 / 32x3 configurations); classifier -> head.fc"
register_layout(CheckpointLayout(
    name="torchvision-mvit", models=("mvit_s",), source="torchvision mvit_v1_b",
    datasets="Kinetics-400",
    signature=(r"^conv_proj\.weight$", r"^pos_encoding\.class_token$",
               r"^pos_encoding\.spatial_pos$",  # absent in mvit_v2_s (relative positions)
               r"^blocks\.\d+\.attn\.qkv\.weight$", r"^blocks\.\d+\.mlp\.0\.weight$"),
    classifier=r"^head\.1\.weight$",
    mapped=f"{_MAPPED}; fused qkv split, pos_encoding.* reshaped"))
register_layout(CheckpointLayout(
    name="pytorchvideo-mvit", models=("mvit_s",),
    source="pytorchvideo create_multiscale_vision_transformers (MVIT_B_16x4.pyth)",
    datasets="Kinetics-400",
    signature=(r"^patch_embed\.patch_model\.weight$", r"^cls_positional_encoding\.cls_token$",
               r"^cls_positional_encoding\.pos_embed_spatial$",  # sep_pos_embed=True
               r"^blocks\.\d+\.attn\.q\.weight$", r"^blocks\.\d+\.attn\.norm_k\.weight$"),
    classifier=r"^head\.proj\.weight$",
    mapped=f"{_MAPPED}; pooling LayerNorm eps 1e-5"))
register_layout(CheckpointLayout(
    name="slowfast-mvit", models=("mvit_s",),
    source="SlowFast MViT v1 (K400_MVIT_B_16x4_CONV.pyth)", datasets="Kinetics-400",
    signature=(r"^patch_embed\.proj\.weight$", r"^pos_embed_spatial$",
               r"^blocks\.\d+\.attn\.q\.weight$", r"^blocks\.\d+\.attn\.norm_k\.weight$",
               r"^head\.projection\.weight$"),
    classifier=r"^head\.projection\.weight$",
    mapped=f"{_MAPPED}; pooling LayerNorm eps 1e-5"))
register_layout(CheckpointLayout(
    name="slowfast-mvit-qkv", models=("mvit_s",),
    source="SlowFast MViT (code since the MViTv2 release, MViT v1 configuration)",
    datasets="Kinetics-400",
    signature=(r"^patch_embed\.proj\.weight$", r"^pos_embed_spatial$",
               r"^blocks\.\d+\.attn\.qkv\.weight$", r"^blocks\.\d+\.attn\.norm_k\.weight$",
               r"^head\.projection\.weight$"),
    classifier=r"^head\.projection\.weight$",
    mapped=f"{_MAPPED}; fused qkv split"))

# pooling-LayerNorm eps of the code that wrote each layout (``MViT.adapt_to_layout``)
POOL_NORM_EPS = {"torchvision-mvit": 1e-6, "pytorchvideo-mvit": 1e-5, "slowfast-mvit": 1e-5,
                 "slowfast-mvit-qkv": 1e-6}


# ---- builder and registered variants ----------------------------------------------------------


@register_model(ModelSpec(
    paper_name="MViT-S", category="attention-only", mean=(0.45,) * 3, std=(0.225,) * 3,
    paper_params_m=26.1,
    paper_params_source="MViT paper (Fan et al. 2021, Table 3c/4): the study's Table 4 has no "
                        "MViT-S figure",
    init=InitSpec(dataset=None, method="scratch",
                  notes="no public ImageNet (or Kinetics) weights exist for MViT-S (MViT paper "
                        "footnote); trunc-normal(0.02) Linears and position embeddings. Kinetics "
                        "MViT-B checkpoints (torchvision mvit_v1_b, pytorchvideo MVIT_B_16x4.pyth, "
                        "SlowFast K400_MVIT_B_16x4_CONV.pyth) load into this class in the MViT-B "
                        "configuration (mvit_s with MVIT_B_16X4's arguments)"),
))
def mvit_s(*, frames: int = 16, size: int = 224, **kwargs) -> MViT:
    model_args = dict(embed_dim=128, depth=16, num_heads=1, patch_kernel=(3, 8, 8),
                      patch_stride=(2, 8, 8), patch_padding=(1, 3, 3), stride_kv=(1, 4, 4))
    return MViT(frames=frames, size=size, **dict(model_args, **kwargs))


# MViT-B 16x4 (MViT paper, Table 3a): the configuration torchvision's ``mvit_v1_b`` builds
# (36,610,672 parameters with 400 classes, here and there). Not a model of the study, so not
# registered: ``tools/gpu_protocol.py`` times it against torchvision's implementation.
MVIT_B_16X4 = dict(embed_dim=96, depth=16, num_heads=1, patch_kernel=(3, 7, 7),
                   patch_stride=(2, 4, 4), patch_padding=(1, 3, 3),
                   dim_mul={1: 2.0, 3: 2.0, 14: 2.0},
                   stride_q={1: (1, 2, 2), 3: (1, 2, 2), 14: (1, 2, 2)}, stride_kv=(1, 8, 8))


def mvit_b(*, frames: int = 16, size: int = 224, **kwargs) -> MViT:
    """The ``MViT`` class in the MViT-B 16x4 configuration (unregistered, see ``MVIT_B_16X4``)."""
    return MViT(frames=frames, size=size, **dict(MVIT_B_16X4, **kwargs))
