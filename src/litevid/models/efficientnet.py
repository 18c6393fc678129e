"""EfficientNet-B0 2D trunk (Tan & Le 2019), the per-frame backbone of VTN-EFF.

The trunk follows torchvision's ``efficientnet_b0`` exactly (MBConv with SE, SiLU, BN eps 1e-5,
stochastic depth rising linearly to 0.2 over the 16 blocks) and keeps its parameter names
(``features.0.0.weight`` ... ``features.8.1.running_var``) so ImageNet checkpoints load by name.
What differs: no pooling or classifier (the video head pools), and
``EfficientNetB0.checkpoint_filter`` also accepts timm's ``efficientnet_b0`` key layout. It is not
a registered model: VTN-EFF (``models/vtn.py``) wraps it.

Avoid timm's ``tf_efficientnet_b0`` weights: they need TF "SAME" padding and BN eps 1e-3.
"""

from __future__ import annotations

import re

import torch
import torch.nn as nn

from ..layers.conv_norm_act import ConvNormAct
from ..layers.drop_path import DropPath
from ..layers.squeeze_excite import SqueezeExcite
from ..layers.weight_init import init_cnn_weights
from ._layouts import CheckpointLayout, register_layout

__all__ = ["EfficientNetB0", "MBConv"]

# (expand ratio, kernel, first stride, in channels, out channels, repeats) per stage.
B0_STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
)


class MBConv(nn.Module):
    """Inverted residual: [1x1 expand] -> k x k depthwise -> SE -> 1x1 project (+ residual).

    ``block`` is numbered like torchvision's so the keys match (``block.0`` is the expansion when
    ``expand_ratio != 1``, otherwise the depthwise conv). The SE bottleneck is a quarter of the
    block's *input* width, not of the expanded width, as in the original.
    """

    def __init__(
        self, in_chs: int, out_chs: int, *, expand_ratio: int, kernel_size: int, stride: int,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        mid = in_chs * expand_ratio
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvNormAct(in_chs, mid, 1, act_layer=nn.SiLU))
        layers += [
            ConvNormAct(mid, mid, kernel_size, stride, groups=mid, act_layer=nn.SiLU),
            SqueezeExcite(mid, max(1, in_chs // 4), act_layer=nn.SiLU),
            ConvNormAct(mid, out_chs, 1, act_layer=None),
        ]
        self.block = nn.Sequential(*layers)
        self.use_res = stride == 1 and in_chs == out_chs
        self.stochastic_depth = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return x + self.stochastic_depth(out) if self.use_res else out


class EfficientNetB0(nn.Module):
    """EfficientNet-B0 feature extractor: ``(N, 3, H, W) -> (N, 1280, H/32, W/32)``, not pooled.

    Args:
        drop_path_rate: stochastic depth of the last block (block ``i`` of 16 gets
            ``drop_path_rate * i / 16``); torchvision's reference training uses 0.2.
    """

    num_features = 1280

    def __init__(self, drop_path_rate: float = 0.2) -> None:
        super().__init__()
        total = sum(s[-1] for s in B0_STAGES)
        features: list[nn.Module] = [ConvNormAct(3, 32, 3, 2, act_layer=nn.SiLU)]
        idx = 0
        for expand, k, stride, cin, cout, repeats in B0_STAGES:
            stage = []
            for j in range(repeats):
                stage.append(MBConv(
                    cin if j == 0 else cout, cout, expand_ratio=expand, kernel_size=k,
                    stride=stride if j == 0 else 1, drop_path=drop_path_rate * idx / total,
                ))
                idx += 1
            features.append(nn.Sequential(*stage))
        features.append(ConvNormAct(B0_STAGES[-1][4], self.num_features, 1, act_layer=nn.SiLU))
        self.features = nn.Sequential(*features)
        self.apply(init_cnn_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)  # (N, 1280, h, w)

    def checkpoint_filter(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Map a torchvision- or timm-layout EfficientNet-B0 state dict onto these keys.

        The layout is detected from the keys (timm has ``conv_stem.weight``); the ImageNet
        classifier (``classifier.*``) is dropped. Unknown keys pass through unchanged so the load
        report lists them as unexpected instead of hiding them.
        """
        timm_layout = "conv_stem.weight" in state_dict
        return {(_timm_key(k) if timm_layout else k): v for k, v in state_dict.items()
                if not k.startswith("classifier.")}


# ---- weight-key remapping ----------------------------------------------------------------------

# timm names inside a block -> torchvision ``block.{i}...`` names; stage 0 has no expansion conv.
_TIMM_DS_BLOCK = {  # depthwise-separable block (timm stage 0)
    "conv_dw": "block.0.0", "bn1": "block.0.1", "se.conv_reduce": "block.1.fc1",
    "se.conv_expand": "block.1.fc2", "conv_pw": "block.2.0", "bn2": "block.2.1",
}
_TIMM_IR_BLOCK = {  # inverted-residual block (timm stages 1-6)
    "conv_pw": "block.0.0", "bn1": "block.0.1", "conv_dw": "block.1.0", "bn2": "block.1.1",
    "se.conv_reduce": "block.2.fc1", "se.conv_expand": "block.2.fc2", "conv_pwl": "block.3.0",
    "bn3": "block.3.1",
}
_TIMM_TOP = {"conv_stem": "features.0.0", "bn1": "features.0.1", "conv_head": "features.8.0",
             "bn2": "features.8.1"}
_TIMM_BLOCK_KEY = re.compile(r"^blocks\.(\d+)\.(\d+)\.(.+)\.([a-z_]+)$")


def _timm_key(key: str) -> str:
    m = _TIMM_BLOCK_KEY.match(key)
    if m:
        stage, j, module, leaf = int(m[1]), m[2], m[3], m[4]
        table = _TIMM_DS_BLOCK if stage == 0 else _TIMM_IR_BLOCK
        if module in table:
            return f"features.{stage + 1}.{j}.{table[module]}.{leaf}"
        return key
    module, _, leaf = key.rpartition(".")
    return f"{_TIMM_TOP[module]}.{leaf}" if module in _TIMM_TOP else key


# ---- published layouts (ImageNet initialisations of VTN-EFF's backbone) -------------------------

register_layout(CheckpointLayout(
    name="torchvision-efficientnet_b0", models=("vtn_eff",),
    source="torchvision efficientnet_b0 (IMAGENET1K_V1)", datasets="ImageNet-1K",
    signature=(r"^features\.0\.0\.weight$", r"^features\.1\.0\.block\.0\.0\.weight$",
               r"^features\.8\.0\.weight$", r"^classifier\.1\.weight$"),
    classifier=r"^classifier\.1\.weight$",
    mapped="under `backbone.` as they are; classifier dropped", kind="image"))
register_layout(CheckpointLayout(
    name="timm-efficientnet_b0", models=("vtn_eff",),
    source="timm efficientnet_b0", datasets="ImageNet-1K",
    signature=(r"^conv_stem\.weight$", r"^blocks\.0\.0\.conv_dw\.weight$",
               r"^conv_head\.weight$", r"^classifier\.weight$"),
    classifier=r"^classifier\.weight$",
    mapped="renamed to torchvision's names under `backbone.`; classifier dropped", kind="image"))
