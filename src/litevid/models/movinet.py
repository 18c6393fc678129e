"""MoViNet-A0 and -A2 (Kondratyuk et al. 2021), base (non-causal) models with a causal stream mode.

The base architecture follows the TF release (``BLOCK_SPECS['a0']``/``['a2']``) and the PyTorch
port ``Atze00/MoViNet-pytorch`` with ``causal=False, conv_type='3d'``: a (1,3,3) stem, inverted
bottlenecks with a depthwise 3D conv, SE, and a ReZero scalar (``alpha``) on the
residual branch, then a 1x1x1 conv, global pooling and a two-layer classifier. Swish activations,
BN eps 1e-3, no input normalisation (raw [0, 1] frames).

What differs:
- Every block's ReZero scale ``alpha`` starts at 1 (``rezero_init``), not 0 as in the port. The
  study always starts MoViNet from Kinetics weights, which set ``alpha``; from scratch, a zero
  start leaves the blocks switched off while Adam moves ``alpha`` by about the learning rate per
  step: at the study's 3e-4, MoViNet-A0 stayed at chance on two synthetic motion classes after 256
  steps (54%), against 99% with ``alpha = 1`` (``rezero_init=0.0`` restores the port's start).
- The classifier's two 1x1x1 convs ("dense9", "dense10") are ``nn.Linear`` layers on the pooled
  vector (same parameters); the checkpoint filter reshapes them.
- Padding is a mode (``padding=``, ``set_padding``): ``"symmetric"`` (``k // 2``, PyTorch's
  usual) or ``"tf-same"``, the TF release's asymmetric "SAME" padding on every strided op (stem,
  strided depthwise convs, shortcut average pools, the pools excluding the padding from their
  count; ``layers.padding``), as the port's ``tf_like=True``. Stride-1 ops are the same in both;
  output sizes agree (``ceil(n / 2)``), activations shift by a pixel at every strided op (the
  logits of a TF-converted checkpoint move by ~10% under symmetric padding). Parameters and
  state-dict keys are the same in both modes. The default (``None``) is symmetric until a
  TF-converted checkpoint (layout ``movinet-tf-port``) is loaded, which switches to
  ``"tf-same"``; an explicit ``padding="symmetric"`` is kept, with a warning note in the load
  report. The port's ``tf_like=False`` is ``"symmetric"`` for A2; for A0 its configuration pads
  two strided blocks (``b1_l0``, ``b2_l0``: ``padding=(1, 0, 0)``, ``(2, 0, 0)``) not at all, a
  map one pixel smaller, which litevid does not reproduce.
- **Stream mode** (``causal=True``) reuses the base parameters but changes two operations so the
  network can run on a growing clip, a few frames at a time, as on a phone:
  temporal convolutions pad only the past (``kt - 1`` frames) and SE pools with a cumulative mean
  over the frames seen so far instead of the whole clip. ``forward_stream(chunk, state)`` carries
  the last ``kt - 1`` frames of every temporal conv input, the running SE sums, the running sum of
  the pooled head features and the frame count in a plain ``dict`` of tensors (exportable); the
  logits after any chunk are those of the clip seen so far (head on the running mean). The
  official *stream* checkpoints use (2+1)D convs and SE on concatenated inputs (another layout,
  another parameter count) and are not supported; the paper benchmarks the base models.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from functools import partial
from typing import Literal

import torch
import torch.nn as nn

from ..layers.classifier import NumClasses
from ..layers.conv_norm_act import ConvNormAct
from ..layers.padding import TFSameAvgPool3d, TFSamePad
from ..layers.squeeze_excite import SqueezeExcite
from ..layers.weight_init import init_cnn_weights, init_linear_normal
from ._base import VideoModel
from ._layouts import CheckpointLayout, register_layout
from ._registry import InitSpec, ModelSpec, register_model

__all__ = ["MOVINET_TF_PORT", "PADDINGS", "MoViNet", "MoViNetBlock", "movinet_a0", "movinet_a2"]

Padding = Literal["symmetric", "tf-same"]
PADDINGS: tuple[str, ...] = ("symmetric", "tf-same")

_BN_EPS = 1e-3
_Kernel = tuple[int, int, int]
# One block: (out channels, expanded channels, kernel (kt, kh, kw), spatial stride).
_BlockCfg = tuple[int, int, _Kernel, int]

_K155, _K333, _K533, _K133 = (1, 5, 5), (3, 3, 3), (5, 3, 3), (1, 3, 3)

MOVINET_CFGS: dict[str, dict] = {
    "a0": dict(stem_chs=8, head_chs=480, stages=(
        ((8, 24, _K155, 2),),
        ((32, 80, _K333, 2), (32, 80, _K333, 1), (32, 80, _K333, 1)),
        ((56, 184, _K533, 2), (56, 112, _K333, 1), (56, 184, _K333, 1)),
        ((56, 184, _K533, 1), (56, 184, _K333, 1), (56, 184, _K333, 1), (56, 184, _K333, 1)),
        ((104, 384, _K533, 2), (104, 280, _K155, 1), (104, 280, _K155, 1), (104, 344, _K155, 1)),
    )),
    "a2": dict(stem_chs=16, head_chs=640, stages=(
        ((16, 40, _K155, 2), (16, 40, _K333, 1), (16, 64, _K333, 1)),
        ((40, 96, _K333, 2), (40, 120, _K333, 1), (40, 96, _K333, 1), (40, 96, _K333, 1),
         (40, 120, _K333, 1)),
        ((72, 240, _K533, 2), (72, 160, _K333, 1), (72, 240, _K333, 1), (72, 192, _K333, 1),
         (72, 240, _K333, 1)),
        ((72, 240, _K533, 1), (72, 240, _K333, 1), (72, 240, _K333, 1), (72, 240, _K333, 1),
         (72, 144, _K155, 1), (72, 240, _K333, 1)),
        ((144, 480, _K533, 2), (144, 384, _K155, 1), (144, 384, _K155, 1), (144, 480, _K155, 1),
         (144, 480, _K155, 1), (144, 480, _K333, 1), (144, 576, _K133, 1)),
    )),
}


def _make_divisible(v: float, divisor: int = 8) -> int:
    """TF MobileNet rounding: nearest multiple of ``divisor``, never more than 10% below ``v``."""
    out = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return out + divisor if out < 0.9 * v else out


def _down(size: int) -> int:
    """Output size of every strided op here (odd kernel, stride 2): ``ceil(size / 2)``, both with
    symmetric padding ``k // 2`` (``(n + 2 * (k // 2) - k) // 2 + 1``) and with TF "SAME"."""
    return (size - 1) // 2 + 1


def _check_padding(mode: str) -> None:
    if mode not in PADDINGS:
        raise ValueError(f"MoViNet padding {mode!r}: choose one of {', '.join(PADDINGS)}")


class MoViNetBlock(nn.Module):
    """Inverted bottleneck: 1x1x1 expand -> depthwise (kt,kh,kw) -> SE -> 1x1x1 project.

    Output is ``res(x) + alpha * branch(x)``; ``res`` is identity, or [avg pool (1,3,3) stride 2
    when strided] + 1x1x1 conv + BN when the shape changes. With ``causal=True`` the depthwise conv
    has no temporal padding: ``forward_causal`` prepends the previous ``kt - 1`` frames instead.
    A strided block's spatial padding (depthwise conv and shortcut pool) is symmetric or TF
    "SAME" (``set_padding``); stride-1 blocks are the same in both modes.
    """

    def __init__(
        self, in_chs: int, out_chs: int, exp_chs: int, kernel: _Kernel, stride: int, *,
        causal: bool = False, rezero_init: float = 1.0,
    ) -> None:
        super().__init__()
        kt, kh, kw = kernel
        self.kt = kt
        self.kernel = (kt, kh, kw)
        self.stride = stride
        self.expand = ConvNormAct(in_chs, exp_chs, 1, dims=3, bn_eps=_BN_EPS, act_layer=nn.SiLU)
        pad = (0 if causal else kt // 2, kh // 2, kw // 2)
        self.deep_pad: nn.Module = nn.Identity()  # TFSamePad in "tf-same" mode when strided
        self.deep = ConvNormAct(exp_chs, exp_chs, kernel, (1, stride, stride), pad, groups=exp_chs,
                                dims=3, bn_eps=_BN_EPS, act_layer=nn.SiLU)
        self.se = SqueezeExcite(exp_chs, _make_divisible(exp_chs // 4), dims=3, act_layer=nn.SiLU)
        self.project = ConvNormAct(exp_chs, out_chs, 1, dims=3, bn_eps=_BN_EPS, act_layer=None)
        res: list[nn.Module] = []
        if stride != 1 or in_chs != out_chs:
            if stride != 1:
                res.append(self._shortcut_pool("symmetric"))
            res.append(ConvNormAct(in_chs, out_chs, 1, dims=3, bn_eps=_BN_EPS, act_layer=None))
        self.res = nn.Sequential(*res)  # empty Sequential = identity
        self.alpha = nn.Parameter(torch.full((), float(rezero_init)))  # ReZero scale

    def _shortcut_pool(self, mode: str) -> nn.Module:
        s = self.stride
        if mode == "tf-same":
            return TFSameAvgPool3d((1, 3, 3), (1, s, s))
        return nn.AvgPool3d((1, 3, 3), (1, s, s), (0, 1, 1))

    def set_padding(self, mode: str) -> None:
        """Symmetric or TF "SAME" spatial padding of the strided ops (no-op at stride 1, where
        both are ``k // 2`` for odd kernels); parameters and state-dict keys are unchanged."""
        _check_padding(mode)
        if self.stride == 1:
            return
        tf = mode == "tf-same"
        _, kh, kw = self.kernel
        conv = self.deep.conv
        conv.padding = (conv.padding[0], 0 if tf else kh // 2, 0 if tf else kw // 2)
        self.deep_pad = TFSamePad((kh, kw), (self.stride, self.stride)) if tf else nn.Identity()
        self.res[0] = self._shortcut_pool(mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch = self.project(self.se(self.deep(self.deep_pad(self.expand(x)))))
        return self.res(x) + self.alpha * branch

    def forward_causal(
        self, x: torch.Tensor, conv_buf: torch.Tensor | None, se_sum: torch.Tensor,
        frames: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """One chunk of a causal stream.

        Args:
            x: chunk ``(B, C_in, Tc, H, W)``.
            conv_buf: the last ``kt - 1`` frames of the depthwise conv's input before this chunk,
                ``(B, C_exp, kt - 1, H, W)`` (zeros at the start = causal zero padding); ``None``
                when ``kt == 1``.
            se_sum: sum over the frames seen so far of the spatially pooled SE input,
                ``(B, C_exp, 1, 1, 1)``.
            frames: number of frames seen before this chunk (0-d tensor).

        Returns:
            The block output for the chunk and the updated ``conv_buf`` and ``se_sum``.
        """
        Tc = x.shape[2]
        h = self.expand(x)  # (B, C_exp, Tc, H, W)
        if conv_buf is not None:
            h = torch.cat([conv_buf, h], dim=2)  # (B, C_exp, kt - 1 + Tc, H, W)
            conv_buf = h[:, :, Tc:]  # the last kt - 1 frames
        h = self.deep(self.deep_pad(h))  # (B, C_exp, Tc, H', W')
        csum = se_sum + h.mean((3, 4), keepdim=True).cumsum(2)  # (B, C_exp, Tc, 1, 1)
        count = frames + torch.arange(1, Tc + 1, device=h.device, dtype=h.dtype)
        h = h * self.se.excite(csum / count.view(1, 1, Tc, 1, 1))  # cumulative-mean SE
        out = self.res(x) + self.alpha * self.project(h)
        return out, conv_buf, csum[:, :, -1:]


class MoViNet(VideoModel):
    """MoViNet base model; ``causal=True`` gives the stream variant of the same parameters.

    Args:
        stages: per stage, a tuple of blocks ``(out, expanded, (kt, kh, kw), stride)``.
        stem_chs: stem width.
        head_chs: width of the 1x1x1 conv before pooling ("conv7").
        num_classes: classifier width (0 = no classifier), or a dict of named widths.
        hidden_dim: width of the first classifier layer ("dense9"): the pre-logit features.
        drop_rate: dropout before the last layer (0.2).
        causal: stream mode (causal temporal padding, cumulative SE; see the module docstring).
        rezero_init: start value of every block's ReZero scale ``alpha`` (see the module
            docstring: 1.0 here, 0.0 in the PyTorch port; checkpoints overwrite it).
        in_chans: input channels.
        padding: spatial padding of the strided convs and pools: ``"symmetric"`` (``k // 2``)
            or ``"tf-same"`` (TF's asymmetric "SAME", what the TF-converted checkpoints were
            trained with). ``None``: symmetric until a TF-converted checkpoint is loaded
            (``load_pretrained`` then switches to ``"tf-same"``); an explicit choice is kept.
            ``model.padding`` holds the mode in use, ``set_padding`` changes it in place.
    """

    def __init__(
        self,
        stages: tuple[tuple[_BlockCfg, ...], ...],
        *,
        stem_chs: int,
        head_chs: int,
        num_classes: NumClasses = 400,
        hidden_dim: int = 2048,
        drop_rate: float = 0.2,
        causal: bool = False,
        rezero_init: float = 1.0,
        in_chans: int = 3,
        padding: Padding | None = None,
    ) -> None:
        super().__init__()
        self.in_chans = in_chans
        self.causal = causal
        self.stem_pad: nn.Module = nn.Identity()  # TFSamePad in "tf-same" mode
        self.stem = ConvNormAct(in_chans, stem_chs, (1, 3, 3), (1, 2, 2), dims=3, bn_eps=_BN_EPS,
                                act_layer=nn.SiLU)
        blocks, cin = OrderedDict(), stem_chs
        for i, stage in enumerate(stages):
            for j, (cout, exp, kernel, stride) in enumerate(stage):
                blocks[f"b{i}_l{j}"] = MoViNetBlock(cin, cout, exp, kernel, stride, causal=causal,
                                                        rezero_init=rezero_init)
                cin = cout
        self.blocks = nn.Sequential(blocks)
        self.conv_head = ConvNormAct(cin, head_chs, 1, dims=3, bn_eps=_BN_EPS, act_layer=nn.SiLU)
        self.head_hidden = nn.Linear(head_chs, hidden_dim)
        self.head_act = nn.SiLU()
        self.create_head(hidden_dim, num_classes, drop_rate=drop_rate,
                         init_fn=partial(init_linear_normal, std=0.01))
        self._init_weights()
        self.padding: str = "symmetric"
        self._padding_explicit = padding is not None
        self._apply_padding(padding or "symmetric")

    # ---- padding -------------------------------------------------------------------------------

    def set_padding(self, mode: Padding) -> None:
        """Switch every strided conv and pool to ``"symmetric"`` or ``"tf-same"`` padding, in
        place (same parameters, same state dict). An explicit choice: loading a TF-converted
        checkpoint afterwards keeps it. Call it before ``optimize``/export rewrites, which copy
        the pads they find.

        Raises:
            ValueError: an unknown mode.
        """
        self._apply_padding(mode)
        self._padding_explicit = True

    def _apply_padding(self, mode: str) -> None:
        _check_padding(mode)
        tf = mode == "tf-same"
        conv = self.stem.conv
        _, kh, kw = conv.kernel_size
        conv.padding = (0, 0, 0) if tf else (0, kh // 2, kw // 2)
        self.stem_pad = TFSamePad((kh, kw), conv.stride[1:]) if tf else nn.Identity()
        for blk in self.blocks:
            blk.set_padding(mode)
        self.padding = mode

    def arch_args(self) -> dict[str, str]:
        """The padding in use, so a saved model is rebuilt with it (training checkpoints,
        export): a model fine-tuned from a TF-converted checkpoint stays ``"tf-same"``."""
        return {"padding": self.padding}

    def adapt_to_layout(self, layout: CheckpointLayout) -> list[str]:
        """TF-converted checkpoints (``MOVINET_TF_PORT``) switch the padding to ``"tf-same"``
        unless it was chosen explicitly; an explicit ``"symmetric"`` is kept with a warning."""
        if layout.name != MOVINET_TF_PORT.name:
            return []
        if self._padding_explicit:
            if self.padding == "tf-same":
                return ["padding: tf-same (TF 'SAME', as the checkpoint was trained)"]
            return ["warning: padding kept 'symmetric' as chosen, but this checkpoint was "
                    "trained with TF 'SAME' padding; its logits shift (padding='tf-same' "
                    "reproduces them)"]
        changed = self.padding != "tf-same"
        self._apply_padding("tf-same")
        return [f"padding {'switched to' if changed else 'is'} 'tf-same': the checkpoint was "
                "trained with TF 'SAME' padding (pass padding='symmetric' to keep symmetric)"]

    def _init_weights(self) -> None:
        self.apply(init_cnn_weights)
        init_linear_normal(self.head_hidden, std=0.01)  # the classifier gets the same in create_head

    # ---- base / full-clip path -----------------------------------------------------------------

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        if self.causal:  # one causal pass over the whole clip = a stream from a fresh state
            B, _, _, H, W = x.shape
            state = self.init_state(B, H, W, device=x.device, dtype=x.dtype)
            return self._causal_features(x, state)[0]
        x = self.blocks(self.stem(self.stem_pad(x)))
        return self.conv_head(x)  # (B, head_chs, T, H/32, W/32)

    def _head_from_pooled(
        self, x: torch.Tensor, pre_logits: bool
    ) -> torch.Tensor | dict[str, torch.Tensor]:
        x = self.head_act(self.head_hidden(x))  # (B, hidden_dim), "dense9"
        return self.head(x, pre_logits)  # dropout, classifier ("dense10")

    def forward_head(
        self, x: torch.Tensor, pre_logits: bool = False
    ) -> torch.Tensor | dict[str, torch.Tensor]:
        return self._head_from_pooled(x.mean((2, 3, 4)), pre_logits)  # (B, C, T, h, w) -> (B, C)

    # ---- stream mode ---------------------------------------------------------------------------

    def init_state(
        self, batch_size: int, height: int, width: int, *, device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> dict[str, torch.Tensor]:
        """Fresh stream state for clips of ``height x width`` frames (also how to reset a stream).

        Keys: ``frames`` (frames seen, 0-d), ``{block}.conv`` (last ``kt - 1`` inputs of each
        temporal conv), ``{block}.se`` (running SE sums), ``pool`` (running sum of pooled head
        features). All zeros: zero temporal padding, nothing seen yet.
        """
        kw = dict(device=device, dtype=dtype)
        state = {"frames": torch.zeros((), **kw)}
        h, w = _down(height), _down(width)  # after the stem; the same in both padding modes
        for name, blk in self.blocks.named_children():
            exp = blk.se.fc1.in_channels
            if blk.kt > 1:
                state[f"{name}.conv"] = torch.zeros(batch_size, exp, blk.kt - 1, h, w, **kw)
            state[f"{name}.se"] = torch.zeros(batch_size, exp, 1, 1, 1, **kw)
            if blk.deep.conv.stride[1] != 1:
                h, w = _down(h), _down(w)
        state["pool"] = torch.zeros(batch_size, self.conv_head.out_chs, **kw)
        return state

    def _causal_features(
        self, x: torch.Tensor, state: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        frames = state["frames"]
        new_state: dict[str, torch.Tensor] = {}
        x = self.stem(self.stem_pad(x))  # (B, stem_chs, Tc, H/2, W/2); no temporal kernel
        for name, blk in self.blocks.named_children():
            key = f"{name}.conv"
            x, buf, se_sum = blk.forward_causal(x, state.get(key), state[f"{name}.se"], frames)
            if buf is not None:
                new_state[key] = buf
            new_state[f"{name}.se"] = se_sum
        x = self.conv_head(x)  # (B, head_chs, Tc, h, w)
        new_state["pool"] = state["pool"] + x.mean((3, 4)).sum(2)  # (B, head_chs)
        new_state["frames"] = frames + x.shape[2]
        return x, new_state

    def forward_stream(
        self, x: torch.Tensor, state: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor | dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Feed the next chunk ``(B, C, Tc, H, W)`` (Tc >= 1) of a stream.

        Returns the logits of everything seen so far (the head on the running mean of the pooled
        features, equal to a causal forward over the concatenated chunks; a dict for named heads)
        and the new state. The input ``state`` is not modified.
        """
        if not self.causal:
            raise ValueError(
                "forward_stream needs the stream variant: create_model(..., causal=True)"
            )
        self.check_input(x)
        missing = sorted({"frames", "pool"} - set(state))
        if missing:
            raise ValueError(f"stream state lacks {missing}; start a stream with init_state()")
        _, new_state = self._causal_features(x, state)
        pooled = new_state["pool"] / new_state["frames"]  # running mean over all frames seen
        return self._head_from_pooled(pooled, pre_logits=False), new_state

    def checkpoint_filter(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``Atze00/MoViNet-pytorch`` base-model keys (``conv1.conv_1.conv3d.weight``,
        ``blocks.b0_l0.se.fc1.conv_1.conv3d.bias``, ...; older versions without ``conv_1``) -> ours.

        "dense9" (``classifier.0``) and the source classifier "dense10" (``classifier.3``, 600
        Kinetics classes, mapped to ``head.fc``; ``load_pretrained`` keeps or drops it) are
        reshaped from 1x1x1 convs to linear layers. Keys already in litevid's layout and unknown
        keys pass through, so the report lists the unknown ones.
        """
        out: dict[str, torch.Tensor] = {}
        for key, value in state_dict.items():
            new = _atze_key(key)
            if new.startswith(("head_hidden.", "head.fc.")) and value.dim() == 5:
                value = value.flatten(1)  # (O, I, 1, 1, 1) -> (O, I)
            out[new] = value
        return out


# ---- weight-key remapping ----------------------------------------------------------------------

_ATZE_TOP = {"conv1": "stem", "conv7": "conv_head", "classifier.0": "head_hidden",
             "classifier.3": "head.fc"}


def _atze_key(key: str) -> str:
    # The port wraps each conv in ConvBlock3D (``conv_1``, newer versions only) around a
    # Conv3DBNActivation with children ``conv3d``/``norm``/``act``; ours are ConvNormAct 0/1.
    key = key.replace(".conv_1.", ".").replace(".conv3d.", ".0.").replace(".norm.", ".1.")
    key = re.sub(r"^(classifier\.[03]|.*\.se\.fc[12])\.0\.", r"\1.", key)  # bare convs, no norm
    for src, dst in _ATZE_TOP.items():
        if key.startswith(src + "."):
            return dst + key[len(src):]
    return key


# The Atze00 conversion of the TF Hub base models (``modelA0_statedict_v3`` ...): 3D convs wrapped
# in ``ConvBlock3D`` (``conv_1``; older files without it, their bias-carrying convs plain
# ``nn.Conv3d``); the stream models' (2+1)D files (``conv2d``) do not match. Trained with TF
# "SAME" padding: ``MoViNet.adapt_to_layout`` switches to it.
MOVINET_TF_PORT = register_layout(CheckpointLayout(
    name="movinet-tf-port",
    models=("movinet_a0", "movinet_a2"),
    source="Atze00/MoViNet-pytorch (TF Hub base models converted)",
    datasets="Kinetics-600",
    signature=(r"^conv1\.(conv_1\.)?conv3d\.weight$",
               r"^blocks\.b0_l0\.deep\.(conv_1\.)?conv3d\.weight$",
               r"^conv7\.(conv_1\.)?conv3d\.weight$",
               r"^classifier\.0\.((conv_1\.)?conv3d\.)?weight$"),
    classifier=r"^classifier\.3\.((conv_1\.)?conv3d\.)?weight$",
    mapped="ConvBlock3D/Conv3DBNActivation -> ConvNormAct; dense9/dense10 1x1x1 convs -> "
           "linear layers (dense10 = head.fc); padding switched to TF 'SAME'",
))


# ---- registered variants ----------------------------------------------------------------------


def _movinet_init(variant: str) -> InitSpec:
    return InitSpec(
        dataset="Kinetics-600", method="direct",
        sources=(f"movinet/{variant}/base/kinetics-600/classification",),
        layouts=(MOVINET_TF_PORT.name,),
        notes="no ImageNet weights exist; the study used Kinetics checkpoints: TF Hub, or the "
              "Atze00/MoViNet-pytorch conversion of the base model (layout movinet-tf-port), "
              "mapped by MoViNet.checkpoint_filter; its 600-class Kinetics classifier is kept "
              "at that width (keep_head) or dropped; loading it switches the model to TF "
              "'SAME' padding (padding='tf-same') unless padding was chosen explicitly, which "
              "reproduces the port's tf_like=True logits",
    )


@register_model(ModelSpec(
    paper_name="MoViNet-A0", category="baseline", mean=(0.0,) * 3, std=(1.0,) * 3,
    paper_params_m=2.7, init=_movinet_init("a0"),
))
def movinet_a0(**kwargs) -> MoViNet:
    # fully convolutional with global pooling: no frames/size
    return MoViNet(**dict(MOVINET_CFGS["a0"], **kwargs))


@register_model(ModelSpec(
    paper_name="MoViNet-A2", category="baseline", mean=(0.0,) * 3, std=(1.0,) * 3,
    paper_params_m=4.8, init=_movinet_init("a2"),
))
def movinet_a2(**kwargs) -> MoViNet:
    return MoViNet(**dict(MOVINET_CFGS["a2"], **kwargs))
