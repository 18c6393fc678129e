"""The "exportable form" of a video model: 3D convolutions, pools and norms rewritten as ops
XNNPACK takes.

Why: ExecuTorch's XNNPACK delegate has no 3D convolution and no 3D pooling, and the portable
kernels it falls back to reject 5-D convolution inputs at runtime ("Expect input tensor to be 3-D
or 4-D"). ``exportable_form`` returns a copy of a model, numerically equal in eval mode, in which
every 3D op is expressed with 2D ops XNNPACK does take. It is applied at export time only; the
models themselves are unchanged.

The math (input ``x`` of shape ``(B, C, T, H, W)``, kernel ``(kt, kh, kw)``, stride ``(st, sh,
sw)``, padding ``(pt, ph, pw)``, dilation ``(dt, dh, dw)``):

- A 3D convolution is a sum over its ``kt`` temporal taps of 2D convolutions. After zero-padding T
  by ``pt`` on both sides, output frame ``t`` reads input frames ``i * dt + st * t`` for the taps
  ``i = 0 .. kt - 1``, so with frames folded into the batch, ``(B * T_out, C, H, W)``,

      y[:, :, t] = bias + sum_i conv2d(x_pad[:, :, i * dt + st * t], W[:, :, i])

  ("taps" form). Stacking the ``kt`` shifted inputs along channels turns the sum into one conv2d
  with a ``(Cout, kt * Cin, kh, kw)`` weight ("stacked" form: one larger GEMM instead of ``kt``
  small ones plus adds; used for dense convs). A conv whose spatial kernel is 1x1 with spatial
  stride 1 and no spatial padding (pointwise convs, X3D's temporal ``(kt, 1, 1)`` conv) is exactly
  a conv2d with kernel ``(kt, 1)`` on the free view ``(B, C, T, H * W)``: no transposes at all.
- A BatchNorm right after a conv (consecutive children of an ``nn.Sequential``, which covers
  ``ConvNormAct``) is folded into the conv (``optimization.fuse``): ``W' = W * s``,
  ``b' = (b - mean) * s + beta`` with ``s = gamma / sqrt(var + eps)``. Any other BatchNorm3d
  becomes ``x * s + (beta - mean * s)`` with ``(C, 1, 1, 1)`` constants (broadcast mul/add,
  which XNNPACK takes).
- 3D pooling windows are boxes, so average and max pooling are separable: a 2D pool over (H, W) on
  the free view ``(B, C * T, H, W)`` (pooling is per channel, so merging C and T is exact), then a
  ``(kt, 1)`` pool on the view ``(B, C, T, H' * W')``. With ``count_include_pad=False`` the divisor
  is still a product of per-dimension counts, so the average stays separable. Adaptive pools whose
  output sizes divide the input sizes are plain pools with kernel = stride = input / output.
- MoViNet's and X3D's squeeze-excite pools a 5-D map with ``mean((2, 3, 4))``; XNNPACK's mean only
  takes 4-D inputs over dims (2, 3), so the rewritten SE pools ``(B, C, T, H * W)`` instead.
- XNNPACK has no LayerNorm: left as is, every transformer block breaks the delegated graph twice
  (MViT-S: 82 delegate calls, slower than eager). ``LayerNormAs4d`` computes it from ops XNNPACK
  takes: the mean over the last dim as a fully-connected product with a constant ``(1, C)`` row
  of ``1/C``, subtract, square, the same product, ``rsqrt``, scale and shift. (An earlier form,
  4-D ``mean`` over an ``(N, 1, 1, C)`` view, cost MViT-S 35 ms of 370 in XNNPACK's reduce
  kernels; the products cost a few ms.) Attention is made explicit for the same reason by
  ``layers.attention.explicit_attention`` while exporting; see ``formats.ExecuTorchFormat``.
- Depthwise 3D convs that shrink each frame spatially (MViT's pooling attention, stride
  ``(1, 4, 4)``) use the ``outshift`` form: each temporal tap convolves all frames once and the
  temporal shift is taken of its (16x smaller) output, instead of padding, slicing and copying
  the large input per tap (MViT-S on ExecuTorch: 375 -> 360 ms).

XNNPACK takes only static parameters as conv weights, so ``Conv3dAs2d`` stores its weight already
in 2D layout (per tap, stacked, or ``(Cout, Cin / g, kt, 1)``); ``Conv3dAs2d.weight`` rebuilds the
5-D tensor for reading. The module keeps ``in_channels``, ``out_channels``, ``kernel_size``,
``stride``, ``padding``, ``dilation`` and ``groups`` (code reading ``conv.stride`` still works).

Typical use::

    ep = torch.export.export(exportable_form(model), (x,))
    assert remaining_3d_ops(ep) == []
"""

from __future__ import annotations

import copy
from collections import Counter
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..layers.squeeze_excite import SqueezeExcite
from ..optimization.fuse import bn_scale_shift, fold_sequential_bns

__all__ = [
    "AdaptivePool3dAs2d",
    "ChannelAffine3d",
    "Conv3dAs2d",
    "ExportableSqueezeExcite",
    "LayerNormAs4d",
    "Pool3dAs2d",
    "exportable_form",
    "exportable_report",
    "remaining_3d_ops",
]

ConvMode = Literal["auto", "taps", "stacked", "outshift"]
_Triple = tuple[int, int, int]


def _triple(v: int | tuple[int, ...], name: str) -> _Triple:
    if isinstance(v, int):
        return (v, v, v)
    t = tuple(int(a) for a in v)
    if len(t) == 1:
        return (t[0],) * 3  # type: ignore[return-value]
    if len(t) != 3:
        raise ValueError(f"{name}: expected an int or 3 ints, got {v!r}")
    return t  # type: ignore[return-value]


def _conv_pads(conv: nn.Conv3d) -> tuple[tuple[int, int], ...]:
    """Per-dim (before, after) zero padding of a Conv3d, resolving 'same' / 'valid'."""
    pad = conv.padding
    if isinstance(pad, str):
        if pad == "valid":
            return ((0, 0),) * 3
        if pad == "same":
            out = []
            for k, d in zip(conv.kernel_size, conv.dilation):
                total = d * (k - 1)
                out.append((total // 2, total - total // 2))  # PyTorch puts the extra one last
            return tuple(out)
        raise ValueError(f"Conv3dAs2d: unknown padding string {pad!r} (expected 'same'/'valid')")
    return tuple((p, p) for p in _triple(pad, "padding"))


def _fold(x: torch.Tensor) -> torch.Tensor:
    """(B, C, T, H, W) -> (B * T, C, H, W)."""
    B, C, T, H, W = x.shape
    return x.transpose(1, 2).reshape(B * T, C, H, W)


def _unfold(y: torch.Tensor, batch: int) -> torch.Tensor:
    """(B * T, C, H, W) -> (B, C, T, H, W)."""
    BT, C, H, W = y.shape
    return y.reshape(batch, BT // batch, C, H, W).transpose(1, 2)


def _take_frames(x: torch.Tensor, start: int, count: int, step: int) -> torch.Tensor:
    """Frames ``start + step * t`` (t < count) of ``x`` ``(B, T, ...)`` along dim 1.

    A stride-1 slice, then (for ``step > 1``) a reshape to ``(B, count, step, ...)`` and a stride-1
    slice of the first of each group: XNNPACK's slice does not take steps. Zero frames are
    appended when the last group runs past the end.
    """
    if step == 1:
        if start == 0 and count == x.shape[1]:
            return x  # a full-range slice exports as alias_copy, which XNNPACK does not take
        return x[:, start:start + count]
    need = start + step * count
    if need > x.shape[1]:
        pad = [0, 0] * (x.dim() - 2) + [0, need - x.shape[1]]
        x = F.pad(x, pad)
    x = x[:, start:need]
    x = x.reshape(x.shape[0], count, step, *x.shape[2:])[:, :, :1]
    return x.reshape(x.shape[0], count, *x.shape[3:])


class Conv3dAs2d(nn.Module):
    """A ``Conv3d`` computed with 2D convolutions (see the module docstring for the math).

    Args:
        conv: the convolution to replace (weights are copied into 2D layout).
        mode: ``"taps"`` (sum of ``kt`` conv2d over shifted frames), ``"stacked"`` (taps stacked
            along channels, one conv2d; groups == 1 only), ``"outshift"`` (each tap's conv2d on
            all frames, the temporal shift applied to its output; temporal stride and dilation
            1 only) or ``"auto"``: the ``(B, C, T, H*W)`` view when the spatial kernel is
            trivial, else stacked for dense convs, outshift for grouped (depthwise) convs that
            shrink the frame spatially (MViT's pooling: the shifted copies are of the small
            output, not the large input), taps for the other grouped ones.

    Raises:
        ValueError: ``padding_mode`` other than ``'zeros'``, an unknown padding string, or
            ``mode="stacked"`` with groups > 1.
    """

    def __init__(self, conv: nn.Conv3d, mode: ConvMode = "auto") -> None:
        super().__init__()
        if conv.padding_mode != "zeros":
            raise ValueError(
                f"Conv3dAs2d: padding_mode={conv.padding_mode!r} is not supported (only 'zeros')"
            )
        if mode not in ("auto", "taps", "stacked", "outshift"):
            raise ValueError(f"Conv3dAs2d: unknown mode {mode!r}")
        self.in_channels = conv.in_channels
        self.out_channels = conv.out_channels
        self.kernel_size: _Triple = tuple(conv.kernel_size)  # type: ignore[assignment]
        self.stride: _Triple = tuple(conv.stride)  # type: ignore[assignment]
        self.padding = conv.padding
        self.dilation: _Triple = tuple(conv.dilation)  # type: ignore[assignment]
        self.groups = conv.groups
        self.padding_mode = "zeros"
        self.pads = _conv_pads(conv)
        kt, kh, kw = self.kernel_size
        (ph0, ph1), (pw0, pw1) = self.pads[1:]
        spatial_trivial = kh == 1 and kw == 1 and self.stride[1:] == (1, 1) and ph0 == ph1 == 0 \
            and pw0 == pw1 == 0
        if mode == "stacked" and self.groups != 1:
            raise ValueError("Conv3dAs2d: mode='stacked' needs groups == 1")
        unit_t = self.stride[0] == 1 and self.dilation[0] == 1
        if mode == "outshift" and not unit_t:
            raise ValueError("Conv3dAs2d: mode='outshift' needs temporal stride and dilation 1")
        if mode == "auto":
            if spatial_trivial:
                mode_used = "temporal"
            elif kt == 1:
                mode_used = "taps"
            elif self.groups == 1:
                mode_used = "stacked"
            else:
                mode_used = "outshift" if unit_t and max(self.stride[1:]) > 1 else "taps"
        else:
            mode_used = mode
        self.mode = mode_used
        w = conv.weight.detach()
        Cout, Cg = w.shape[:2]
        self.weights = nn.ParameterList()
        if mode_used == "temporal":
            self.weights.append(nn.Parameter(w.reshape(Cout, Cg, kt, 1).clone()))
        elif mode_used == "stacked":  # tap-major channels: index i * Cin + c
            self.weights.append(nn.Parameter(
                w.permute(0, 2, 1, 3, 4).reshape(Cout, kt * Cg, kh, kw).clone()))
        else:
            for i in range(kt):
                self.weights.append(nn.Parameter(w[:, :, i].clone()))
        self.bias = None if conv.bias is None else nn.Parameter(conv.bias.detach().clone())

    @property
    def weight(self) -> torch.Tensor:
        """The 5-D ``(Cout, Cin / groups, kt, kh, kw)`` weight, rebuilt from the 2D layout."""
        kt, kh, kw = self.kernel_size
        if self.mode == "temporal":
            w = self.weights[0]
            return w.reshape(*w.shape[:3], 1, 1)
        if self.mode == "stacked":
            w = self.weights[0]
            return w.reshape(w.shape[0], kt, -1, kh, kw).permute(0, 2, 1, 3, 4)
        return torch.stack(list(self.weights), dim=2)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
                f"groups={self.groups}, bias={self.bias is not None}, mode={self.mode}")

    def _out_t(self, T: int) -> int:
        kt, dt, st = self.kernel_size[0], self.dilation[0], self.stride[0]
        pt0, pt1 = self.pads[0]
        return (T + pt0 + pt1 - dt * (kt - 1) - 1) // st + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5:
            raise ValueError(f"Conv3dAs2d: expected (B, C, T, H, W), got shape {tuple(x.shape)}")
        B, C, T, H, W = x.shape
        kt = self.kernel_size[0]
        st, sh, sw = self.stride
        dt, dh, dw = self.dilation
        (pt0, pt1), (ph0, ph1), (pw0, pw1) = self.pads
        T_out = self._out_t(T)
        if self.mode == "temporal":
            y = x.reshape(B, C, T, H * W)
            pad_t: tuple[int, int] = (pt0, 0)
            if pt0 != pt1:
                y = F.pad(y, (0, 0, pt0, pt1))
                pad_t = (0, 0)
            y = F.conv2d(y, self.weights[0], self.bias, (st, 1), pad_t, (dt, 1), self.groups)
            return y.reshape(B, self.out_channels, T_out, H, W)
        if self.mode == "outshift":
            return self._forward_outshift(x, T_out)
        # Fold frames into the batch: (B, T, C, H, W), zero-padded in time.
        xt = x.transpose(1, 2)
        if pt0 or pt1:
            xt = F.pad(xt, (0, 0, 0, 0, 0, 0, pt0, pt1))
        spatial_pad: tuple[int, int] = (ph0, pw0)
        if ph0 != ph1 or pw0 != pw1:
            xt = F.pad(xt, (pw0, pw1, ph0, ph1))
            spatial_pad = (0, 0)
        Hp, Wp = xt.shape[-2:]
        frames = [
            _take_frames(xt, i * dt, T_out, st).reshape(B * T_out, C, Hp, Wp) for i in range(kt)
        ]
        if self.mode == "stacked":
            inp = frames[0] if kt == 1 else torch.cat(frames, dim=1)
            y = F.conv2d(inp, self.weights[0], self.bias, (sh, sw), spatial_pad, (dh, dw),
                         self.groups)
        else:
            y = F.conv2d(frames[0], self.weights[0], self.bias, (sh, sw), spatial_pad, (dh, dw),
                         self.groups)
            for i in range(1, kt):
                y = y + F.conv2d(frames[i], self.weights[i], None, (sh, sw), spatial_pad,
                                 (dh, dw), self.groups)
        return _unfold(y, B)

    def _forward_outshift(self, x: torch.Tensor, T_out: int) -> torch.Tensor:
        """``y[t] = bias + sum_i conv2d_i(x)[t + i - pt0]`` (temporal stride and dilation 1):
        every tap convolves all frames once, unpadded in time, and the shift by ``i - pt0``
        frames (zero frames where it runs past either end) is taken of its output."""
        B, C, T = x.shape[:3]
        (pt0, _), (ph0, ph1), (pw0, pw1) = self.pads
        xf = _fold(x)  # (B * T, C, H, W)
        spatial_pad: tuple[int, int] = (ph0, pw0)
        if ph0 != ph1 or pw0 != pw1:
            xf = F.pad(xf, (pw0, pw1, ph0, ph1))
            spatial_pad = (0, 0)
        y: torch.Tensor | None = None
        for i, w in enumerate(self.weights):
            yi = F.conv2d(xf, w, None, self.stride[1:], spatial_pad, self.dilation[1:],
                          self.groups)
            yi = yi.reshape(B, T, *yi.shape[1:])  # (B, T, Cout, H', W')
            start = i - pt0  # output frame t reads this tap's frame t + start
            lo, hi = max(0, -start), max(0, start + T_out - T)  # zero frames before / after
            first, last = max(0, start), min(T, start + T_out)
            if first > 0 or last < T:
                yi = yi[:, first:last]
            if lo or hi:
                yi = F.pad(yi, (0, 0, 0, 0, 0, 0, lo, hi))
            y = yi if y is None else y + yi
        assert y is not None
        if self.bias is not None:  # after the shifts: zero frames get the bias too
            y = y + self.bias.reshape(1, 1, -1, 1, 1)
        return _unfold(y.reshape(B * T_out, *y.shape[2:]), B)


class ChannelAffine3d(nn.Module):
    """Per-channel ``x * scale + shift`` on ``(B, C, T, H, W)``: an eval-mode BatchNorm3d.

    Args:
        bn: the BatchNorm3d (its running statistics and affine parameters are baked in).

    Raises:
        ValueError: the BatchNorm has no running statistics (eval mode would use batch stats).
    """

    def __init__(self, bn: nn.BatchNorm3d) -> None:
        super().__init__()
        if bn.running_mean is None or bn.running_var is None:
            raise ValueError("ChannelAffine3d: BatchNorm3d without running statistics "
                             "(track_running_stats=False) cannot be frozen for export")
        scale, shift = bn_scale_shift(bn)
        self.num_features = bn.num_features
        self.register_buffer("scale", scale.reshape(-1, 1, 1, 1).clone())
        self.register_buffer("shift", shift.reshape(-1, 1, 1, 1).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift


def _pool_out(n: int, k: int, s: int, p: int, d: int, ceil: bool) -> int:
    num = n + 2 * p - d * (k - 1) - 1
    out = (-(-num // s) if ceil else num // s) + 1
    if ceil and (out - 1) * s >= n + p:  # the last window must start inside the input or left pad
        out -= 1
    return out


class Pool3dAs2d(nn.Module):
    """``AvgPool3d`` / ``MaxPool3d`` as a spatial 2D pool then a temporal ``(kt, 1)`` 2D pool.

    Args:
        pool: the pool to replace.

    Raises:
        ValueError: ``divisor_override`` or ``return_indices`` is set.
    """

    def __init__(self, pool: nn.AvgPool3d | nn.MaxPool3d) -> None:
        super().__init__()
        self.kind = "max" if isinstance(pool, nn.MaxPool3d) else "avg"
        self.kernel_size = _triple(pool.kernel_size, "kernel_size")
        self.stride = _triple(pool.stride if pool.stride is not None else pool.kernel_size,
                              "stride")
        self.padding = _triple(pool.padding, "padding")
        self.ceil_mode = bool(pool.ceil_mode)
        if self.kind == "max":
            if pool.return_indices:
                raise ValueError("Pool3dAs2d: MaxPool3d(return_indices=True) is not supported")
            self.dilation = _triple(pool.dilation, "dilation")
            self.count_include_pad = False
        else:
            if pool.divisor_override is not None:
                raise ValueError("Pool3dAs2d: AvgPool3d(divisor_override=...) is not supported")
            self.dilation = (1, 1, 1)
            self.count_include_pad = bool(pool.count_include_pad)

    def extra_repr(self) -> str:
        return (f"{self.kind}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, ceil_mode={self.ceil_mode}")

    def _pool2d(self, x: torch.Tensor, k: tuple[int, int], s: tuple[int, int],
                p: tuple[int, int], d: tuple[int, int]) -> torch.Tensor:
        if self.kind == "max":
            return F.max_pool2d(x, k, s, p, d, self.ceil_mode)
        if self.count_include_pad and any(p) and not self.ceil_mode:
            # Explicit zero padding: XNNPACK's avg pool does not count padded zeros itself.
            x = F.pad(x, (p[1], p[1], p[0], p[0]))
            return F.avg_pool2d(x, k, s, 0, False, True)
        return F.avg_pool2d(x, k, s, p, self.ceil_mode, self.count_include_pad)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5:
            raise ValueError(f"Pool3dAs2d: expected (B, C, T, H, W), got shape {tuple(x.shape)}")
        B, C, T, H, W = x.shape
        (kt, kh, kw), (st, sh, sw) = self.kernel_size, self.stride
        (pt, ph, pw), (dt, dh, dw) = self.padding, self.dilation
        if (kh, kw, sh, sw, ph, pw) != (1, 1, 1, 1, 0, 0):
            y = self._pool2d(x.reshape(B, C * T, H, W), (kh, kw), (sh, sw), (ph, pw), (dh, dw))
            H, W = y.shape[-2:]
            x = y.reshape(B, C, T, H, W)
        if (kt, st, pt) != (1, 1, 0):
            y = self._pool2d(x.reshape(B, C, T, H * W), (kt, 1), (st, 1), (pt, 0), (dt, 1))
            x = y.reshape(B, C, y.shape[2], H, W)
        return x


class AdaptivePool3dAs2d(nn.Module):
    """``AdaptiveAvgPool3d`` / ``AdaptiveMaxPool3d`` whose output sizes divide the input sizes.

    Such an adaptive pool is a plain pool with kernel = stride = input // output per dim: one
    ``avg_pool2d`` / ``max_pool2d`` on ``(B, C, T, H*W)`` when the spatial output is 1x1 (the
    common ``(t, 1, 1)`` and ``(1, 1, 1)`` cases), else spatial then temporal 2D pools.

    Raises:
        NotImplementedError: (at forward) an output size that does not divide the input size.
        ValueError: ``AdaptiveMaxPool3d(return_indices=True)``.
    """

    def __init__(self, pool: nn.AdaptiveAvgPool3d | nn.AdaptiveMaxPool3d) -> None:
        super().__init__()
        self.kind = "max" if isinstance(pool, nn.AdaptiveMaxPool3d) else "avg"
        if self.kind == "max" and pool.return_indices:
            raise ValueError("AdaptivePool3dAs2d: return_indices=True is not supported")
        size = pool.output_size
        self.output_size = (size,) * 3 if isinstance(size, int) else tuple(size)

    def extra_repr(self) -> str:
        return f"{self.kind}, output_size={self.output_size}"

    def _pool(self, x: torch.Tensor, k: tuple[int, int]) -> torch.Tensor:
        if self.kind == "max":
            return F.max_pool2d(x, k, k)
        return F.avg_pool2d(x, k, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, T, H, W = x.shape
        t, h, w = (n if o is None else o for n, o in zip((T, H, W), self.output_size))
        if T % t or H % h or W % w:
            raise NotImplementedError(
                f"AdaptivePool3dAs2d: output size {(t, h, w)} must divide the input size "
                f"{(T, H, W)} (only then is the adaptive pool a plain 2D pool)"
            )
        kt, kh, kw = T // t, H // h, W // w
        if h == 1 and w == 1:
            if (kt, kh * kw) == (1, 1):
                return x
            return self._pool(x.reshape(B, C, T, H * W), (kt, H * W)).reshape(B, C, t, 1, 1)
        if (kh, kw) != (1, 1):
            x = self._pool(x.reshape(B, C * T, H, W), (kh, kw)).reshape(B, C, T, h, w)
        if kt != 1:
            x = self._pool(x.reshape(B, C, T, h * w), (kt, 1)).reshape(B, C, t, h, w)
        return x


class LayerNormAs4d(nn.Module):
    """``nn.LayerNorm`` over the last dim from fully-connected means, rsqrt and broadcast ops
    (XNNPACK has no layer norm); shares the original's ``weight`` and ``bias``. (The name is
    historical: the first form took 4-D means.)"""

    def __init__(self, ln: nn.LayerNorm) -> None:
        super().__init__()
        if len(ln.normalized_shape) != 1:
            raise ValueError(f"LayerNormAs4d: only a norm over the last dim, got "
                             f"normalized_shape {tuple(ln.normalized_shape)}")
        self.eps = ln.eps
        self.weight, self.bias = ln.weight, ln.bias
        # a constant (1, C) row of 1/C: a static weight XNNPACK's fully-connected kernel takes
        self.register_buffer("avg", torch.full((1, ln.normalized_shape[0]),
                                               1.0 / ln.normalized_shape[0]), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The means over the last dim are matrix-vector products with a (1, C) row of 1/C:
        # XNNPACK's fully-connected kernel reads each row once, faster than its mean over the
        # (2, 3) dims of an (N, 1, 1, C) view.
        centred = x - F.linear(x, self.avg)
        var = F.linear(centred * centred, self.avg)
        y = centred * torch.rsqrt(var + self.eps)
        if self.weight is not None:
            y = y * self.weight
        if self.bias is not None:
            y = y + self.bias
        return y


class ExportableSqueezeExcite(SqueezeExcite):
    """``SqueezeExcite`` (3D) whose global pool is a 4-D mean XNNPACK takes; same parameters."""

    @classmethod
    def from_module(cls, se: SqueezeExcite) -> ExportableSqueezeExcite:
        new = cls.__new__(cls)
        new.__dict__.update(se.__dict__)  # shares the submodules (fc1, act, fc2, gate)
        return new

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5:
            return super().forward(x)
        B, C, T, H, W = x.shape
        pooled = x.reshape(B, C, T, H * W).mean((2, 3), keepdim=True).reshape(B, C, 1, 1, 1)
        return x * self.excite(pooled)


def _replace(module: nn.Module, counts: Counter, conv_mode: ConvMode) -> None:
    for name, child in list(module._modules.items()):
        if child is None:
            continue
        new: nn.Module | None = None
        if isinstance(child, nn.Conv3d):
            new, key = Conv3dAs2d(child, conv_mode), "conv3d"
        elif isinstance(child, nn.BatchNorm3d):
            new, key = ChannelAffine3d(child), "bn_affine"
        elif isinstance(child, (nn.AvgPool3d, nn.MaxPool3d)):
            new, key = Pool3dAs2d(child), "pool3d"
        elif isinstance(child, (nn.AdaptiveAvgPool3d, nn.AdaptiveMaxPool3d)):
            new, key = AdaptivePool3dAs2d(child), "pool3d"
        elif type(child) is SqueezeExcite and child.dims == 3:
            new, key = ExportableSqueezeExcite.from_module(child), "se"
        elif type(child) is nn.LayerNorm:
            new, key = LayerNormAs4d(child), "layer_norm"
        if new is not None:
            module._modules[name] = new
            counts[key] += 1
            child = new
        _replace(child, counts, conv_mode)


def _exportable(model: nn.Module, conv_mode: ConvMode) -> tuple[nn.Module, dict[str, int]]:
    out = copy.deepcopy(model).eval()
    counts: Counter = Counter(conv3d=0, bn_folded=0, bn_affine=0, pool3d=0, se=0, layer_norm=0)
    with torch.no_grad():
        counts["bn_folded"] += fold_sequential_bns(out)
        _replace(out, counts, conv_mode)
    return out, dict(counts)


def exportable_form(model: nn.Module, *, conv_mode: ConvMode = "auto") -> nn.Module:
    """A deep copy of ``model`` in eval mode with every 3D conv / pool / BN rewritten as 2D ops.

    Numerically equal to ``model`` in eval mode (up to float rounding); ``model`` is untouched.

    Args:
        model: any module (a litevid video model, or a part of one).
        conv_mode: ``Conv3dAs2d`` form, ``"auto"`` (per module, the fastest under XNNPACK),
            ``"taps"`` or ``"stacked"``.

    Returns:
        The rewritten copy (eval mode).
    """
    return _exportable(model, conv_mode)[0]


def exportable_report(model: nn.Module, *, conv_mode: ConvMode = "auto") -> dict[str, int]:
    """What ``exportable_form`` replaces in ``model``: counts per kind, for logs.

    Keys: ``conv3d``, ``bn_folded``, ``bn_affine``, ``pool3d``, ``se`` (squeeze-excite pools),
    ``layer_norm``.
    """
    return _exportable(model, conv_mode)[1]


_3D_NAMES = ("avg_pool3d", "max_pool3d", "adaptive_avg_pool3d", "adaptive_max_pool3d",
             "conv3d", "conv_transpose3d", "max_unpool3d", "fractional_max_pool3d", "lp_pool3d")


def remaining_3d_ops(exported_program: torch.export.ExportedProgram) -> list[str]:
    """The ops of an exported graph XNNPACK cannot take because they are 3D.

    Convolutions (and batch norms) with a 5-D input, and any 3D pooling op.

    Returns:
        ``"op_name (node_name): input shape"`` strings; empty when the graph is 2D-only.
    """
    found = []
    for node in exported_program.graph.nodes:
        if node.op != "call_function":
            continue
        name = str(node.target)
        short = name.split(".")[-2] if name.count(".") >= 2 else name
        first = node.args[0] if node.args else None
        val = first.meta.get("val") if isinstance(first, torch.fx.Node) else None
        shape = tuple(val.shape) if isinstance(val, torch.Tensor) else None
        is_3d = any(n in name for n in _3D_NAMES)
        if not is_3d and ("convolution" in short or "batch_norm" in short):
            is_3d = shape is not None and len(shape) == 5
        if is_3d:
            found.append(f"{name} ({node.name}): input {shape}")
    return found
