"""X3D-XS (Feichtenhofer 2020), as built by pytorchvideo ``create_x3d`` / ``hub.x3d_xs``.

Width factor 2.0, depth factor 2.2, bottleneck factor 2.25, SE ratio 1/16 on every other block,
Swish inside the bottleneck, ReLU elsewhere, BN eps 1e-5. XS and S share one network (3.79M
parameters); they differ only in clip length and crop. What differs from pytorchvideo: the head
pools adaptively (pytorchvideo builds an ``AvgPool3d`` sized for one input), so any clip
length/size works; and the stem's two convs carry the names of what they do
(pytorchvideo's ``conv_t`` is the spatial conv and ``conv_xy`` the temporal one; the
``checkpoint_filter`` swaps them back).

Checkpoints: layout ``pytorchvideo-x3d``, pytorchvideo's ``X3D_XS.pyth`` (Kinetics-400,
``{"model_state": state_dict}``; ``X3D_S.pyth`` and ``X3D_M.pyth`` hold the same network and load
too). Every tensor maps, the 400-class classifier ``blocks.5.proj`` included (to ``head.fc``, kept
or dropped by ``load_pretrained``); pytorchvideo's missing stage-1 shortcut BN is filled in as an
exact identity. The outputs equal pytorchvideo's ``create_x3d`` (``head_activation=None``: its
default ends in a softmax) at its published input, 4x160x160, and at reduced configurations
(``width_factor``, ``depth_factor``, ``head_dim``).
"""

from __future__ import annotations

import math
import re
from functools import partial

import torch
import torch.nn as nn

from ..layers.classifier import NumClasses
from ..layers.conv_norm_act import ConvNormAct
from ..layers.squeeze_excite import SqueezeExcite
from ..layers.weight_init import init_cnn_weights, init_linear_normal
from ._base import VideoModel
from ._layouts import CheckpointLayout, register_layout
from ._registry import InitSpec, ModelSpec, register_model

__all__ = ["X3D", "X3DBlock", "x3d_xs"]


def round_width(width: float, multiplier: float, *, divisor: int = 8, min_width: int = 8) -> int:
    """Scale a width and round to a multiple of ``divisor`` without losing more than 10%."""
    width *= multiplier
    out = max(min_width, int(width + divisor / 2) // divisor * divisor)
    return out + divisor if out < 0.9 * width else out


class X3DBlock(nn.Module):
    """Bottleneck: 1x1x1 -> depthwise 3x3x3 -> BN -> [SE] -> Swish -> 1x1x1; + shortcut, ReLU.

    The shortcut is a strided 1x1x1 conv + BN on the first block of a stage, as in SlowFast and
    mmaction2 (3,794,322 parameters). pytorchvideo omits the BN where the width does not change
    (stage 1, 24 -> 24; pytorchvideo issue #95); its checkpoints load with that BN set to identity.
    """

    def __init__(self, in_chs: int, inner: int, out_chs: int, *, stride: int, se_chs: int) -> None:
        super().__init__()
        self.conv_a = ConvNormAct(in_chs, inner, 1, dims=3, act_layer=nn.ReLU)
        self.conv_b = ConvNormAct(inner, inner, 3, (1, stride, stride), groups=inner, dims=3,
                                  act_layer=None)
        self.se = (SqueezeExcite(inner, se_chs, dims=3, act_layer=nn.ReLU) if se_chs > 0
                   else nn.Identity())
        self.act_b = nn.SiLU()
        self.conv_c = ConvNormAct(inner, out_chs, 1, dims=3, act_layer=None)
        shortcut: list[nn.Module] = []
        if in_chs != out_chs or stride != 1:
            shortcut = [nn.Conv3d(in_chs, out_chs, 1, (1, stride, stride), bias=False),
                        nn.BatchNorm3d(out_chs)]
        self.shortcut = nn.Sequential(*shortcut)  # empty Sequential = identity
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_c(self.act_b(self.se(self.conv_b(self.conv_a(x)))))
        return self.act(self.shortcut(x) + out)


class X3D(VideoModel):
    """X3D: a stem of separable convs, four residual stages, a projected-pool head.

    Args:
        num_classes: classifier width (0 = no classifier), or a dict of named widths.
        width_factor: channel expansion of the stem and stages (XS/S/M: 2.0).
        depth_factor: block-count expansion (XS/S/M: 2.2).
        bottleneck_factor: inner width of a block relative to its output (2.25).
        se_ratio: SE width relative to the inner width, on blocks 0, 2, 4, ... of each stage.
        stem_kt: temporal kernel of the stem's depthwise conv (5).
        head_dim: width of the head's post-pool projection (2048): the pre-logit features.
        drop_rate: dropout before the classifier (0.5).
        in_chans: input channels.
    """

    def __init__(
        self,
        num_classes: NumClasses = 400,
        *,
        width_factor: float = 2.0,
        depth_factor: float = 2.2,
        bottleneck_factor: float = 2.25,
        se_ratio: float = 0.0625,
        stem_kt: int = 5,
        head_dim: int = 2048,
        drop_rate: float = 0.5,
        in_chans: int = 3,
    ) -> None:
        super().__init__()
        self.in_chans = in_chans
        base = 12
        stem_chs = round_width(base, width_factor)
        # Stem: spatial (1,3,3) stride (1,2,2), then a depthwise temporal (kt,1,1) conv, BN, ReLU.
        self.stem = nn.Module()
        self.stem.conv_xy = nn.Conv3d(in_chans, stem_chs, (1, 3, 3), (1, 2, 2), (0, 1, 1),
                                      bias=False)
        self.stem.conv_t = nn.Conv3d(stem_chs, stem_chs, (stem_kt, 1, 1), 1, (stem_kt // 2, 0, 0),
                                     groups=stem_chs, bias=False)
        self.stem.bn = nn.BatchNorm3d(stem_chs)
        self.stem.act = nn.ReLU(inplace=True)

        stages, cin, stage_base = [], stem_chs, base
        for depth in (1, 2, 5, 3):
            cout = round_width(stage_base, width_factor)
            inner = int(bottleneck_factor * cout)
            se_chs = round_width(inner, se_ratio) if se_ratio > 0 else 0
            blocks = [
                X3DBlock(cin if j == 0 else cout, inner, cout, stride=2 if j == 0 else 1,
                         se_chs=se_chs if j % 2 == 0 else 0)
                for j in range(math.ceil(depth_factor * depth))
            ]
            stages.append(nn.Sequential(*blocks))
            cin, stage_base = cout, round_width(stage_base, 2.0)
        self.stages = nn.Sequential(*stages)

        self.head_pre = ConvNormAct(cin, inner, 1, dims=3, act_layer=nn.ReLU)
        self.head_post = nn.Conv3d(inner, head_dim, 1, bias=False)  # after the pool, then ReLU
        self.head_act = nn.ReLU(inplace=True)
        self.create_head(head_dim, num_classes, drop_rate=drop_rate,
                         init_fn=partial(init_linear_normal, std=0.01))
        self._init_weights()

    def _init_weights(self) -> None:
        self.apply(init_cnn_weights)
        # Zero-init the last BN of each residual branch (SlowFast "ZERO_INIT_FINAL_BN").
        for m in self.modules():
            if isinstance(m, X3DBlock):
                nn.init.zeros_(m.conv_c[1].weight)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stem
        x = s.act(s.bn(s.conv_t(s.conv_xy(x))))  # (B, 24, T, H/2, W/2)
        return self.stages(x)  # (B, 192, T, H/32, W/32)

    def forward_head(
        self, x: torch.Tensor, pre_logits: bool = False
    ) -> torch.Tensor | dict[str, torch.Tensor]:
        x = self.head_pre(x).mean((2, 3, 4), keepdim=True)  # (B, 432, 1, 1, 1)
        x = self.head_act(self.head_post(x)).flatten(1)  # (B, 2048)
        return super().forward_head(x, pre_logits)

    def adapt_to_layout(self, layout: CheckpointLayout) -> list[str]:
        """Nothing changes; a pytorchvideo file gets a note on the identity shortcut BN."""
        if layout.name != PTV_X3D.name or len(self.stages[0][0].shortcut) < 2:
            return []
        return ["stage-1 shortcut BN set to identity (pytorchvideo has none where the width "
                "does not change)"]

    def checkpoint_filter(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """pytorchvideo ``X3D_XS.pyth`` (Kinetics-400) keys -> ours.

        The classifier ``blocks.5.proj`` becomes ``head.fc`` (``load_pretrained`` keeps or drops
        it). Keys already in our layout pass through; unknown keys pass through too, so the load
        report lists them as unexpected. pytorchvideo has no BN on a shortcut that keeps the width
        (stage 1); it is filled in as an exact identity (running_var = 1 - eps) so every tensor
        loads and outputs match.
        """
        state = {_ptv_key(k): v for k, v in state_dict.items()}
        for i, stage in enumerate(self.stages):
            prefix = f"stages.{i}.0.shortcut."
            bn = stage[0].shortcut[1] if len(stage[0].shortcut) > 1 else None
            if bn is None or f"{prefix}0.weight" not in state or f"{prefix}1.weight" in state:
                continue
            c = bn.num_features
            state.update({
                f"{prefix}1.weight": torch.ones(c), f"{prefix}1.bias": torch.zeros(c),
                f"{prefix}1.running_mean": torch.zeros(c),
                f"{prefix}1.running_var": torch.full((c,), 1.0 - bn.eps),
                f"{prefix}1.num_batches_tracked": torch.tensor(0),
            })
        return state


# ---- weight-key remapping ----------------------------------------------------------------------

_PTV_BLOCK = {  # pytorchvideo ResBlock / BottleneckBlock module -> ours
    "branch1_conv": "shortcut.0", "branch1_norm": "shortcut.1",
    "branch2.conv_a": "conv_a.0", "branch2.norm_a": "conv_a.1",
    "branch2.conv_b": "conv_b.0", "branch2.norm_b.0": "conv_b.1",
    "branch2.norm_b.1.block.0": "se.fc1", "branch2.norm_b.1.block.2": "se.fc2",
    "branch2.conv_c": "conv_c.0", "branch2.norm_c": "conv_c.1",
}
_PTV_TOP = {
    # pytorchvideo names the stem's spatial conv ``conv_t`` and its temporal conv ``conv_xy``.
    "blocks.0.conv.conv_t": "stem.conv_xy", "blocks.0.conv.conv_xy": "stem.conv_t",
    "blocks.0.norm": "stem.bn",
    "blocks.5.pool.pre_conv": "head_pre.0", "blocks.5.pool.pre_norm": "head_pre.1",
    "blocks.5.pool.post_conv": "head_post",
    "blocks.5.proj": "head.fc",  # the classifier
}
_PTV_RES = re.compile(r"^blocks\.([1-4])\.res_blocks\.(\d+)\.(.+)\.([a-z_]+)$")


def _ptv_key(key: str) -> str:
    m = _PTV_RES.match(key)
    if m and m[3] in _PTV_BLOCK:
        return f"stages.{int(m[1]) - 1}.{m[2]}.{_PTV_BLOCK[m[3]]}.{m[4]}"
    module, _, leaf = key.rpartition(".")
    return f"{_PTV_TOP[module]}.{leaf}" if module in _PTV_TOP else key


PTV_X3D = register_layout(CheckpointLayout(
    name="pytorchvideo-x3d", models=("x3d_xs",),
    source="pytorchvideo hub x3d_xs (X3D_XS.pyth; X3D_S/X3D_M hold the same network)",
    datasets="Kinetics-400",
    signature=(r"^blocks\.0\.conv\.conv_t\.weight$",
               r"^blocks\.1\.res_blocks\.0\.branch2\.conv_b\.weight$",
               r"^blocks\.5\.pool\.post_conv\.weight$"),
    classifier=r"^blocks\.5\.proj\.weight$",
    mapped="`blocks.N.res_blocks` -> `stages`, stem convs swapped back, `blocks.5.proj` -> "
           "`head.fc`, stage-1 shortcut BN filled as identity",
))


@register_model(ModelSpec(
    paper_name="X3D-XS", category="baseline", mean=(0.45,) * 3, std=(0.225,) * 3,
    paper_params_m=3.8,
    init=InitSpec(dataset="Kinetics-400", method="direct", sources=("X3D_XS.pyth",),
                  layouts=("pytorchvideo-x3d",),
                  notes="no ImageNet weights exist; mapped by X3D.checkpoint_filter (layout "
                        "pytorchvideo-x3d), its 400-class classifier included"),
))
def x3d_xs(**kwargs) -> X3D:
    # adaptive head pooling: the network does not depend on the clip shape (no frames/size)
    model_args = dict(width_factor=2.0, depth_factor=2.2, bottleneck_factor=2.25, se_ratio=0.0625)
    return X3D(**dict(model_args, **kwargs))
