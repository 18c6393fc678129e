"""Convolution -> BatchNorm -> activation, as one ``nn.Sequential`` (children ``0``, ``1``, ``2``).

The numbered children give torchvision's ``Conv2dNormActivation`` parameter names
(``features.0.0.weight``, ``features.0.1.running_mean``), so EfficientNet ImageNet checkpoints load
by name; the 3D CNNs (X3D, MoViNet) use the same block with ``dims=3``.
"""

from __future__ import annotations

from typing import Callable

import torch.nn as nn

__all__ = ["ConvNormAct"]

_Size = int | tuple[int, ...]


def _tuple(v: _Size, dims: int) -> tuple[int, ...]:
    return (v,) * dims if isinstance(v, int) else tuple(v)


class ConvNormAct(nn.Sequential):
    """Bias-free conv, BatchNorm, optional activation.

    Args:
        in_chs: input channels.
        out_chs: output channels.
        kernel_size: int or per-dim tuple (``(kt, kh, kw)`` for ``dims=3``).
        stride: int or per-dim tuple.
        padding: per-dim padding; ``None`` means ``k // 2`` ("same" for odd kernels at stride 1).
        groups: conv groups (``groups == in_chs`` for depthwise).
        dims: 2 for per-frame (image) blocks, 3 for video blocks.
        bn_eps: BatchNorm epsilon (1e-5 torch default; MoViNet's TF checkpoints use 1e-3).
        act_layer: activation class, or ``None`` for a linear block (projections).
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: _Size = 1,
        stride: _Size = 1,
        padding: _Size | None = None,
        groups: int = 1,
        *,
        dims: int = 2,
        bn_eps: float = 1e-5,
        act_layer: Callable[[], nn.Module] | None = nn.ReLU,
    ) -> None:
        if dims not in (2, 3):
            raise ValueError(f"ConvNormAct: dims must be 2 or 3, got {dims}")
        k = _tuple(kernel_size, dims)
        pad = tuple(x // 2 for x in k) if padding is None else _tuple(padding, dims)
        conv_cls, bn_cls = (nn.Conv2d, nn.BatchNorm2d) if dims == 2 else (nn.Conv3d, nn.BatchNorm3d)
        layers: list[nn.Module] = [
            conv_cls(in_chs, out_chs, k, _tuple(stride, dims), pad, groups=groups, bias=False),
            bn_cls(out_chs, eps=bn_eps),
        ]
        if act_layer is not None:
            layers.append(act_layer())
        super().__init__(*layers)
        self.out_chs = out_chs

    @property
    def conv(self) -> nn.Module:
        return self[0]
