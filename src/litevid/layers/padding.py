"""TensorFlow "SAME" padding for convolutions and average pooling, as parameter-free modules.

TF's ``padding="SAME"`` gives an output of ``ceil(n / stride)`` and puts the padding this needs
``max((out - 1) * stride + k - n, 0)`` half before, half after, the odd one *after*. For a stride-1
odd kernel that is PyTorch's symmetric ``k // 2``; for a strided one it depends on the input size:
kernel 3, stride 2 pads an even size ``(0, 1)`` and an odd one ``(1, 1)``; kernel 5, stride 2 pads
``(1, 2)`` and ``(2, 2)``. So the windows of a TF-trained strided conv sit one pixel off those of
a symmetrically padded one, and a TF-trained network (MoViNet's TF Hub checkpoints) run with
symmetric padding shifts its activations at every strided layer. TF's SAME *average* pool also
divides by the number of valid (non-padding) values of each window.

``TFSamePad`` pads before a conv that itself has no padding on those dims; ``TFSameAvgPool3d``
wraps a plain ``nn.AvgPool3d`` (padding 0) with the pads and the divisor correction, so rewrites
that swap ``nn.AvgPool3d`` for 2D pooling (the exporter's, the optimizer's) still find it. Pads
come from the input's static shape only (Python arithmetic on sizes): exportable to ONNX,
ExecuTorch and TorchScript, no data-dependent control flow.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["TFSameAvgPool3d", "TFSamePad", "tf_same_pads", "tf_same_pad_list"]


def tf_same_pads(size: int, kernel: int, stride: int = 1, dilation: int = 1) -> tuple[int, int]:
    """``(before, after)`` zero padding of TF "SAME" along one dimension of ``size``.

    The output is ``ceil(size / stride)``; the padding that needs is split with the odd one after.
    """
    if size < 1 or kernel < 1 or stride < 1 or dilation < 1:
        raise ValueError(f"tf_same_pads: size, kernel, stride, dilation must be >= 1; got "
                         f"{size}, {kernel}, {stride}, {dilation}")
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def tf_same_pad_list(sizes: Sequence[int], kernel: Sequence[int],
                     stride: Sequence[int]) -> list[int]:
    """``F.pad`` argument (last dim first) for TF "SAME" over the trailing dims ``sizes``."""
    out: list[int] = []
    for n, k, s in reversed(list(zip(sizes, kernel, stride))):
        out += tf_same_pads(int(n), k, s)
    return out


class TFSamePad(nn.Module):
    """Zero-pad the last ``len(kernel_size)`` dims as TF "SAME" does for that kernel and stride.

    Put it before a conv (or pool) that has no padding of its own on those dims. Parameter-free,
    so inserting or removing it leaves a state dict unchanged.

    Args:
        kernel_size: kernel of the following op over the trailing dims, e.g. ``(kh, kw)``.
        stride: its stride over the same dims.
    """

    def __init__(self, kernel_size: Sequence[int], stride: Sequence[int]) -> None:
        super().__init__()
        if len(kernel_size) != len(stride):
            raise ValueError(f"TFSamePad: kernel_size {tuple(kernel_size)} and stride "
                             f"{tuple(stride)} need the same length")
        self.kernel_size = tuple(int(k) for k in kernel_size)
        self.stride = tuple(int(s) for s in stride)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"

    def pads(self, shape: Sequence[int]) -> list[int]:
        """The ``F.pad`` argument for an input of ``shape`` (static sizes)."""
        return tf_same_pad_list(shape[len(shape) - len(self.kernel_size):], self.kernel_size,
                                self.stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = self.pads(x.shape)
        return F.pad(x, pads) if any(pads) else x


class TFSameAvgPool3d(nn.Module):
    """3D average pooling with TF "SAME" padding, the padding excluded from each window's count.

    ``pool`` is a plain ``nn.AvgPool3d`` with no padding (count includes pad, the default): the
    input is zero-padded first, pooled, and divided by the share of valid values of each window,
    itself the same pool of a padded map of ones (``sum / k`` over ``valid / k`` = ``sum /
    valid``, TF's divisor). The map of ones keeps only the dims that are padded (size ``k`` on
    the others), so it costs a few output rows, not a second pool of the input.

    Args:
        kernel_size: ``(kt, kh, kw)``.
        stride: ``(st, sh, sw)``.
    """

    def __init__(self, kernel_size: Sequence[int], stride: Sequence[int]) -> None:
        super().__init__()
        if len(kernel_size) != 3 or len(stride) != 3:
            raise ValueError(f"TFSameAvgPool3d: needs 3 kernel sizes and strides, got "
                             f"{tuple(kernel_size)}, {tuple(stride)}")
        self.kernel_size = tuple(int(k) for k in kernel_size)
        self.stride = tuple(int(s) for s in stride)
        self.pool = nn.AvgPool3d(self.kernel_size, self.stride, padding=0)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sizes = [int(n) for n in x.shape[2:]]
        per_dim = [tf_same_pads(n, k, s) for n, k, s in zip(sizes, self.kernel_size, self.stride)]
        pads = [v for p in reversed(per_dim) for v in p]  # F.pad order: last dim first
        if not any(pads):
            return self.pool(x)
        y = self.pool(F.pad(x, pads))
        # the map of ones: the real size on padded dims, one window (a uniform count) elsewhere
        ones = x.new_ones([1, 1] + [n if any(p) else k
                                    for n, k, p in zip(sizes, self.kernel_size, per_dim)])
        share = self.pool(F.pad(ones, pads))  # valid / (kt * kh * kw) per window
        return y / share
