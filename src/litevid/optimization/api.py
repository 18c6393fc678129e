"""``litevid.optimize``: the same function as a model, in its fastest form for a device.

What it does, in order (each step is exact up to float rounding; ``OptimizeReport`` says what was
applied):

1. **Batch-norm folding** (``for_="inference"`` only): every BatchNorm that directly follows a
   convolution is folded into it (``fuse.fold_batchnorm``). Training keeps its BatchNorms.
2. **Temporal shift in one pass**: TSM's shift writes one new tensor instead of zero blocks plus
   three concatenations, with a one-pass backward (``TemporalShift.single_copy``); for inference
   TEA's learnable shift runs as per-channel multiply-adds of neighbouring frames
   (``TemporalConvShift.elementwise``), which keeps the layout its ``(B*H*W, C, T)`` conv form
   loses.
3. **3D ops via 2D** (CPU, channels-last models): a ``Conv3d`` or 3D pooling with temporal
   kernel 1 (stems, pointwise convs, spatial pools) runs as one 2D op over the folded frames, a
   ``(kt, 1, 1)`` conv as a 2D conv on the ``(B, C, T, H*W)`` view (``rewrite.ops_via_2d``),
   which keeps the channels-last layout that several 3D paths (``slow_conv3d``, ``AvgPool3d``,
   native 1x1 kernels) drop.
4. **In-place activations** (``for_="inference"`` only): an activation that follows a conv /
   linear / norm inside a ``Sequential`` overwrites that fresh tensor (``rewrite.
   inplace_activations``) instead of allocating one more feature map.
5. **oneDNN linears** (CPU): every ``nn.Linear`` runs on oneDNN's matmul (in training its
   backward too), for inference with the transformer MLP's GELU fused into its first linear
   (``rewrite.onednn_linears``; on the AMD EPYC here oneDNN's matmul is 2.2x faster than MKL's
   ``addmm`` for DeiT-S shapes).
6. **Memory layout** by a measured rule (``choose_layout``): channels-last (``channels_last_3d``
   for 5-D tensors, ``channels_last`` for 4-D ones) when convolutions hold at least
   ``CONV_SHARE_FOR_CHANNELS_LAST`` of the model's multiply-adds; attention-only models stay
   contiguous. The rule was measured on CPU and is applied there only: on CUDA models stay
   contiguous unless ``layout="channels_last"``. The input is converted inside ``forward`` (that
   copy is part of every measurement).
7. **Attention** already runs on ``F.scaled_dot_product_attention`` everywhere (``layers.sdpa``),
   which picks the fused flash / memory-efficient kernels on CUDA and the flash kernel on CPU; the
   report records it, nothing is rewritten.
8. Optional ``torch.compile`` (inductor, CPU and CUDA) and, for single-clip inference on CUDA,
   CUDA graphs (``devices.cuda.CudaGraphReplay``: one capture per input shape, replayed; inputs
   made inside or outside ``inference_mode`` are copied into the captured buffer).

The result is an ``OptimizedModel`` wrapping a deep copy (the model passed in is not changed,
unless ``inplace=True``).
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import torch
import torch.nn as nn

from .fuse import fold_batchnorm
from .rewrite import inplace_activations, onednn_linears, ops_via_2d

__all__ = ["CONV_SHARE_FOR_CHANNELS_LAST", "LAYOUT_RULE_MEASURED_ON", "OptimizeReport",
           "OptimizedModel", "choose_layout", "conv_share", "optimize"]

# The layout rule's threshold. Measured on a 2-core EPYC (fp32, 16x224, single clip, eager):
# every model whose convolutions hold more than half of its multiply-adds was faster in
# channels-last, every attention-only model was not (docs/optimize.md has the table and the
# command that reproduces it).
CONV_SHARE_FOR_CHANNELS_LAST = 0.5
LAYOUT_RULE_MEASURED_ON = ("cpu",)  # device types the rule was measured on
FOR_CHOICES = ("inference", "training")


@dataclass
class OptimizeReport:
    """What ``optimize`` applied (stored with ``litevid bench --optimize`` rows)."""

    for_: str
    device: str
    bn_folded: int = 0
    shift_single_copy: int = 0
    ops_via_2d: int = 0
    inplace_acts: int = 0
    onednn_linears: int = 0
    fused_gelus: int = 0
    conv_share: float = 0.0
    layout: str = "contiguous"
    attention: str = "F.scaled_dot_product_attention (fused kernels)"
    compile: bool = False
    cuda_graphs: bool = False
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        parts = [f"{self.bn_folded} BN folded" if self.bn_folded else "",
                 f"{self.shift_single_copy} shifts in one pass" if self.shift_single_copy else "",
                 f"{self.ops_via_2d} ops via 2D" if self.ops_via_2d else "",
                 f"{self.inplace_acts} in-place acts" if self.inplace_acts else "",
                 f"{self.onednn_linears} oneDNN linears" if self.onednn_linears else "",
                 f"{self.fused_gelus} fused GELUs" if self.fused_gelus else "",
                 self.layout.replace("_", "-"), "compiled" if self.compile else "",
                 "CUDA graphs" if self.cuda_graphs else ""]
        return ", ".join(p for p in parts if p)


def conv_share(model: nn.Module, input_shape: tuple[int, ...]) -> float:
    """Share of the multiply-adds of one forward at ``input_shape`` spent in convolutions
    (counted on a meta-device copy: no memory, no compute)."""
    from ..bench.flops import count_flops

    meta = copy.deepcopy(model).to("meta").float()  # count_flops feeds a float32 input
    counts = count_flops(meta, input_shape, device="meta")
    total = counts.total
    return counts.get("convolution", 0) / total if total else 0.0


def choose_layout(share: float, device_type: str) -> str:
    """``channels_last`` or ``contiguous`` for a model with ``share`` of its FLOPs in convs.

    The rule is applied only where it was measured (``LAYOUT_RULE_MEASURED_ON``): on other
    devices (CUDA, MPS) the model stays contiguous until the rule has been measured there;
    ``layout="channels_last"`` asks for it explicitly.
    """
    if device_type in LAYOUT_RULE_MEASURED_ON and share >= CONV_SHARE_FOR_CHANNELS_LAST:
        return "channels_last"
    return "contiguous"


def _channels_last(t: torch.Tensor) -> torch.Tensor:
    if t.dim() == 5:
        return t.contiguous(memory_format=torch.channels_last_3d)
    if t.dim() == 4:
        return t.contiguous(memory_format=torch.channels_last)
    return t


class OptimizedModel(nn.Module):
    """An optimized copy of a video model; ``forward`` takes the same ``(B, C, T, H, W)`` clip.

    Attributes:
        model: the rewritten model (its parameters, in the chosen layout).
        report: ``OptimizeReport``.
    """

    def __init__(self, model: nn.Module, report: OptimizeReport,
                 fn: Callable[[torch.Tensor], Any] | None = None) -> None:
        super().__init__()
        self.model = model
        self.report = report
        self.num_classes = getattr(model, "num_classes", None)
        self._channels_last = report.layout == "channels_last"
        object.__setattr__(self, "_fn", model if fn is None else fn)  # not a submodule: no duplicate state

    def forward(self, x: torch.Tensor) -> Any:
        if self._channels_last:
            x = _channels_last(x)
        return self._fn(x)


# The fold probe's frame side: which BatchNorm follows which conv does not depend on the frame
# size, and a full-size probe, whose activations are all alive at once, would leave hundreds of
# MB in the allocator's retained heap (``litevid bench --optimize`` measures peak RSS after it).
PROBE_SIZE = 64


def _fold_with_probe(model: nn.Module, input_shape: tuple[int, ...], device: torch.device,
                     dtype: torch.dtype | None) -> int:
    """``fold_batchnorm`` with a probe clip of ``PROBE_SIZE`` frames side (same channels and
    clip length), or the full ``input_shape`` where the model does not take the small one."""
    def fold(shape: tuple[int, ...]) -> int:
        return fold_batchnorm(model, torch.zeros((1, *shape), device=device, dtype=dtype))

    small = (*input_shape[:-2], *(min(d, PROBE_SIZE) for d in input_shape[-2:]))
    if small != tuple(input_shape):
        try:
            return fold(small)
        except (RuntimeError, ValueError, AssertionError, IndexError):
            pass  # the model needs its own clip size (pairs are found before anything is folded)
    return fold(tuple(input_shape))


def optimize(model: nn.Module, *, for_: str = "inference", compile: bool = False,
             cuda_graphs: bool = False, input_shape: tuple[int, ...] | None = None,
             layout: str = "auto", inplace: bool = False) -> OptimizedModel:
    """A numerically equivalent copy of ``model`` in its fastest form on its device.

    Args:
        model: a litevid video model (any module taking one ``(B, C, T, H, W)`` clip), on the
            device it will run on.
        for_: ``inference`` (eval mode: BatchNorms folded) or ``training`` (train mode kept,
            BatchNorms kept; layout and compile only).
        compile: ``torch.compile`` the result (inductor).
        cuda_graphs: replay CUDA graphs (inference on CUDA only).
        input_shape: ``(C, T, H, W)`` of one clip for the fold probe and the FLOP count (default:
            ``model.spec``'s, else ``(3, 16, 224, 224)``).
        layout: ``auto`` (the measured rule), ``channels_last`` or ``contiguous``.
        inplace: rewrite ``model`` itself instead of a deep copy (no second copy of the weights
            in memory; ``litevid bench --optimize`` uses it, so peak memory stays honest).

    Returns:
        ``OptimizedModel``; its ``report`` says what was applied.
    """
    if for_ not in FOR_CHOICES:
        raise ValueError(f"optimize(for_={for_!r}): choose from {', '.join(FOR_CHOICES)}")
    if layout not in ("auto", "channels_last", "contiguous"):
        raise ValueError(f"optimize(layout={layout!r}): choose auto, channels_last or contiguous")
    p = next(model.parameters(), None)
    device = p.device if p is not None else torch.device("cpu")
    if cuda_graphs and (for_ != "inference" or device.type != "cuda"):
        raise ValueError("optimize(cuda_graphs=True) needs inference on a CUDA model "
                         f"(got for_={for_!r} on {device.type})")
    if input_shape is None:
        spec = getattr(model, "spec", None)
        input_shape = ((spec.in_chans, spec.frames, spec.size, spec.size) if spec is not None
                       and getattr(spec, "frames", None) else (3, 16, 224, 224))
    report = OptimizeReport(for_=for_, device=str(device), compile=compile,
                            cuda_graphs=cuda_graphs)
    out = model if inplace else copy.deepcopy(model)
    if for_ == "inference":
        out.eval()
        if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in out.modules()):
            report.bn_folded = _fold_with_probe(out, input_shape, device,
                                                p.dtype if p is not None else None)
    else:
        out.train()
    from ..models.resnet_family import TemporalConvShift, TemporalShift

    for m in out.modules():
        if isinstance(m, TemporalShift):
            m.single_copy = True
            report.shift_single_copy += 1
        elif isinstance(m, TemporalConvShift) and for_ == "inference":  # in-place slice adds
            m.elementwise = True
            report.shift_single_copy += 1
    # Counted before the oneDNN swap (FLOP counting knows aten's linear, not oneDNN's).
    report.conv_share = round(conv_share(out, (1, *input_shape)), 4)
    report.layout = (choose_layout(report.conv_share, device.type) if layout == "auto"
                     else layout)
    if device.type == "cpu" and report.layout == "channels_last":
        # Measured on CPU only (the layout losses are CPU kernel paths); the 2D routes return
        # the free views of a channels-last map, which on a contiguous one would be strided.
        report.ops_via_2d = ops_via_2d(out)
    if for_ == "inference":
        report.inplace_acts = inplace_activations(out)
    if device.type == "cpu":
        report.onednn_linears, report.fused_gelus = onednn_linears(
            out, fuse_gelu=for_ == "inference")
    if report.layout == "channels_last":
        out = out._apply(_channels_last)
    if for_ == "inference":
        for prm in out.parameters():
            prm.requires_grad_(False)
    fn: Callable[[torch.Tensor], Any] = out
    if compile:
        fn = torch.compile(out)
    if cuda_graphs:
        from ..devices import get_backend

        fn = get_backend(str(device)).graph_replay(fn)
    result = OptimizedModel(out, report, fn)
    result.train(for_ == "training")
    return result
