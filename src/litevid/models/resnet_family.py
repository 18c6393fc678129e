"""TSN-style 2D-per-frame models on a ResNet trunk: TSM-R50, NL-R50, TEA-R50.

- TSM-R50 (Lin et al. 2019): residual temporal shift of 1/8 + 1/8 channels in every bottleneck.
- NL-R50 (Wang et al. 2018): a 2D (C2D/TSN) ResNet-50 with five spatio-temporal non-local blocks,
  after ``layer2[0,2]`` and ``layer3[0,2,4]`` (the placement of the TSM repository). No temporal
  shift: the study lists NL separately from TSM. As in the original embedded-Gaussian code the
  affinity is not scaled by 1/sqrt(d).
- TEA-R50 (Li et al. 2020): Res2Net-50 with motion excitation (ME) and multiple temporal
  aggregation (MTA: depthwise temporal convs, initialised to identity / shift) in every block.

All three fold time into the batch and use the TSN head: per-frame pooling, dropout, a per-frame
linear layer and the mean of the per-frame logits (average consensus; ``ClassifierHead`` with
``consensus_dim=1``). Inputs follow ImageNet normalisation.

Checkpoints (registered layouts, recognised from their keys; ``litevid weights layouts``):

- ``torchvision-resnet50`` (image): torchvision's / timm's ImageNet ``resnet50``, per frame under
  ``backbone.`` (TSM, NL, VTN-R50; I3D-BERT inflates it); ``fc`` dropped.
- ``timm-res2net50_26w_4s`` (image): timm's / the official Res2Net-50 26w4s for TEA; ``fc`` dropped.
- ``tsm-repo`` (video): the TSM repository's released TSM-R50 files (``TSN`` of
  mit-han-lab/temporal-shift-module: ``base_model`` = torchvision ResNet-50 whose blocks' ``conv1``
  is wrapped as ``TemporalShift(net=conv1)``, classifier ``new_fc``; saved from DataParallel, so
  ``module.``-prefixed inside ``{"state_dict": ...}``). ``base_model.`` becomes ``backbone.``,
  ``.net.`` is removed and ``new_fc`` becomes ``head.fc`` (kept or dropped by ``load_pretrained``).
  TSN's forward is the same network: frames folded into the batch, residual shift of 1/8 + 1/8
  channels before each block's ``conv1``, average pool, dropout, ``new_fc``, then the mean of the
  segment logits.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..layers import fold_frames, sdpa, unfold_frames
from ..layers.classifier import NumClasses
from ..layers.weight_init import init_linear_normal
from ._base import VideoModel
from ._layouts import CheckpointLayout, register_layout
from ._registry import InitSpec, ModelSpec, register_model
from .resnet import RESNET50_LAYERS, RESNET50_WIDTHS, ResNet, res2net50_trunk, resnet50_trunk

__all__ = ["TSNModel", "NonLocalBlock", "MotionExcitation", "TemporalConvShift", "TemporalShift",
           "temporal_shift", "temporal_shift_single_copy"]


def temporal_shift(x: torch.Tensor, num_frames: int, shift_div: int = 8) -> torch.Tensor:
    """TSM's shift: 1/``shift_div`` of the channels of a frame-folded ``(B*T, C, H, W)`` tensor
    move one frame back, as many one frame forward; the ends are zero-filled.

    Written with slicing and concatenation (no in-place writes) so autograd and mobile exports work.
    """
    NT, C, H, W = x.shape
    x = x.reshape(NT // num_frames, num_frames, C, H, W)  # (B, T, C, H, W)
    fold = C // shift_div
    zeros = x.new_zeros(x.shape[0], 1, fold, H, W)
    from_next = torch.cat([x[:, 1:, :fold], zeros], dim=1)  # channel group 1 takes frame t+1
    from_prev = torch.cat([zeros, x[:, :-1, fold:2 * fold]], dim=1)  # group 2 takes frame t-1
    out = torch.cat([from_next, from_prev, x[:, :, 2 * fold:]], dim=2)
    return out.reshape(NT, C, H, W)


def _shift_into(x: torch.Tensor, num_frames: int, shift_div: int, reverse: bool) -> torch.Tensor:
    """One pass into one new tensor (``empty_like`` keeps ``x``'s memory format). Forward:
    group 1 takes frame t+1, group 2 frame t-1; ``reverse`` swaps the directions (the gradient
    of the forward shift)."""
    NT, C, H, W = x.shape
    fold = C // shift_div
    out = torch.empty_like(x)
    src = x.unflatten(0, (NT // num_frames, num_frames))  # (B, T, C, H, W) views
    dst = out.unflatten(0, (NT // num_frames, num_frames))
    for group, from_next in ((slice(0, fold), not reverse), (slice(fold, 2 * fold), reverse)):
        if from_next:
            dst[:, :-1, group] = src[:, 1:, group]
            dst[:, -1:, group] = 0
        else:
            dst[:, 1:, group] = src[:, :-1, group]
            dst[:, :1, group] = 0
    dst[:, :, 2 * fold:] = src[:, :, 2 * fold:]
    return out


class _SingleCopyShift(torch.autograd.Function):
    """The one-pass shift with a one-pass backward (the reverse shift of the gradient); through
    autograd's own slice-write tracking the backward cost a full clone and zero fill per write
    (TSM-R50 training at 16x224: 3 of 6 s in ``copy_`` and ``fill_``)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, num_frames: int, shift_div: int) -> torch.Tensor:
        ctx.num_frames, ctx.shift_div = num_frames, shift_div
        return _shift_into(x, num_frames, shift_div, reverse=False)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        return _shift_into(grad, ctx.num_frames, ctx.shift_div, reverse=True), None, None


def temporal_shift_single_copy(x: torch.Tensor, num_frames: int,
                               shift_div: int = 8) -> torch.Tensor:
    """``temporal_shift`` written as one pass into one new tensor (``empty_like``, so it keeps
    ``x``'s memory format): no zero blocks and no concatenation buffers; its backward is one
    pass too. The deployment and fast-training form (``litevid.optimize``); the exporters keep
    ``temporal_shift`` (no in-place slice writes, no custom autograd)."""
    return _SingleCopyShift.apply(x, num_frames, shift_div)


class TemporalShift(nn.Module):
    """``temporal_shift`` as a module, the ``temporal`` hook of TSM's bottlenecks.

    ``single_copy = True`` (set by ``litevid.optimize``) uses ``temporal_shift_single_copy``.
    """

    def __init__(self, shift_div: int = 8) -> None:
        super().__init__()
        self.shift_div = shift_div
        self.single_copy = False

    def forward(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        if self.single_copy:
            return temporal_shift_single_copy(x, num_frames, self.shift_div)
        return temporal_shift(x, num_frames, self.shift_div)


class NonLocalBlock(nn.Module):
    """Embedded-Gaussian non-local block over all T*H*W positions of a clip.

    Keys and values are max-pooled 2x2 in space (sub-sampling); the output BN starts at zero so the
    block starts as the identity.
    """

    def __init__(self, channels: int, scaled: bool = False) -> None:
        super().__init__()
        inner = channels // 2
        self.scale = inner ** -0.5 if scaled else 1.0
        self.theta = nn.Conv3d(channels, inner, 1)
        self.phi = nn.Conv3d(channels, inner, 1)
        self.g = nn.Conv3d(channels, inner, 1)
        self.pool = nn.MaxPool3d((1, 2, 2))
        self.W = nn.Sequential(nn.Conv3d(inner, channels, 1), nn.BatchNorm3d(channels))
        nn.init.zeros_(self.W[1].weight)
        nn.init.zeros_(self.W[1].bias)

    def forward(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        NT, C, H, W = x.shape
        x5 = unfold_frames(x, num_frames).transpose(1, 2)  # (B, C, T, H, W)
        B = x5.shape[0]
        q = self.theta(x5).flatten(2).transpose(1, 2)  # (B, T*H*W, C/2)
        k = self.pool(self.phi(x5)).flatten(2).transpose(1, 2)  # (B, T*H/2*W/2, C/2)
        v = self.pool(self.g(x5)).flatten(2).transpose(1, 2)
        y = sdpa(q[:, None], k[:, None], v[:, None], scale=self.scale)[:, 0]  # one head
        y = y.transpose(1, 2).reshape(B, C // 2, num_frames, H, W)  # (B, C/2, T, H, W)
        z = x5 + self.W(y)
        return z.transpose(1, 2).reshape(NT, C, H, W)


class MotionExcitation(nn.Module):
    """TEA's ME: channel attention from feature differences of adjacent frames."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        c = channels // reduction
        self.conv1 = nn.Conv2d(channels, c, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False)
        self.conv3 = nn.Conv2d(c, channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(channels)
        for conv in (self.conv1, self.conv2, self.conv3):
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        b = self.bn1(self.conv1(x))  # (B*T, c, H, W)
        nxt = unfold_frames(self.conv2(b), num_frames)  # (B, T, c, H, W)
        cur = unfold_frames(b, num_frames)
        diff = nxt[:, 1:] - cur[:, :-1]  # (B, T-1, c, H, W): conv(b)[t+1] - b[t]
        diff = F.pad(diff, (0, 0, 0, 0, 0, 0, 0, 1))  # zero motion for the last frame
        diff = diff.reshape(b.shape).mean((2, 3), keepdim=True)  # (B*T, c, 1, 1)
        y = torch.sigmoid(self.bn3(self.conv3(diff))) - 0.5
        return x + x * y


class TemporalConvShift(nn.Module):
    """TEA's learnable shift: a depthwise temporal conv (k=3) applied at every pixel.

    ``mode="fixed"`` starts as the identity; ``mode="shift"`` starts as a temporal shift (TEA's
    last group: its first half takes frame t+1, its second half frame t-1). All taps stay learnable.
    ``elementwise = True`` (set by ``litevid.optimize``) computes the same three taps as per-channel
    multiply-adds of the neighbouring frames, which keeps the input's memory layout (the
    ``(B*H*W, C, T)`` form needs two transposing copies and returns a contiguous map).
    """

    def __init__(self, channels: int, mode: str = "fixed") -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 3, padding=1, groups=channels, bias=False)
        with torch.no_grad():
            w = torch.zeros_like(self.conv.weight)  # (C, 1, 3): taps for t-1, t, t+1
            if mode == "fixed":
                w[:, 0, 1] = 1.0
            elif mode == "shift":
                fold = channels // 2
                w[:fold, 0, 2] = 1.0
                w[fold:2 * fold, 0, 0] = 1.0
            else:
                raise ValueError(f"unknown TemporalConvShift mode {mode!r}")
            self.conv.weight.copy_(w)
        self.elementwise = False

    def forward(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        if self.elementwise:
            return self._forward_elementwise(x, num_frames)
        NT, C, H, W = x.shape
        x = unfold_frames(x, num_frames)  # (B, T, C, H, W)
        x = x.permute(0, 3, 4, 2, 1).reshape(-1, C, num_frames)  # (B*H*W, C, T)
        x = self.conv(x)
        x = x.reshape(NT // num_frames, H, W, C, num_frames)
        x = x.permute(0, 4, 3, 1, 2)  # (B, T, C, H, W)
        return x.reshape(NT, C, H, W)

    def _forward_elementwise(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        """``y[t] = w0 * x[t-1] + w1 * x[t] + w2 * x[t+1]`` per channel, zero outside the clip."""
        xt = unfold_frames(x, num_frames)  # (B, T, C, H, W), a view
        w = self.conv.weight.reshape(1, 1, -1, 3, 1, 1)  # (1, 1, C, taps, 1, 1)
        y = xt * w[:, :, :, 1]
        y[:, 1:] += xt[:, :-1] * w[:, :, :, 0]
        y[:, :-1] += xt[:, 1:] * w[:, :, :, 2]
        return y.reshape(x.shape)


class TSNModel(VideoModel):
    """A 2D trunk applied per frame with the TSN average-consensus head."""

    def __init__(
        self, backbone: ResNet, num_classes: NumClasses = 400, drop_rate: float = 0.5
    ) -> None:
        super().__init__()
        self.backbone = backbone
        # Per frame: spatial mean, dropout, linear; then the mean of the logits over T. The
        # classifier starts as TSM's ``new_fc``: normal(0, 0.001), zero bias.
        self.create_head(backbone.num_features, num_classes, pool=(3, 4), drop_rate=drop_rate,
                         consensus_dim=1, init_fn=partial(init_linear_normal, std=0.001))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        T = x.shape[2]
        x = self.backbone(fold_frames(x), T)  # (B*T, 2048, h, w)
        return unfold_frames(x, T)  # (B, T, 2048, h, w)

    def checkpoint_filter(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """torchvision/timm ``resnet50`` / ``res2net50_26w_4s``, or a TSM-repository checkpoint.

        ImageNet: every key goes under ``backbone.``; the 1000-class ``fc`` is dropped. TSM
        repository: ``base_model.`` -> ``backbone.``, the ``TemporalShift`` wrapper's ``.net.``
        removed, ``new_fc`` (or ``base_model.fc``, where TSN was built with dropout 0 and keeps its
        classifier there) -> ``head.fc``. Keys already in litevid's layout (``backbone.``,
        ``head.``) pass through; anything else stays as it is under ``backbone.`` so the load
        report lists it as unexpected.
        """
        out = {}
        for k, v in state_dict.items():
            if k.startswith("fc."):  # the ImageNet classifier
                continue
            if k.startswith(("new_fc.", "base_model.fc.")):  # the TSM repository's classifier
                k = "head.fc." + k.rpartition(".")[2]
            elif k.startswith("base_model."):
                k = "backbone." + k.removeprefix("base_model.").replace(".net.", ".")
            elif not k.startswith(("backbone.", "head.")):
                k = f"backbone.{k}"
            out[k] = v
        return out


# ---- builders and registered variants ---------------------------------------------------------


def _r50_init(notes: str, *more_layouts: str) -> InitSpec:
    return InitSpec(dataset="ImageNet-1K", method="per-frame", sources=("resnet50",),
                    layouts=("torchvision-resnet50", *more_layouts), notes=f"fc dropped; {notes}")


def _nl_blocks(scaled: bool = False) -> dict[str, nn.Module]:
    return {
        "layer2_0": NonLocalBlock(512, scaled), "layer2_2": NonLocalBlock(512, scaled),
        "layer3_0": NonLocalBlock(1024, scaled), "layer3_2": NonLocalBlock(1024, scaled),
        "layer3_4": NonLocalBlock(1024, scaled),
    }


@register_model(ModelSpec(
    paper_name="TSM-R50", category="baseline", paper_params_m=24.3,
    init=_r50_init("the shift adds no parameters; the TSM repository's Kinetics-400 (and "
                   "Something-Something) TSM-R50 files load too, classifier included",
                   "tsm-repo"),
))
def tsm_r50(
    *, num_classes: NumClasses = 400, drop_rate: float = 0.5, shift_div: int = 8,
    layers: tuple[int, ...] = RESNET50_LAYERS, widths: tuple[int, ...] = RESNET50_WIDTHS,
    stem_width: int = 64,
) -> TSNModel:
    """TSM-R50; ``layers``/``widths``/``stem_width`` (ResNet-50's by default) only change for
    the reduced trunk the TSM-repository parity fixture compares against."""
    trunk = resnet50_trunk(temporal_factory=lambda: TemporalShift(shift_div), layers=layers,
                           widths=widths, stem_width=stem_width)
    return TSNModel(trunk, num_classes, drop_rate)


@register_model(ModelSpec(
    paper_name="NL-R50", category="standalone-attention", paper_params_m=31.7,
    init=_r50_init("the 5 non-local blocks are new (output BN = 0)"),
))
def nl_r50(
    *, num_classes: NumClasses = 400, drop_rate: float = 0.5, nl_scaled: bool = False
) -> TSNModel:
    return TSNModel(resnet50_trunk(extra_blocks=_nl_blocks(nl_scaled)), num_classes, drop_rate)


@register_model(ModelSpec(
    paper_name="TEA-R50", category="standalone-attention", paper_params_m=24.9,
    init=InitSpec(dataset="ImageNet-1K", method="per-frame", sources=("res2net50_26w_4s",),
                  layouts=("timm-res2net50_26w_4s",),
                  notes="Res2Net-50 26w4s, fc dropped; ME and temporal shift convs are new "
                        "(identity / shift init)"),
))
def tea_r50(*, num_classes: NumClasses = 400, drop_rate: float = 0.5) -> TSNModel:
    trunk = res2net50_trunk(
        me_layer=MotionExcitation,
        shift_layer=lambda width, i: TemporalConvShift(width, "shift" if i == 3 else "fixed"),
    )
    return TSNModel(trunk, num_classes, drop_rate)


# ---- published checkpoint layouts (``models._layouts``) ----------------------------------------

register_layout(CheckpointLayout(
    name="torchvision-resnet50", models=("tsm_r50", "nl_r50", "vtn_r50", "i3d_bert"),
    source="torchvision resnet50 / timm resnet50 (the same key names)", datasets="ImageNet-1K",
    signature=(r"^conv1\.weight$", r"^layer1\.0\.conv2\.weight$", r"^layer1\.0\.conv3\.weight$",
               r"^layer4\.0\.downsample\.0\.weight$"),
    classifier=r"^fc\.weight$",
    mapped="per frame under `backbone.` (I3D-BERT: inflated to 3D); fc dropped", kind="image",
))
register_layout(CheckpointLayout(
    name="timm-res2net50_26w_4s", models=("tea_r50",),
    source="timm res2net50_26w_4s / official Res2Net-50 26w4s (the same key names)",
    datasets="ImageNet-1K",
    signature=(r"^conv1\.weight$", r"^layer1\.0\.convs\.0\.weight$",
               r"^layer1\.0\.bns\.0\.running_var$", r"^layer4\.0\.downsample\.0\.weight$"),
    classifier=r"^fc\.weight$",
    mapped="under `backbone.`; fc dropped; ME and shift convs new", kind="image",
))
register_layout(CheckpointLayout(
    name="tsm-repo", models=("tsm_r50",),
    source="TSM repository (mit-han-lab/temporal-shift-module) TSN resnet50, shift_div 8, "
           "blockres",
    datasets="Kinetics-400; Something-Something V1/V2",
    signature=(r"^base_model\.conv1\.weight$", r"^base_model\.layer1\.0\.conv1\.net\.weight$",
               r"^base_model\.layer4\.0\.conv3\.weight$"),
    classifier=r"^(new_fc|base_model\.fc)\.weight$",
    mapped="`base_model.` -> `backbone.`, `.net.` removed, `new_fc` -> `head.fc`",
))
