"""Squeeze-and-excitation (Hu et al. 2018) for 2D and 3D CNNs: EfficientNet, X3D, MoViNet.

Parameters are named ``fc1``/``fc2`` (torchvision's EfficientNet and the MoViNet-pytorch port use
these names), as 1x1 convs with bias. ``excite`` is split from the pooling so a causal model can
feed it a running (cumulative) mean instead of the global one (MoViNet stream mode).
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn

__all__ = ["SqueezeExcite"]


class SqueezeExcite(nn.Module):
    """Global average pool -> 1x1 conv -> act -> 1x1 conv -> gate, multiplied into the input.

    Args:
        channels: channels of the gated feature map.
        rd_channels: bottleneck width (each family has its own rounding rule; the caller decides).
        dims: 2 for ``(N, C, H, W)`` maps, 3 for ``(B, C, T, H, W)``.
        act_layer: activation between the two convs (ReLU for X3D, SiLU/Swish for EfficientNet and
            MoViNet).
        gate_layer: gating nonlinearity (sigmoid in all three families).
    """

    def __init__(
        self,
        channels: int,
        rd_channels: int,
        *,
        dims: int = 2,
        act_layer: Callable[[], nn.Module] = nn.ReLU,
        gate_layer: Callable[[], nn.Module] = nn.Sigmoid,
    ) -> None:
        super().__init__()
        if dims not in (2, 3):
            raise ValueError(f"SqueezeExcite: dims must be 2 or 3, got {dims}")
        conv = nn.Conv2d if dims == 2 else nn.Conv3d
        self.dims = dims
        self.fc1 = conv(channels, rd_channels, 1, bias=True)
        self.act = act_layer()
        self.fc2 = conv(rd_channels, channels, 1, bias=True)
        self.gate = gate_layer()

    def excite(self, pooled: torch.Tensor) -> torch.Tensor:
        """Gate from pooled features, ``(N, C, 1, 1[, 1])`` or per frame ``(B, C, T, 1, 1)``."""
        return self.gate(self.fc2(self.act(self.fc1(pooled))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = x.mean(dim=tuple(range(2, x.dim())), keepdim=True)  # (N, C, 1, 1[, 1])
        return x * self.excite(pooled)
