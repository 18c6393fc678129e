"""Batch-norm folding: ``conv -> BatchNorm`` (eval statistics) becomes one convolution with a bias.

``W' = W * s`` and ``b' = (b - mean) * s + beta`` with ``s = gamma / sqrt(var + eps)``, computed in
float64 and stored in the weight's dtype.

Which BatchNorm follows which convolution is read from the model's data flow, not from module
names: one probe forward (no gradient) records each module's input and output tensors, and a
BatchNorm whose input *is* a convolution's output (the same tensor object, each module called once
per forward) is a foldable pair. This finds the pairs in ``Sequential`` stacks (``ConvNormAct``),
in ``conv1/bn1`` attribute pairs (ResNet bottlenecks) and in ``ModuleList`` pairs (Res2Net)
alike, and never folds a BatchNorm that sits after a pooling, an activation or a sum.
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import torch
import torch.nn as nn

__all__ = ["bn_scale_shift", "find_conv_bn_pairs", "fold_batchnorm", "fold_bn_into_conv",
           "fold_sequential_bns"]

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_BNS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def bn_scale_shift(bn: nn.modules.batchnorm._BatchNorm) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel ``(scale, shift)`` with ``bn(x) == x * scale + shift`` in eval mode."""
    var, mean = bn.running_var.detach().double(), bn.running_mean.detach().double()
    scale = torch.rsqrt(var + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight.detach().double()
    shift = -mean * scale
    if bn.bias is not None:
        shift = shift + bn.bias.detach().double()
    dtype = bn.running_mean.dtype
    return scale.to(dtype), shift.to(dtype)


def fold_bn_into_conv(conv: nn.Module, bn: nn.modules.batchnorm._BatchNorm) -> None:
    """In place: ``conv`` followed by ``bn`` (eval statistics) becomes one conv with a bias."""
    scale, shift = bn_scale_shift(bn)
    w = conv.weight.detach()
    shape = (-1,) + (1,) * (w.dim() - 1)
    conv.weight = nn.Parameter(w * scale.to(w.dtype).reshape(shape),
                               requires_grad=conv.weight.requires_grad)
    b = conv.bias.detach() if conv.bias is not None else torch.zeros_like(scale)
    conv.bias = nn.Parameter((b * scale.to(b.dtype) + shift.to(b.dtype)).to(w.dtype),
                             requires_grad=conv.weight.requires_grad)


def _foldable(conv: nn.Module, bn: nn.Module) -> bool:
    return (isinstance(conv, _CONVS) and isinstance(bn, _BNS)
            and bn.running_mean is not None and bn.running_var is not None
            and conv.out_channels == bn.num_features)


def fold_sequential_bns(module: nn.Module) -> int:
    """Fold ``conv, bn`` neighbours of every ``nn.Sequential`` in ``module`` (no probe needed);
    the BatchNorm becomes ``nn.Identity``. Returns the number folded."""
    folded = 0
    for child in module.modules():
        if not isinstance(child, nn.Sequential):
            continue
        for a, b in itertools.pairwise(list(child._modules)):
            conv, bn = child._modules[a], child._modules[b]
            if _foldable(conv, bn):
                fold_bn_into_conv(conv, bn)
                child._modules[b] = nn.Identity()
                folded += 1
    return folded


def find_conv_bn_pairs(model: nn.Module, *inputs: Any) -> list[tuple[str, str]]:
    """``(conv_name, bn_name)`` pairs where the BatchNorm's input is the conv's output.

    Runs ``model(*inputs)`` once under ``torch.no_grad`` with forward hooks. A module called more
    than once per forward (shared weights) is never paired.
    """
    names = {m: n for n, m in model.named_modules()}
    calls: Counter = Counter()
    conv_out: dict[int, nn.Module] = {}
    bn_in: dict[nn.Module, int] = {}
    keep: list[torch.Tensor] = []  # keeps the probed tensors alive, so ids stay unique

    def on_conv(mod: nn.Module, args: tuple, out: torch.Tensor) -> None:
        calls[mod] += 1
        keep.append(out)
        conv_out[id(out)] = mod

    def on_bn(mod: nn.Module, args: tuple, out: torch.Tensor) -> None:
        calls[mod] += 1
        keep.append(args[0])
        bn_in[mod] = id(args[0])

    hooks = [m.register_forward_hook(on_conv if isinstance(m, _CONVS) else on_bn)
             for m in model.modules() if isinstance(m, _CONVS + _BNS)]
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        for h in hooks:
            h.remove()
    pairs = []
    for bn, tid in bn_in.items():
        conv = conv_out.get(tid)
        if conv is not None and calls[conv] == 1 and calls[bn] == 1 and _foldable(conv, bn):
            pairs.append((names[conv], names[bn]))
    return pairs


def _set(model: nn.Module, name: str, new: nn.Module) -> None:
    parent, _, leaf = name.rpartition(".")
    owner = model.get_submodule(parent) if parent else model
    owner._modules[leaf] = new


def fold_batchnorm(model: nn.Module, *inputs: Any) -> int:
    """Fold every BatchNorm that directly follows a convolution, in place; returns the count.

    The model must be in eval mode (folding freezes the running statistics). ``inputs`` are an
    example forward's arguments for the data-flow probe (any batch; the model's own input size).
    """
    if model.training:
        raise ValueError("fold_batchnorm: put the model in eval mode first (folding freezes the "
                         "BatchNorm running statistics)")
    pairs = find_conv_bn_pairs(model, *inputs)
    with torch.no_grad():
        for conv_name, bn_name in pairs:
            fold_bn_into_conv(model.get_submodule(conv_name), model.get_submodule(bn_name))
            _set(model, bn_name, nn.Identity())
    return len(pairs)
