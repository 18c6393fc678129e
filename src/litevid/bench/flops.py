"""FLOP counting on ``torch.utils.flop_counter.FlopCounterMode``.

Convention: **1 multiply-add = 1 FLOP** (GMACs), as in the video literature (fvcore, SlowFast,
mmaction2, MODELS.md). ``FlopCounterMode`` counts a multiply-add as 2; we halve it. Convolutions,
matmuls/linear layers and attention are counted; norms, activations and pooling are not.

PyTorch's counter knows the CUDA attention kernels but not the CPU flash kernel that
``F.scaled_dot_product_attention`` dispatches to on CPU; we register it here (forward and
backward) so attention is counted on every device. Its convolution backward counts the weight
gradient of a grouped convolution as if the convolution were dense (``groups`` times too much:
X3D-XS's training step at batch 8, 16x224, came out at 933 GMACs against a 38 GMAC forward);
we register the grouped count (113 GMACs, about 3x the forward, as for dense models). Counting on the ``meta`` device
needs no memory, so even TimeSformer at 16x224x224 is counted instantly.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn as nn
from torch.utils import flop_counter as _fc

__all__ = ["count_flops", "FlopCount"]

_aten = torch.ops.aten


def _register_cpu_sdpa() -> None:
    fwd = _aten._scaled_dot_product_flash_attention_for_cpu
    bwd = _aten._scaled_dot_product_flash_attention_for_cpu_backward
    if fwd in _fc.flop_registry:  # a later torch may ship it
        return

    @_fc.register_flop_formula(fwd)
    def _sdpa_cpu_flop(query, key, value, *args: Any, out_shape=None, **kwargs: Any) -> int:
        return _fc.sdpa_flop_count(query, key, value)

    @_fc.register_flop_formula(bwd)
    def _sdpa_cpu_backward_flop(
        grad_out, query, key, value, *args: Any, out_shape=None, **kwargs: Any
    ) -> int:
        return _fc.sdpa_backward_flop_count(grad_out, query, key, value)


_register_cpu_sdpa()


def _register_grouped_conv_backward() -> None:
    dense = _fc.flop_registry[_aten.convolution_backward]
    if getattr(dense, "litevid_grouped", False):  # this module imported twice
        return

    def _conv_backward_flop(grad_out_shape, x_shape, w_shape, bias, stride, padding, dilation,
                            transposed, output_padding, groups, output_mask, out_shape,
                            **kwargs: Any) -> int:
        args = (grad_out_shape, x_shape, w_shape, bias, stride, padding, dilation, transposed,
                output_padding, groups)
        grad_input = dense(*args, [output_mask[0], False, False], out_val=out_shape) \
            if output_mask[0] else 0
        # the weight gradient: each group convolves only its own input channels
        grad_weight = dense(*args, [False, output_mask[1], False], out_val=out_shape) // groups \
            if output_mask[1] else 0
        return grad_input + grad_weight

    fixed = _fc.shape_wrapper(_conv_backward_flop)
    fixed.litevid_grouped = True  # type: ignore[attr-defined]
    _fc.flop_registry[_aten.convolution_backward] = fixed  # replaces torch's dense count


_register_grouped_conv_backward()


class FlopCount(dict):
    """Per-operator multiply-add counts; ``.total`` and ``.gflops`` follow the MAC convention."""

    @property
    def total(self) -> int:
        return sum(self.values())

    @property
    def gflops(self) -> float:
        return self.total / 1e9


def count_flops(
    model: nn.Module,
    input_shape: Sequence[int],
    *,
    backward: bool = False,
    device: str | torch.device | None = None,
) -> FlopCount:
    """Count the multiply-adds of one forward (optionally + backward) pass.

    Args:
        model: any module taking one tensor; built on ``meta`` to count without allocating.
        input_shape: full input shape including batch, e.g. ``(1, 3, 16, 224, 224)``.
        backward: also count the backward pass of ``output.sum()``.
        device: device of the synthetic input; defaults to the model's parameter device.

    Returns:
        ``FlopCount`` mapping operator name to multiply-adds (1 MAC = 1 FLOP).
    """
    if device is None:
        p = next(model.parameters(), None)
        device = p.device if p is not None else torch.device("cpu")
    x = torch.zeros(tuple(input_shape), device=device)
    counter = _fc.FlopCounterMode(display=False)
    was_training = model.training
    if not backward:
        model.eval()
    try:
        with counter:
            if backward:
                out = model(x)
                out = out if torch.is_tensor(out) else sum(o.sum() for o in out.values())
                out.sum().backward()
            else:
                with torch.no_grad():
                    model(x)
    finally:
        model.train(was_training)
    counts = counter.get_flop_counts().get("Global", {})
    return FlopCount({str(op).split(".")[-1]: int(n) // 2 for op, n in counts.items()})
