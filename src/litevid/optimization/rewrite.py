"""Rewrites that keep the function and run it on faster CPU paths (used by ``optimize``).

- ``inplace_activations``: an activation inside an ``nn.Sequential`` whose input is the fresh
  output of the convolution (or linear / norm) just before it (``nn.Identity`` children, e.g. a
  folded BatchNorm, in between are skipped) overwrites that tensor instead of allocating a new
  one. Only ``Sequential`` chains qualify: there the intermediate tensor reaches nothing but the
  next child, so nobody else can see it change. (An activation called on a tensor that a
  ``forward`` also uses elsewhere, e.g. a residual sum, is never touched.)
- ``ops_via_2d``: a ``Conv3d`` or a 3D pooling with a temporal kernel of 1 (the ``(1, 3, 3)``
  stems of X3D and MoViNet, every pointwise conv, MoViNet's ``(1, k, k)`` depthwise convs and
  its ``(1, 3, 3)`` shortcut pooling, the ResNet-3D max pool) runs as one 2D op over the frames
  folded into the batch, and a ``Conv3d`` with a ``(kt, 1, 1)`` kernel as a ``(kt, 1)`` conv2d on
  the ``(B, C, T, H*W)`` view (``Conv3dVia2d``, ``Pool3dVia2d``). In channels-last these views
  are free and the 2D kernels keep channels-last; several 3D paths do not. Measured on the
  2-core EPYC (fp32, 16x224, torch 2.13): the 3-channel stem conv of X3D-XS took 7.9 ms as a
  channels-last ``Conv3d`` (PyTorch's ``slow_conv3d`` path) and 2.0 ms as ``Conv3dVia2d``, and
  ``slow_conv3d`` returned a *contiguous* map, so every later layer of X3D ran contiguous (or
  paid a copy back) although its weights were channels-last; pointwise ``Conv3d`` with few
  input channels (MoViNet's 8 -> 24) and ``AvgPool3d`` also return contiguous maps. As 2D ops
  they are level or faster (8 -> 24 at 16x112x112: 2.5 ms as ``Conv3d``, 1.1 ms as conv2d).
- ``onednn_linears`` (CPU): ``nn.Linear`` runs on oneDNN's matmul
  (``torch.ops.mkldnn._linear_pointwise``) instead of the BLAS ``addmm``, in training with a
  backward of oneDNN matmuls too; for inference the GELU of a transformer MLP is fused into its
  first linear. Measured on the 2-core AMD EPYC (fp32, torch 2.13 with MKL 2024.2): DeiT-S
  shapes at 16 frames x 197 tokens, 384 -> 1152 took 15.4 ms in ``F.linear`` and 6.8 ms in
  oneDNN, 1536 -> 384 20.3 and 9.2 ms; MKL does not take its fastest kernels on AMD CPUs,
  oneDNN's JIT kernels do. A training step of 384 -> 1536 (forward and backward): 63 ms with
  aten, 34 ms with oneDNN. On an Intel CPU the two are closer; the rewrite never changes the
  function (max |diff| ~1e-5 of the output in fp32).
"""

from __future__ import annotations

from collections import Counter
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..layers.frames import fold_frames, unfold_frames
from ..layers.mlp import Mlp

__all__ = ["Conv3dVia2d", "OneDNNLinear", "Pool3dVia2d", "inplace_activations", "onednn_linears",
           "ops_via_2d"]

# Activations with an ``inplace`` flag whose in-place form computes the same values.
_INPLACE_ACTS = (nn.ReLU, nn.ReLU6, nn.SiLU, nn.Hardswish, nn.Hardsigmoid, nn.LeakyReLU, nn.ELU,
                 nn.Hardtanh)
# Modules whose output is a new tensor (never a view of their input or of a parameter).
_FRESH = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear, nn.modules.batchnorm._BatchNorm,
          nn.LayerNorm, nn.GroupNorm)


def inplace_activations(model: nn.Module) -> int:
    """Set ``inplace=True`` on every activation that only overwrites a fresh intermediate tensor
    of a ``Sequential`` chain (see the module docstring); returns how many were switched.

    For inference only: autograd may need the activation's input for the backward pass.
    """
    registered = Counter(id(m) for _, m in model.named_modules(remove_duplicate=False))
    switched = 0
    for seq in model.modules():
        if not isinstance(seq, nn.Sequential):
            continue
        children = list(seq.children())
        for i, act in enumerate(children):
            if not isinstance(act, _INPLACE_ACTS) or act.inplace or registered[id(act)] > 1:
                continue  # a module registered twice may also be called on a shared tensor
            j = i - 1
            while j >= 0 and isinstance(children[j], nn.Identity):
                j -= 1
            if j >= 0 and isinstance(children[j], _FRESH):
                act.inplace = True
                switched += 1
    return switched


def _per_frame(x: torch.Tensor, temporal_stride: int,
               op: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """The 2D ``op`` on every ``temporal_stride``-th frame of a ``(B, C, T, H, W)`` map, folded
    into the batch and back (free views when ``x`` is channels-last)."""
    if temporal_stride > 1:
        x = x[:, :, ::temporal_stride]
    return unfold_frames(op(fold_frames(x)), x.shape[2]).transpose(1, 2)


class Conv3dVia2d(nn.Conv3d):
    """A ``Conv3d`` with a trivial temporal or spatial part, computed with a 2D kernel on a free
    view of its input. ``route`` (fixed at build time):

    - ``"frames"``: temporal kernel 1, no temporal padding: one ``conv2d`` over all frames
      folded into the batch (temporal stride: a strided view of the frames);
    - ``"time"``: spatial kernel 1x1, spatial stride 1, no spatial padding (X3D's ``(5, 1, 1)``
      stem conv): one ``conv2d`` with a ``(kt, 1)`` kernel on the ``(B, C, T, H*W)`` view, which
      is itself channels-last when the input is;
    - and at run time, without autograd, a pointwise conv (kernel 1, stride 1, one group) on a
      channels-last CPU map is the matmul it is (oneDNN, over the ``(B, T, H, W, C)`` view).

    PyTorch's conv dispatch sends some of these convs (1x1 or ``(k, 1, 1)`` kernels at a small
    batch on one thread, 3-channel stems) to native kernels that are slower and return a
    *contiguous* map. The parameters are the ``Conv3d``'s own (same names and 5-D shapes, so
    state dicts are unchanged). Built by ``from_conv``; exact up to the kernels' summation order.
    """

    route: str = "frames"

    @staticmethod
    def route_for(conv: nn.Module) -> str | None:
        if (type(conv) is not nn.Conv3d or isinstance(conv.padding, str)
                or conv.padding_mode != "zeros"):
            return None
        if conv.kernel_size[0] == 1 and conv.padding[0] == 0:
            return "frames"
        if conv.kernel_size[1:] == (1, 1) and conv.stride[1:] == (1, 1) \
                and conv.padding[1:] == (0, 0):
            return "time"
        return None

    @classmethod
    def supports(cls, conv: nn.Module) -> bool:
        return cls.route_for(conv) is not None

    @classmethod
    def from_conv(cls, conv: nn.Conv3d) -> Conv3dVia2d:
        route = cls.route_for(conv)
        if route is None:
            raise ValueError("Conv3dVia2d: needs a Conv3d with kernel (1, kh, kw) and no temporal "
                             "padding, or kernel (kt, 1, 1) with spatial stride 1 and no spatial "
                             f"padding, and padding_mode='zeros'; got {conv}")
        new = _share_parameters(cls, conv)
        new.route = route
        return new  # type: ignore[return-value]

    def extra_repr(self) -> str:
        return super().extra_repr() + f", route={self.route}"

    def _as_matmul(self, x: torch.Tensor) -> bool:
        # Not under autograd: the result is a view, and a view of a custom autograd function's
        # output may not be modified in place (the in-place ReLUs of X3D and ResNets).
        if torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad):
            return False
        return (self.kernel_size == (1, 1, 1) and self.stride == (1, 1, 1) and self.groups == 1
                and x.device.type == "cpu" and x.dtype in (torch.float32, torch.bfloat16)
                and torch.backends.mkldnn.is_available()
                and x.permute(0, 2, 3, 4, 1).is_contiguous())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._as_matmul(x):  # pointwise on a channels-last map: a matmul over the channels
            w = self.weight.reshape(self.out_channels, self.in_channels)
            y = _onednn_matmul(x.permute(0, 2, 3, 4, 1), w, self.bias)  # (B, T, H, W, Cout)
            return y.permute(0, 4, 1, 2, 3)  # channels-last (B, Cout, T, H, W)
        if self.route == "time":
            B, C, T, H, W = x.shape
            if x.is_contiguous(memory_format=torch.channels_last_3d):
                # the (B, C, T, H*W) channels-last view, with every stride spelt out (a reshape
                # leaves a size-1 batch a stride that hides the layout from the conv)
                xv = x.as_strided((B, C, T, H * W), (T * H * W * C, 1, H * W * C, C))
            else:
                xv = x.reshape(B, C, T, H * W)
            y = F.conv2d(xv, self.weight[..., 0], self.bias,
                         (self.stride[0], 1), (self.padding[0], 0), (self.dilation[0], 1),
                         self.groups)
            return y.reshape(B, self.out_channels, y.shape[2], H, W)
        return _per_frame(x, self.stride[0], lambda f: F.conv2d(
            f, self.weight[:, :, 0], self.bias, self.stride[1:], self.padding[1:],
            self.dilation[1:], self.groups))


class Pool3dVia2d(nn.Module):
    """An ``AvgPool3d`` / ``MaxPool3d`` with temporal kernel 1 and no temporal padding, computed
    as one 2D pooling over all frames (temporal stride: a strided view of the frames)."""

    def __init__(self, pool: nn.AvgPool3d | nn.MaxPool3d) -> None:
        super().__init__()
        if not self.supports(pool):
            raise ValueError(f"Pool3dVia2d: needs a 3D pooling with kernel (1, kh, kw), got {pool}")
        k, st, pad = (_triple(getattr(pool, a)) for a in ("kernel_size", "stride", "padding"))
        self.kind = "max" if isinstance(pool, nn.MaxPool3d) else "avg"
        self.kernel_size, self.stride, self.padding = k[1:], st[1:], pad[1:]
        self.temporal_stride = st[0]
        self.ceil_mode = pool.ceil_mode
        self.count_include_pad = getattr(pool, "count_include_pad", True)
        self.divisor_override = getattr(pool, "divisor_override", None)

    @staticmethod
    def supports(pool: nn.Module) -> bool:
        if type(pool) is nn.MaxPool3d:
            if pool.return_indices or _triple(pool.dilation) != (1, 1, 1):
                return False
        elif type(pool) is not nn.AvgPool3d:
            return False
        return _triple(pool.kernel_size)[0] == 1 and _triple(pool.padding)[0] == 0

    def extra_repr(self) -> str:
        return (f"{self.kind}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, temporal_stride={self.temporal_stride}")

    def _pool2d(self, f: torch.Tensor) -> torch.Tensor:
        if self.kind == "max":
            return F.max_pool2d(f, self.kernel_size, self.stride, self.padding,
                                ceil_mode=self.ceil_mode)
        return F.avg_pool2d(f, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _per_frame(x, self.temporal_stride, self._pool2d)


def _triple(v: int | tuple[int, ...]) -> tuple[int, int, int]:
    return (v, v, v) if isinstance(v, int) else tuple(v)  # type: ignore[return-value]


def ops_via_2d(model: nn.Module) -> int:
    """Replace every ``Conv3d`` that ``Conv3dVia2d.supports`` and every pooling that
    ``Pool3dVia2d.supports``, in place; returns the count."""
    def convert(child: nn.Module) -> nn.Module | None:
        if Conv3dVia2d.supports(child):
            return Conv3dVia2d.from_conv(child)
        return Pool3dVia2d(child) if Pool3dVia2d.supports(child) else None

    return _swap_children(model, convert)


def _swap_children(model: nn.Module, convert: Callable[[nn.Module], nn.Module | None]) -> int:
    """Replace, in place, every submodule for which ``convert`` returns a module; the count."""
    count = 0
    for parent in model.modules():
        for name, child in list(parent._modules.items()):
            new = None if child is None else convert(child)
            if new is not None:
                parent._modules[name] = new
                count += 1
    return count


def _share_parameters(cls: type[nn.Module], module: nn.Module) -> nn.Module:
    """A ``cls`` instance with ``module``'s attributes and the very same parameters (subclass
    swaps keep state-dict names and shapes)."""
    new = cls.__new__(cls)
    nn.Module.__init__(new)
    new.__dict__.update({k: v for k, v in module.__dict__.items()
                         if k not in ("_parameters", "_buffers", "_modules")})
    new._parameters = dict(module._parameters)
    new._buffers, new._modules = dict(module._buffers), dict(module._modules)
    return new


def _onednn_matmul(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None,
                   post_op: str = "none", algorithm: str = "") -> torch.Tensor:
    """``x @ w.T + b`` (then ``post_op``) on oneDNN's matmul; ``x`` may be N-D and strided."""
    return torch.ops.mkldnn._linear_pointwise(x, w, b, post_op, [], algorithm)


class _OneDNNLinearFn(torch.autograd.Function):
    """``F.linear`` with oneDNN matmuls forward and backward (``grad_x = g @ W``,
    ``grad_W = g.T @ x``, ``grad_b = sum g``): the same arithmetic as aten's, other kernels."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        ctx.save_for_backward(x, w)
        ctx.has_bias = b is not None
        return _onednn_matmul(x, w, b)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, w = ctx.saved_tensors
        g2, x2 = grad.reshape(-1, grad.shape[-1]), x.reshape(-1, x.shape[-1])
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = _onednn_matmul(g2, w.t().contiguous()).reshape(x.shape)
        if ctx.needs_input_grad[1]:
            gw = _onednn_matmul(g2.t(), x2.t().contiguous())
        if ctx.has_bias and ctx.needs_input_grad[2]:
            gb = g2.sum(0)
        return gx, gw, gb


class OneDNNLinear(nn.Linear):
    """``nn.Linear`` on oneDNN's CPU matmul, with an optional fused ``post_op`` (``"gelu"``).

    Built by ``from_linear`` (same parameters). Where autograd needs a graph (a parameter or the
    input requires grad under grad mode) forward and backward both run oneDNN matmuls
    (``_OneDNNLinearFn``; a ``post_op`` is then applied separately, as autograd needs its input).
    """

    post_op: str = "none"
    algorithm: str = ""  # GELU approximation for post_op="gelu": "none" or "tanh"

    @classmethod
    def supports(cls, linear: nn.Module) -> bool:
        return (type(linear) is nn.Linear and torch.backends.mkldnn.is_available()
                and linear.weight.device.type == "cpu"
                and linear.weight.dtype in (torch.float32, torch.bfloat16))

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> OneDNNLinear:
        if not cls.supports(linear):
            raise ValueError(f"OneDNNLinear: needs an nn.Linear on a CPU with oneDNN, got {linear}")
        return _share_parameters(cls, linear)  # type: ignore[return-value]

    def extra_repr(self) -> str:
        fused = f", post_op={self.post_op}" if self.post_op != "none" else ""
        return super().extra_repr() + fused

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad):
            y = _OneDNNLinearFn.apply(x, self.weight, self.bias)
            return F.gelu(y, approximate=self.algorithm or "none") if self.post_op == "gelu" else y
        return _onednn_matmul(x, self.weight, self.bias, self.post_op, self.algorithm)


def onednn_linears(model: nn.Module, *, fuse_gelu: bool = True) -> tuple[int, int]:
    """Swap every plain ``nn.Linear`` for ``OneDNNLinear`` and, with ``fuse_gelu``, fuse each
    transformer MLP's GELU (``layers.Mlp``: ``fc1 -> GELU -> fc2``) into ``fc1`` (replacing
    ``Mlp.act`` by ``nn.Identity``); returns ``(linears, fused_gelus)``. Training keeps the GELU
    (``fuse_gelu=False``: the fused form has no backward of its own)."""
    count = _swap_children(model, lambda child: OneDNNLinear.from_linear(child)
                           if OneDNNLinear.supports(child) else None)
    fused = 0
    for m in model.modules() if fuse_gelu else ():
        if (isinstance(m, Mlp) and isinstance(m.fc1, OneDNNLinear) and type(m.act) is nn.GELU
                and m.fc1.post_op == "none"):
            m.fc1.post_op, m.fc1.algorithm = "gelu", m.act.approximate
            m.act = nn.Identity()
            fused += 1
    return count, fused
