"""ResNet-50 and Res2Net-50 trunks shared by TSM, NL, TEA, VTN-R50 (2D, per frame) and I3D-BERT (3D).

He et al. 2016 ("v1.5": the stride sits on the 3x3 conv, as torchvision); Gao et al. 2019
(Res2Net-50 26w x 4s, the original, not the v1b deep-stem variant).

The trunks keep torchvision/timm parameter names (``conv1``, ``bn1``, ``layer1.0.conv1``, ...,
``layerX.i.convs.j`` for Res2Net) so ImageNet checkpoints load by name. Video families change them
only through hooks that add no renamed parameters:

- a ``temporal`` module applied to the residual-branch input of every block (TSM's shift),
- ``me_layer`` / ``shift_layer`` factories inserted into Res2Net blocks (TEA),
- ``extra_blocks`` run after named blocks, e.g. ``{"layer2_0": NonLocal}`` (NL),
- ``dims=3`` with a temporal kernel depth for I3D inflation.

A 2D trunk takes frames folded into the batch, ``(B*T, C, H, W)``, plus ``num_frames`` so temporal
modules can unfold them; a 3D trunk takes ``(B, C, T, H, W)``.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn

from ..layers.weight_init import init_cnn_weights

__all__ = ["Bottleneck", "Bottle2neck", "ResNet", "resnet50_trunk", "res2net50_trunk"]

RESNET50_LAYERS = (3, 4, 6, 3)
RESNET50_WIDTHS = (64, 128, 256, 512)  # bottleneck widths ("planes"); outputs are 4x


def _conv(dims: int, cin: int, cout: int, k: int, stride: int = 1, kt: int = 1,
          groups: int = 1) -> nn.Module:
    """k x k conv in 2D, or (kt, k, k) conv with spatial-only stride in 3D; no bias (BN follows)."""
    if dims == 2:
        return nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False)
    return nn.Conv3d(cin, cout, (kt, k, k), (1, stride, stride), (kt // 2, k // 2, k // 2),
                     groups=groups, bias=False)


def _bn(dims: int, c: int) -> nn.Module:
    return nn.BatchNorm2d(c) if dims == 2 else nn.BatchNorm3d(c)


def _downsample(dims: int, cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(_conv(dims, cin, cout, 1, stride), _bn(dims, cout))


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (stride) -> 1x1 residual block; optional temporal module on the branch input."""

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        *,
        dims: int = 2,
        conv2_kt: int = 1,
        temporal: nn.Module | None = None,
    ) -> None:
        super().__init__()
        out = planes * self.expansion
        self.temporal = temporal
        self.conv1 = _conv(dims, inplanes, planes, 1)
        self.bn1 = _bn(dims, planes)
        self.conv2 = _conv(dims, planes, planes, 3, stride, kt=conv2_kt)
        self.bn2 = _bn(dims, planes)
        self.conv3 = _conv(dims, planes, out, 1)
        self.bn3 = _bn(dims, out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = (
            _downsample(dims, inplanes, out, stride) if stride != 1 or inplanes != out else None
        )

    def forward(self, x: torch.Tensor, num_frames: int = 1) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        # TSM shifts the residual branch only ("residual shift"); the shortcut stays unshifted.
        out = x if self.temporal is None else self.temporal(x, num_frames)
        out = self.relu(self.bn1(self.conv1(out)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + shortcut)


class Bottle2neck(nn.Module):
    """Res2Net block: the 3x3 conv is split into ``scale`` hierarchical groups of ``width`` channels.

    ``me_layer(channels)`` (applied after ``conv1``) and ``shift_layer(width, index)`` (applied to
    each group before its conv, and to the last, conv-free group) turn it into TEA's block.
    """

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        *,
        first: bool = False,
        base_width: int = 26,
        scale: int = 4,
        me_layer: Callable[[int], nn.Module] | None = None,
        shift_layer: Callable[[int, int], nn.Module] | None = None,
    ) -> None:
        super().__init__()
        width = planes * base_width // 64
        out = planes * self.expansion
        self.width, self.scale, self.first = width, scale, first
        self.conv1 = nn.Conv2d(inplanes, width * scale, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width * scale)
        self.me = me_layer(width * scale) if me_layer is not None else None
        self.shifts = (
            nn.ModuleList(shift_layer(width, i) for i in range(scale)) if shift_layer else None
        )
        self.convs = nn.ModuleList(
            nn.Conv2d(width, width, 3, stride, 1, bias=False) for _ in range(scale - 1)
        )
        self.bns = nn.ModuleList(nn.BatchNorm2d(width) for _ in range(scale - 1))
        # The first block of a stage ("stage" type) pools its last group to match the stride.
        self.pool = nn.AvgPool2d(3, stride, 1) if first else None
        self.conv3 = nn.Conv2d(width * scale, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = (
            _downsample(2, inplanes, out, stride) if stride != 1 or inplanes != out else None
        )

    def _shift(self, x: torch.Tensor, i: int, num_frames: int) -> torch.Tensor:
        return x if self.shifts is None else self.shifts[i](x, num_frames)

    def forward(self, x: torch.Tensor, num_frames: int = 1) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))  # (N, width*scale, H, W)
        if self.me is not None:
            out = self.me(out, num_frames)
        groups = torch.split(out, self.width, dim=1)  # scale x (N, width, H, W)
        outs = []
        sp = groups[0]
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            sp = groups[i] if (i == 0 or self.first) else sp + groups[i]
            sp = self.relu(bn(conv(self._shift(sp, i, num_frames))))
            outs.append(sp)
        last = self._shift(groups[-1], self.scale - 1, num_frames)
        outs.append(self.pool(last) if self.pool is not None else last)
        out = self.bn3(self.conv3(torch.cat(outs, dim=1)))
        return self.relu(out + shortcut)


class ResNet(nn.Module):
    """ResNet/Res2Net trunk without pooling or classifier (torchvision parameter names).

    Args:
        block: ``block(inplanes, planes, stride, first=...)`` building one residual block.
        layers: blocks per stage.
        dims: 2 for per-frame trunks, 3 for I3D.
        stem_kt: temporal kernel of the 3D stem conv (I3D: 7).
        stem_stride_t: temporal stride of the 3D stem conv (I3D-BERT: 2, giving T/2 tokens).
        extra_blocks: modules run after named blocks (``"layer2_0"`` = after ``layer2[0]``),
            called as ``module(x, num_frames)``; kept apart so ImageNet keys stay unchanged.
        widths: bottleneck width of each stage (torchvision's ``planes``; 64, 128, 256, 512).
        stem_width: output channels of the stem conv (64).

    ``layers``/``widths``/``stem_width`` other than ResNet-50's build the narrow, shallow trunks
    the checkpoint-parity fixtures compare against the original code (torchvision's ``ResNet``
    built with the same widths through its ``_make_layer``).
    """

    def __init__(
        self,
        block: Callable[..., nn.Module],
        layers: tuple[int, ...] = RESNET50_LAYERS,
        *,
        dims: int = 2,
        stem_kt: int = 1,
        stem_stride_t: int = 1,
        extra_blocks: dict[str, nn.Module] | None = None,
        widths: tuple[int, ...] = RESNET50_WIDTHS,
        stem_width: int = 64,
    ) -> None:
        super().__init__()
        if len(widths) != len(layers):
            raise ValueError(f"ResNet: {len(layers)} stages (layers) but {len(widths)} widths")
        if dims == 2:
            self.conv1 = nn.Conv2d(3, stem_width, 7, 2, 3, bias=False)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
        else:
            self.conv1 = nn.Conv3d(3, stem_width, (stem_kt, 7, 7), (stem_stride_t, 2, 2),
                                   (stem_kt // 2, 3, 3), bias=False)
            self.maxpool = nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))
        self.bn1 = _bn(dims, stem_width)
        self.relu = nn.ReLU(inplace=True)
        inplanes = stem_width
        self.stage_names = []
        for i, (n, planes) in enumerate(zip(layers, widths)):
            stride = 1 if i == 0 else 2
            blocks = []
            for j in range(n):
                blocks.append(block(inplanes, planes, stride if j == 0 else 1, first=j == 0))
                inplanes = planes * 4
            name = f"layer{i + 1}"
            setattr(self, name, nn.ModuleList(blocks))
            self.stage_names.append(name)
        self.extra_blocks = nn.ModuleDict(extra_blocks or {})
        self.num_features = inplanes
        self._init_weights()

    def _init_weights(self) -> None:
        # Extra blocks own their initialisation (NL zero-inits its output BN).
        for part in (self.conv1, self.bn1, *(getattr(self, n) for n in self.stage_names)):
            part.apply(init_cnn_weights)

    def forward(self, x: torch.Tensor, num_frames: int = 1) -> torch.Tensor:
        # 2D: (B*T, 3, H, W) -> (B*T, 2048, H/32, W/32); 3D: (B, 3, T, H, W) -> (B, 2048, t, H/32, W/32)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for name in self.stage_names:
            for j, blk in enumerate(getattr(self, name)):
                x = blk(x, num_frames)
                key = f"{name}_{j}"
                if key in self.extra_blocks:  # static: depends on the architecture only
                    x = self.extra_blocks[key](x, num_frames)
        return x


def _bottleneck(temporal_factory: Callable[[], nn.Module] | None = None, dims: int = 2,
                conv2_kt: int = 1) -> Callable[..., nn.Module]:
    def make(inplanes: int, planes: int, stride: int, first: bool = False) -> nn.Module:
        temporal = temporal_factory() if temporal_factory is not None else None
        return Bottleneck(inplanes, planes, stride, dims=dims, conv2_kt=conv2_kt, temporal=temporal)

    return make


def resnet50_trunk(
    *,
    temporal_factory: Callable[[], nn.Module] | None = None,
    dims: int = 2,
    conv2_kt: int = 1,
    stem_kt: int = 1,
    stem_stride_t: int = 1,
    extra_blocks: dict[str, nn.Module] | None = None,
    layers: tuple[int, ...] = RESNET50_LAYERS,
    widths: tuple[int, ...] = RESNET50_WIDTHS,
    stem_width: int = 64,
) -> ResNet:
    """ResNet-50 (23.5M parameters without fc); 2D per frame, or 3D when ``dims=3``.

    ``layers``, ``widths`` and ``stem_width`` (see ``ResNet``) default to ResNet-50's; other
    values give the reduced trunks of the checkpoint-parity fixtures.
    """
    return ResNet(_bottleneck(temporal_factory, dims, conv2_kt), tuple(layers), dims=dims,
                  stem_kt=stem_kt, stem_stride_t=stem_stride_t, extra_blocks=extra_blocks,
                  widths=tuple(widths), stem_width=stem_width)


def res2net50_trunk(
    *,
    me_layer: Callable[[int], nn.Module] | None = None,
    shift_layer: Callable[[int, int], nn.Module] | None = None,
) -> ResNet:
    """Res2Net-50 26w x 4s (23.65M parameters without fc), optionally with TEA's modules."""

    def make(inplanes: int, planes: int, stride: int, first: bool = False) -> nn.Module:
        return Bottle2neck(inplanes, planes, stride, first=first, me_layer=me_layer,
                           shift_layer=shift_layer)

    return ResNet(make)
