"""Video Swin Transformer (Liu et al. 2021), tiny: patch 2x4x4, window 8x7x7.

Hierarchical 3D windowed attention: a tubelet embedding (Conv3d 2x4x4 + LayerNorm), four stages of
[2, 2, 6, 2] Swin blocks at widths 96..768 with 2x2 spatial patch merging in between, a final
LayerNorm and mmaction2's I3D head (global average, dropout 0.5, linear). Odd blocks cyclically
shift the grid by half a window and mask attention between tokens that came from different
regions; every window adds a learned 3D relative position bias (MODELS.md section 8). Follows
``SwinTransformer/Video-Swin-Transformer`` (``swin_transformer.py``); key names are the
Microsoft/mmaction2 ones (``layers.i.blocks.j``, ``layers.i.downsample``).

Checkpoints (``checkpoint_filter``; layouts registered at the end of this file):
- Kinetics-400 video checkpoints load as they are, classifier included: torchvision
  ``swin3d_t`` (``torchvision-swin3d``) and the official release's mmaction2 files
  (``video-swin-official``, e.g. ``swin_tiny_patch244_window877_kinetics400_1k.pth``; its
  Kinetics-600 / SSv2 files of larger models load into ``swin_t`` built with their
  ``embed_dim``/``depths``/``num_heads``/``window``). Both are proven against the original code
  (``tools/weight_fixtures/swin.py``: reduced configurations in the tests, the published Swin-T
  at 16x224x224 with ``--full-size``).
- ImageNet 2D Swin-T (``microsoft-swin``, ``timm-swin``) is inflated, the study's
  initialisation.

Differences from the reference code, none of which changes the model for frames of 193 pixels or
more (224 included; any clip length):
- the relative position index is computed for the window actually used. Where a feature map is
  smaller than the window (``get_window_size``: window := feature size, shift := 0) both the
  official code and torchvision slice the full window's index (``index[:N, :N]``); that is the
  true offsets when only time (the leading axis) shrinks, but pairs tokens with the wrong offsets
  when height or width does (frames under 193 pixels, e.g. 112: a 4x4 last-stage map). Here the
  offsets are the true ones (same table), so at such sizes the logits differ from the originals'.
- the shift mask is built from region ids with comparisons instead of slice assignment, and
  windows are folded into the head dimension so one ``(1, windows*heads, N, N)`` bias + mask
  broadcasts over the batch in ``scaled_dot_product_attention``.
"""

from __future__ import annotations

import re
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..layers import DropPath, Mlp, sdpa
from ..layers.classifier import NumClasses
from ..layers.patch_embed import TubeletEmbed
from ..layers.weight_init import init_transformer_weights
from ._base import VideoModel
from ._layouts import CheckpointLayout, register_layout
from ._registry import InitSpec, ModelSpec, register_model
from ._weights import drop_keys, inflate_conv2d_weight, strip_prefix

__all__ = [
    "SwinTransformer3D",
    "SwinBlock3D",
    "WindowAttention3D",
    "PatchMerging",
    "get_window_size",
    "window_partition",
    "window_reverse",
    "compute_shift_mask",
    "relative_position_index",
]

Size3 = tuple[int, int, int]


def get_window_size(feat: Size3, window: Size3, shift: Size3 | None = None) -> tuple[Size3, Size3]:
    """Video Swin's adaptive rule: a dimension no larger than its window is one window, unshifted."""
    shift = shift or (0, 0, 0)
    use_window = tuple(f if f <= w else w for f, w in zip(feat, window))
    use_shift = tuple(0 if f <= w else s for f, w, s in zip(feat, window, shift))
    return use_window, use_shift  # type: ignore[return-value]


def window_partition(x: torch.Tensor, window: Size3) -> torch.Tensor:
    """``(B, T, H, W, C)`` (multiples of ``window``) -> ``(B, nW, wt*wh*ww, C)``.

    Two rank-5 reshape/permute steps instead of one rank-8 one: the same result, and exportable
    to runtimes limited to rank 5 (Core ML) or 6 (XNNPACK).
    """
    B, T, H, W, C = x.shape
    wt, wh, ww = window
    t, h, w = T // wt, H // wh, W // ww
    x = x.reshape(B * t, wt, h, wh, W * C).permute(0, 2, 1, 3, 4)  # (B*t, h, wt, wh, W*C)
    x = x.reshape(B * t * h, wt * wh, w, ww, C).permute(0, 2, 1, 3, 4)  # (B*t*h, w, wt*wh, ww, C)
    return x.reshape(B, t * h * w, wt * wh * ww, C)


def window_reverse(windows: torch.Tensor, window: Size3, T: int, H: int, W: int) -> torch.Tensor:
    """Inverse of ``window_partition``: ``(B, nW, N, C)`` -> ``(B, T, H, W, C)`` (rank <= 5)."""
    B, C = windows.shape[0], windows.shape[-1]
    wt, wh, ww = window
    t, h, w = T // wt, H // wh, W // ww
    x = windows.reshape(B * t * h, w, wt * wh, ww, C).permute(0, 2, 1, 3, 4)
    x = x.reshape(B * t, h, wt, wh, W * C).permute(0, 2, 1, 3, 4)  # (B*t, wt, h, wh, W*C)
    return x.reshape(B, T, H, W, C)


def compute_shift_mask(
    grid: Size3, window: Size3, shift: Size3, device: torch.device | None = None
) -> torch.Tensor:
    """Additive mask ``(nW, N, N)``: -100 between tokens from different regions of the rolled grid.

    After ``torch.roll(x, -shift)`` each dimension holds up to three regions: ``[0, L - w)``,
    ``[L - w, L - s)`` and ``[L - s, L)``; a window may only mix tokens of one region (the
    reference fills these slices with a counter; region ids from comparisons are the same).
    """
    ids = []
    for L, w, s in zip(grid, window, shift):
        pos = torch.arange(L, device=device)
        ids.append((pos >= L - w).long() + (pos >= L - s).long() if s > 0 else torch.zeros_like(pos))
    region = ids[0][:, None, None] * 9 + ids[1][None, :, None] * 3 + ids[2][None, None, :]  # (T, H, W)
    region = window_partition(region[None, :, :, :, None], window)[0, :, :, 0]  # (nW, N)
    diff = region[:, :, None] != region[:, None, :]  # (nW, N, N)
    return torch.zeros(diff.shape, device=device).masked_fill(diff, -100.0)


def relative_position_index(
    window: Size3, table_window: Size3, device: torch.device | None = None
) -> torch.Tensor:
    """Index ``(N, N)`` into a bias table of a ``table_window`` for tokens of a ``window``.

    Table row of offset ``(dt, dh, dw)`` is ``(dt + Wt-1)(2Wh-1)(2Ww-1) + (dh + Wh-1)(2Ww-1) +
    (dw + Ww-1)``; ``window`` may be smaller than ``table_window`` (the offsets then use a part of
    the table).
    """
    coords = torch.stack(torch.meshgrid(
        *(torch.arange(w, device=device) for w in window), indexing="ij")).flatten(1)  # (3, N)
    rel = coords[:, :, None] - coords[:, None, :]  # (3, N, N)
    Wt, Wh, Ww = table_window
    return ((rel[0] + Wt - 1) * (2 * Wh - 1) * (2 * Ww - 1)
            + (rel[1] + Wh - 1) * (2 * Ww - 1) + (rel[2] + Ww - 1))


class WindowAttention3D(nn.Module):
    """Multi-head self-attention inside 3D windows with a relative position bias.

    q/k/v come from one ``qkv`` Linear (Swin key names); the bias (plus the shift mask) goes to
    ``layers.sdpa`` as its additive ``attn_mask``.
    """

    def __init__(self, dim: int, window: Size3, num_heads: int, qkv_bias: bool = True,
                 attn_drop: float = 0.0, proj_drop: float = 0.0) -> None:
        super().__init__()
        self.window = tuple(window)
        self.num_heads = num_heads
        self.attn_drop = attn_drop
        size = (2 * window[0] - 1) * (2 * window[1] - 1) * (2 * window[2] - 1)
        self.relative_position_bias_table = nn.Parameter(torch.zeros(size, num_heads))
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def relative_position_bias(self, window: Size3) -> torch.Tensor:
        """Bias ``(heads, N, N)`` for a (possibly shrunk) ``window``."""
        idx = relative_position_index(window, self.window, self.relative_position_bias_table.device)
        N = idx.shape[0]
        bias = self.relative_position_bias_table[idx.reshape(-1)].reshape(N, N, self.num_heads)
        return bias.permute(2, 0, 1)

    def forward(self, x: torch.Tensor, window: Size3, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Args: ``x`` windows ``(B, nW, N, C)``; ``mask`` ``(nW, N, N)`` for shifted blocks."""
        B, nW, N, C = x.shape
        h = self.num_heads
        # rank <= 5 throughout (Core ML's limit): windows merged into the batch
        qkv = self.qkv(x).reshape(B * nW, N, 3, h, C // h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # each (B*nW, heads, N, hd)
        bias = self.relative_position_bias(window)  # (heads, N, N)
        if mask is None:  # one bias for every window: broadcast over B*nW
            attn_mask = bias.unsqueeze(0)  # (1, heads, N, N)
        else:  # per-window masks: fold windows into heads, broadcast over B
            q, k, v = (t.reshape(B, nW * h, N, C // h) for t in (q, k, v))
            attn_mask = (mask.unsqueeze(1) + bias.unsqueeze(0)).reshape(1, nW * h, N, N)
        x = sdpa(q, k, v, attn_mask.to(q.dtype), self.attn_drop if self.training else 0.0)
        x = x.reshape(B, nW, h, N, C // h).transpose(2, 3).reshape(B, nW, N, C)
        return self.proj_drop(self.proj(x))


class SwinBlock3D(nn.Module):
    """Pre-norm (shifted-)window attention + MLP on a channels-last ``(B, T, H, W, C)`` grid."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window: Size3 = (8, 7, 7),
        shift: Size3 = (0, 0, 0),
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        norm_layer: Callable[[int], nn.Module] = nn.LayerNorm,
    ) -> None:
        super().__init__()
        self.window = tuple(window)
        self.shift = tuple(shift)
        self.norm1 = norm_layer(dim)
        self.attn = WindowAttention3D(dim, window, num_heads, qkv_bias, attn_drop, drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)

    def _attention(self, x: torch.Tensor) -> torch.Tensor:
        B, T, H, W, C = x.shape
        window, shift = get_window_size((T, H, W), self.window, self.shift)
        pads = [-T % window[0], -H % window[1], -W % window[2]]
        if any(pads):  # zero-pad the end to whole windows (after the norm, as in the reference)
            x = F.pad(x, (0, 0, 0, pads[2], 0, pads[1], 0, pads[0]))
        grid = (T + pads[0], H + pads[1], W + pads[2])
        shifted = any(s > 0 for s in shift)
        mask = None
        if shifted:
            x = torch.roll(x, shifts=tuple(-s for s in shift), dims=(1, 2, 3))
            mask = compute_shift_mask(grid, window, shift, x.device)  # (nW, N, N)
        x = self.attn(window_partition(x, window), window, mask)  # (B, nW, N, C)
        x = window_reverse(x, window, *grid)  # (B, Tp, Hp, Wp, C)
        if shifted:
            x = torch.roll(x, shifts=shift, dims=(1, 2, 3))
        return x[:, :T, :H, :W]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self._attention(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class PatchMerging(nn.Module):
    """2x2 spatial merging: concat 4 neighbours (4C), LayerNorm, Linear 4C -> 2C. Time is kept."""

    def __init__(self, dim: int, norm_layer: Callable[[int], nn.Module] = nn.LayerNorm) -> None:
        super().__init__()
        self.norm = norm_layer(4 * dim)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        H, W = x.shape[2], x.shape[3]
        if H % 2 or W % 2:
            x = F.pad(x, (0, 0, 0, W % 2, 0, H % 2))
        # neighbour order of the Swin checkpoints: (0,0), (1,0), (0,1), (1,1) in (h, w)
        x = torch.cat([x[:, :, 0::2, 0::2], x[:, :, 1::2, 0::2],
                       x[:, :, 0::2, 1::2], x[:, :, 1::2, 1::2]], dim=-1)  # (B, T, H/2, W/2, 4C)
        return self.reduction(self.norm(x))


class SwinStage(nn.Module):
    """``depth`` blocks alternating unshifted / half-window-shifted, then optional merging."""

    def __init__(self, dim: int, depth: int, num_heads: int, window: Size3, mlp_ratio: float,
                 drop: float, attn_drop: float, drop_path: list[float], downsample: bool) -> None:
        super().__init__()
        half = tuple(w // 2 for w in window)
        self.blocks = nn.ModuleList(
            SwinBlock3D(dim, num_heads, window, (0, 0, 0) if i % 2 == 0 else half, mlp_ratio,
                        True, drop, attn_drop, drop_path[i])
            for i in range(depth)
        )
        self.downsample = PatchMerging(dim) if downsample else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for blk in self.blocks:
            x = blk(x)
        return self.downsample(x) if self.downsample is not None else x


class SwinTransformer3D(VideoModel):
    """Video Swin Transformer with mmaction2's I3D head.

    Args:
        num_classes: classifier width (0 = no classifier), or a dict of named widths.
        in_chans: input channels.
        patch_size: tubelet ``(t, h, w)``.
        embed_dim: width of stage 1 (doubles per stage).
        depths: blocks per stage.
        num_heads: heads per stage.
        window: attention window ``(t, h, w)``; shrunk per dimension where the map is smaller.
        mlp_ratio: MLP width / C.
        drop_rate: dropout after the embedding and inside blocks.
        attn_drop_rate: attention dropout.
        drop_path_rate: stochastic depth of the last block (linear from 0).
        head_drop_rate: dropout before the classifier (mmaction2: 0.5).

    The architecture depends on neither clip length nor frame size (windows shrink and relative
    position biases are recomputed from the input's shape), so it takes no ``frames``/``size``.
    """

    def __init__(
        self,
        num_classes: NumClasses = 400,
        in_chans: int = 3,
        patch_size: Size3 = (2, 4, 4),
        embed_dim: int = 96,
        depths: tuple[int, ...] = (2, 2, 6, 2),
        num_heads: tuple[int, ...] = (3, 6, 12, 24),
        window: Size3 = (8, 7, 7),
        mlp_ratio: float = 4.0,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.1,
        head_drop_rate: float = 0.5,
    ) -> None:
        super().__init__()
        self.in_chans = in_chans
        self.patch_size = tuple(patch_size)
        self.window = tuple(window)
        num_features = embed_dim * 2 ** (len(depths) - 1)
        self.patch_embed = TubeletEmbed(patch_size, in_chans, embed_dim, pad_to_stride=True,
                                        norm_layer=nn.LayerNorm)
        self.pos_drop = nn.Dropout(drop_rate)
        n = sum(depths)
        dpr = [drop_path_rate * i / max(n - 1, 1) for i in range(n)]
        self.layers = nn.ModuleList()
        for i, (depth, heads) in enumerate(zip(depths, num_heads)):
            start = sum(depths[:i])
            self.layers.append(SwinStage(
                embed_dim * 2 ** i, depth, heads, self.window, mlp_ratio, drop_rate,
                attn_drop_rate, dpr[start:start + depth], downsample=i < len(depths) - 1))
        self.norm = nn.LayerNorm(num_features)
        # mmaction2's I3D head: global average over (T, H, W) of the (B, T, H, W, C) grid
        self.create_head(num_features, num_classes, pool=(1, 2, 3), drop_rate=head_drop_rate,
                         init_fn=init_transformer_weights)
        self.apply(init_transformer_weights)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T, H, W)`` -> normalised last-stage grid ``(B, T/2, H/32, W/32, 768)``."""
        x = self.pos_drop(self.patch_embed(x))  # (B, T/2, H/4, W/4, 96)
        for layer in self.layers:
            x = layer(x)
        return self.norm(x)

    def checkpoint_filter(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Map a published Swin checkpoint onto this model's keys (layouts registered below).

        Video checkpoints (their classifier becomes ``head.fc``; ``load_pretrained`` keeps or
        drops it by width):

        - torchvision ``swin3d_t/s/b``: ``features.{2i}.{j}`` are stage ``i``'s blocks,
          ``features.{2i+1}`` its merging layer, the MLP is ``mlp.0`` / ``mlp.3``, the classifier
          ``head``;
        - the official Video Swin release (mmaction2 ``Recognizer3D``): ``backbone.`` stripped,
          ``cls_head.fc_cls`` is the classifier;
        - litevid's own files (5-D tubelet kernel, ``head.fc``) load as they are.

        A video table of another window, or any key this model lacks, is left as it is, so the
        load report lists it as shape-mismatched or unexpected.

        ImageNet 2D Swin-T (Microsoft, timm) is inflated:

        - the classifier is dropped;
        - ``patch_embed.proj.weight`` ``(96, 3, 4, 4)`` is repeated over the tubelet's t and
          divided by it (I3D rule); the LayerNorms, ``qkv``, ``proj``, MLPs and merging layers
          keep names;
        - each 2D bias table ``((2wh-1)(2ww-1), heads)`` is bicubic-resized if its window is not
          this model's spatial window, then tiled over the ``2Wt-1`` temporal offsets, so a clip
          of identical frames sees the 2D model's bias at every temporal offset;
        - timm >= 0.9 files keep a stage's merging layer at the start of the next stage
          (``layers.{i+1}.downsample``) and the classifier in ``head.fc``: remapped.

        ``relative_position_index`` and ``attn_mask`` buffers (rebuilt here for the window in
        use) are dropped from every layout.
        """
        state = dict(state_dict)
        if any(k.startswith("features.") for k in state):
            state = _from_torchvision_swin3d(state)
        else:
            state = strip_prefix(state, "backbone.")
            state = {_OFFICIAL_HEAD.get(k, k): v for k, v in state.items()}
        state = {k: v for k, v in state.items()
                 if not k.endswith(("relative_position_index", "attn_mask"))}
        w = state.get("patch_embed.proj.weight")
        if w is not None and w.dim() == 4:  # a 2D (ImageNet) Swin
            state = self._inflate_image_swin(state)
        return state

    def _inflate_image_swin(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The ImageNet part of ``checkpoint_filter``: classifier out, timm remap, inflation."""
        state = drop_keys(state, ("head.", "head_drop."))
        if "layers.0.downsample.reduction.weight" not in state and any(
                k.startswith("layers.1.downsample.") for k in state):  # timm >= 0.9 layout
            remapped = {}
            for k, v in state.items():
                parts = k.split(".")
                if len(parts) > 2 and parts[0] == "layers" and parts[2] == "downsample":
                    parts[1] = str(int(parts[1]) - 1)
                remapped[".".join(parts)] = v
            state = remapped
        state["patch_embed.proj.weight"] = inflate_conv2d_weight(state["patch_embed.proj.weight"],
                                                                 self.patch_size[0])
        Wt, Wh, Ww = self.window
        for k in [k for k in state if k.endswith("relative_position_bias_table")]:
            table = state[k]
            if table.shape[0] == (2 * Wt - 1) * (2 * Wh - 1) * (2 * Ww - 1):
                continue  # already a 3D table of this window
            state[k] = _resize_2d_bias_table(table, (2 * Wh - 1, 2 * Ww - 1)).repeat(2 * Wt - 1, 1)
        return state


# the official release's I3D head (mmaction2 ``cls_head.fc_cls``) -> litevid's classifier
_OFFICIAL_HEAD = {"cls_head.fc_cls.weight": "head.fc.weight",
                  "cls_head.fc_cls.bias": "head.fc.bias"}
# torchvision's block MLP is a ``torchvision.ops.MLP`` Sequential: Linear at 0 and 3
_TV_MLP = {"mlp.0.": "mlp.fc1.", "mlp.3.": "mlp.fc2."}
_TV_FEATURE = re.compile(r"^features\.(\d+)\.(.+)$")
_TV_BLOCK = re.compile(r"^(\d+)\.(.+)$")


def _from_torchvision_swin3d(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torchvision ``SwinTransformer3d`` keys -> litevid's (Microsoft/mmaction2 names).

    ``features`` alternates stages and merging layers: ``features.{2i}.{j}`` is block ``j`` of
    stage ``i``, ``features.{2i+1}`` the merging after it. ``head`` is the classifier. A key that
    fits none of these keeps its name (and is reported as unexpected).
    """
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key in ("head.weight", "head.bias"):
            out["head.fc." + key.rsplit(".", 1)[1]] = value
            continue
        m = _TV_FEATURE.match(key)
        if m is None:  # patch_embed.*, norm.*: the same names
            out[key] = value
            continue
        index, rest = int(m[1]), m[2]
        if index % 2:  # the merging layer after stage index // 2
            out[f"layers.{index // 2}.downsample.{rest}"] = value
            continue
        b = _TV_BLOCK.match(rest)
        if b is None:
            out[key] = value
            continue
        sub = b[2]
        for old, new in _TV_MLP.items():
            if sub.startswith(old):
                sub = new + sub[len(old):]
        out[f"layers.{index // 2}.blocks.{b[1]}.{sub}"] = value
    return out


def _resize_2d_bias_table(table: torch.Tensor, new: tuple[int, int]) -> torch.Tensor:
    """Bicubic resize of a square 2D relative-position table ``(L*L, heads)`` to ``new``."""
    L = round(table.shape[0] ** 0.5)
    if (L, L) == tuple(new):
        return table
    heads = table.shape[1]
    grid = table.T.reshape(1, heads, L, L).float()
    grid = F.interpolate(grid, size=new, mode="bicubic", align_corners=False)
    return grid.reshape(heads, -1).T.to(table.dtype)


# ---- published layouts -------------------------------------------------------------------------
# Signatures name keys only one layout has: torchvision's ``features.{i}`` with a 3D
# ``patch_embed`` (its 2D ``swin_t`` has ``features.0.0`` as the patch conv), the official
# release's ``backbone.``/``cls_head.fc_cls`` with the Microsoft MLP names (mmaction2 1.x's own
# Video Swin uses mmcv FFN names), Microsoft's persistent ``relative_position_index`` and ``head``,
# timm >= 0.9's merging layer in the last stage (litevid's never is).

register_layout(CheckpointLayout(
    name="torchvision-swin3d", models=("swin_t",),
    source="torchvision swin3d_t / swin3d_s / swin3d_b (torchvision.models.video)",
    datasets="Kinetics-400 (swin3d_b also ImageNet-22K + Kinetics-400)",
    signature=(r"^patch_embed\.proj\.weight$",
               r"^features\.0\.0\.attn\.relative_position_bias_table$",
               r"^features\.0\.0\.mlp\.0\.weight$",
               r"^features\.1\.reduction\.weight$"),
    classifier=r"^head\.weight$",
    mapped="features.{2i}.{j} -> layers.i.blocks.j, features.{2i+1} -> layers.i.downsample, "
           "mlp.0/3 -> mlp.fc1/fc2, head -> head.fc; index buffers dropped",
))
register_layout(CheckpointLayout(
    name="video-swin-official", models=("swin_t",),
    source="SwinTransformer/Video-Swin-Transformer release (mmaction2 Recognizer3D: "
           "SwinTransformer3D + I3DHead), e.g. swin_tiny_patch244_window877_kinetics400_1k.pth",
    datasets="Kinetics-400, Kinetics-600, Something-Something v2",
    signature=(r"^backbone\.patch_embed\.proj\.weight$",
               r"^backbone\.layers\.0\.blocks\.0\.attn\.relative_position_bias_table$",
               r"^backbone\.layers\.0\.blocks\.0\.mlp\.fc1\.weight$",
               r"^cls_head\.fc_cls\.weight$"),
    classifier=r"^cls_head\.fc_cls\.weight$",
    mapped="backbone. stripped, cls_head.fc_cls -> head.fc; index buffers dropped",
))
register_layout(CheckpointLayout(
    name="microsoft-swin", models=("swin_t",),
    source="microsoft/Swin-Transformer 2D release (also timm < 0.9), e.g. "
           "swin_tiny_patch4_window7_224.pth",
    datasets="ImageNet-1K",
    signature=(r"^patch_embed\.proj\.weight$",
               r"^layers\.0\.blocks\.0\.attn\.relative_position_bias_table$",
               r"^layers\.0\.blocks\.0\.attn\.relative_position_index$",
               r"^layers\.0\.downsample\.reduction\.weight$",
               r"^head\.weight$"),
    classifier=r"^head\.weight$",
    mapped="tubelet inflation: patch kernel repeated over t and /t, 2D bias tables tiled over "
           "the temporal offsets; classifier and index/mask buffers dropped",
    kind="image",
))
register_layout(CheckpointLayout(
    name="timm-swin", models=("swin_t",),
    source="timm >= 0.9 swin_tiny_patch4_window7_224",
    datasets="ImageNet-1K",
    signature=(r"^patch_embed\.proj\.weight$",
               r"^layers\.0\.blocks\.0\.attn\.relative_position_bias_table$",
               r"^layers\.3\.downsample\.reduction\.weight$",
               r"^head\.fc\.weight$"),
    classifier=r"^head\.fc\.weight$",
    mapped="layers.{i+1}.downsample -> layers.i.downsample, then as microsoft-swin",
    kind="image",
))


# ---- builder and registered variants ----------------------------------------------------------


@register_model(ModelSpec(
    paper_name="Swin-T", category="attention-only", paper_params_m=28.0,
    init=InitSpec(dataset="ImageNet-1K", method="tubelet-inflation",
                  sources=("swin_tiny_patch4_window7_224.pth",),
                  layouts=("microsoft-swin", "timm-swin", "torchvision-swin3d",
                           "video-swin-official"),
                  notes="Swin-T; the study inflates ImageNet weights: timm >= 0.9 layout "
                        "remapped, patch kernel repeated over t=2 and /2, relative position "
                        "bias tables (169, heads) tiled over time to (2535, heads), index/mask "
                        "buffers and head dropped. Kinetics-400 checkpoints load directly, "
                        "classifier included: torchvision swin3d_t (features.* renamed, head -> "
                        "head.fc) and the official Video Swin release (backbone. stripped, "
                        "cls_head.fc_cls -> head.fc); the release's larger models (Swin-S/B, "
                        "SSv2 window 16x7x7) take their embed_dim/depths/num_heads/window"),
))
def swin_t(**kwargs) -> SwinTransformer3D:
    model_args = dict(patch_size=(2, 4, 4), embed_dim=96, depths=(2, 2, 6, 2),
                      num_heads=(3, 6, 12, 24), window=(8, 7, 7))
    return SwinTransformer3D(**dict(model_args, **kwargs))
