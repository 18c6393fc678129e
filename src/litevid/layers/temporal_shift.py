"""Temporal shift (TSM, Lin et al. 2019): move 1/8 of channels one frame back, 1/8 forward.

Written with slicing and concatenation (no in-place writes) so autograd and mobile exports work.
"""

from __future__ import annotations

import torch
import torch.nn as nn

__all__ = ["temporal_shift", "TemporalShift"]


def temporal_shift(x: torch.Tensor, num_frames: int, shift_div: int = 8) -> torch.Tensor:
    """Shift channels of a frame-folded tensor ``(B*T, C, H, W)`` along T, zero-filling the ends."""
    NT, C, H, W = x.shape
    x = x.reshape(NT // num_frames, num_frames, C, H, W)  # (B, T, C, H, W)
    fold = C // shift_div
    zeros = x.new_zeros(x.shape[0], 1, fold, H, W)
    from_next = torch.cat([x[:, 1:, :fold], zeros], dim=1)  # channel group 1 takes frame t+1
    from_prev = torch.cat([zeros, x[:, :-1, fold:2 * fold]], dim=1)  # group 2 takes frame t-1
    out = torch.cat([from_next, from_prev, x[:, :, 2 * fold:]], dim=2)
    return out.reshape(NT, C, H, W)


class TemporalShift(nn.Module):
    def __init__(self, shift_div: int = 8) -> None:
        super().__init__()
        self.shift_div = shift_div

    def forward(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        return temporal_shift(x, num_frames, self.shift_div)
