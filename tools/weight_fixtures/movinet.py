"""MoViNet-A0/A2: the PyTorch port of the TF release (``Atze00/MoViNet-pytorch``), base models.

The port is imported from ``../shared/peers/movinets`` and built as its TF-converted checkpoints
run: ``causal=False, conv_type="3d", tf_like=True`` (TF "SAME" padding). Its published files
(``modelA0_statedict_v3``, ...) are plain state dicts in its own key layout; litevid must detect
the layout, switch to ``padding="tf-same"`` and reproduce the logits.

The reduced configurations are built with the port's own config machinery (``fill_conv``,
``fill_SE_config`` on a fresh ``CfgNode``): every stage of A0 (A2: with the stride-1 extras of
its first stage and its (1, 3, 3) block), narrow, on a small square clip chosen so that both pad
cases of both strided kernels occur: A0 at 36x36 feeds the kernel-3 stem an even size (36), the
kernel-5 stage-0 conv an even one (18), the kernel-3 stage-1 conv an odd one (9) and the kernel-5
stage-2/4 convs odd ones (5, 3); A2 at 44x44: 44, 22, 11, 6, 3. (The port's ``tfAvgPool3D`` needs
H == W.) ReZero scales get values around 1, not the near-zero noise ``randomize_`` gives
constants, so every residual branch, strided depthwise convs included, weighs on the logits.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from typing import Any

import torch

from .common import SHARED, Built, Fixture, randomize_

_SOURCE = ("Atze00/MoViNet-pytorch @ c2d1edf48fc6c5259707f9d833f22171b4f63493 (movinets, "
           "../shared/peers): MoViNet(cfg, causal=False, conv_type='3d', tf_like=True)")

# Widths, and per stage the blocks (out, expanded, kernel, spatial stride) as litevid's ``stages``
# takes them; ``clip`` is (T, H = W) of the input.
_REDUCED: dict[str, dict[str, Any]] = {
    "a0": dict(stem_chs=8, head_chs=40, hidden_dim=24, clip=(4, 36), stages=[
        [[8, 16, [1, 5, 5], 2]],
        [[16, 40, [3, 3, 3], 2], [16, 32, [3, 3, 3], 1]],
        [[24, 56, [5, 3, 3], 2]],
        [[24, 48, [5, 3, 3], 1]],
        [[32, 72, [5, 3, 3], 2], [32, 64, [1, 5, 5], 1]],
    ]),
    "a2": dict(stem_chs=8, head_chs=40, hidden_dim=24, clip=(4, 44), stages=[
        [[8, 16, [1, 5, 5], 2], [8, 16, [3, 3, 3], 1]],
        [[16, 32, [3, 3, 3], 2], [16, 24, [3, 3, 3], 1]],
        [[24, 40, [5, 3, 3], 2]],
        [[24, 40, [1, 5, 5], 1]],
        [[32, 48, [5, 3, 3], 2], [32, 40, [1, 3, 3], 1]],
    ]),
}
_FULL = {"a0": "MoViNetA0", "a2": "MoViNetA2"}
_CLASSES = 600  # the published files' Kinetics-600 classifier (full size)
_REDUCED_CLASSES = 10  # a narrow classifier keeps the reduced files small


class _AttrDict(dict):
    """Stand-in for ``yacs.config.CfgNode``: the port's config only sets and reads attributes."""

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value) -> None:
        self[name] = value


def _stand_ins() -> None:
    """The port's config imports fvcore's ``CfgNode``, which needs ``yacs`` (its base class) and,
    through iopath, ``portalocker`` (file locks never taken here); the peers venv may lack both.
    Minimal stand-ins go into ``sys.modules`` only for what is missing."""
    def missing(name: str) -> bool:
        return name not in sys.modules and importlib.util.find_spec(name) is None

    if missing("portalocker"):
        sys.modules["portalocker"] = types.ModuleType("portalocker")
    if missing("yacs"):
        yacs, config = types.ModuleType("yacs"), types.ModuleType("yacs.config")
        config.CfgNode = _AttrDict
        yacs.config = config
        sys.modules.update({"yacs": yacs, "yacs.config": config})


def _port():
    """The port's ``MoViNet``, its config root and its config helpers (peers venv only)."""
    if str(SHARED / "peers") not in sys.path:
        sys.path.insert(0, str(SHARED / "peers"))
    _stand_ins()
    from movinets import MoViNet
    from movinets.config import _C, fill_conv, fill_SE_config
    return MoViNet, _C, fill_conv, fill_SE_config


def _reduced_cfg(r: dict[str, Any]):
    """A ``CfgNode`` like ``_C.MODEL.MoViNetA0`` for the reduced net. The spatial ``padding`` /
    ``padding_avg`` entries are the symmetric ones (``tf_like=True`` ignores them; with
    ``tf_like=False`` the port is then litevid's ``padding="symmetric"``)."""
    from fvcore.common.config import CfgNode as CN

    _, _, fill_conv, fill_SE_config = _port()
    cfg = CN()
    cfg.name = "reduced"
    cfg.conv1 = CN()
    fill_conv(cfg.conv1, 3, r["stem_chs"], (1, 3, 3), (1, 2, 2), (0, 1, 1))
    cfg.blocks, cin = [], r["stem_chs"]
    for stage in r["stages"]:
        row = []
        for out, exp, kernel, stride in stage:
            node = CN()
            kt, kh, kw = kernel
            fill_SE_config(node, cin, out, exp, tuple(kernel), (1, stride, stride),
                           (kt // 2, kh // 2, kw // 2), (0, 1, 1))
            row.append(node)
            cin = out
        cfg.blocks.append(row)
    cfg.conv7 = CN()
    fill_conv(cfg.conv7, cin, r["head_chs"], (1, 1, 1), (1, 1, 1), (0, 0, 0))
    cfg.dense9 = CN()
    cfg.dense9.hidden_dim = r["hidden_dim"]
    return cfg


def _litevid_stages(cfg) -> list:
    """litevid's ``stages`` argument (JSON lists) read off a port config."""
    return [[[b.out_channels, b.expanded_channels, list(b.kernel_size), b.stride[1]]
             for b in stage] for stage in cfg.blocks]


def _builder(variant: str):
    def build(full: bool) -> Built:
        MoViNet, _C, _, _ = _port()
        if full:
            cfg, (T, S) = getattr(_C.MODEL, _FULL[variant]), (16, 224)
        else:
            r = _REDUCED[variant]
            cfg, (T, S) = _reduced_cfg(r), r["clip"]
        classes = _CLASSES if full else _REDUCED_CLASSES
        torch.manual_seed(0)
        net = MoViNet(cfg, causal=False, conv_type="3d", tf_like=True, num_classes=classes)
        randomize_(net, seed=1)
        g = torch.Generator().manual_seed(2)
        with torch.no_grad():
            for blk in net.blocks:
                blk.alpha.copy_(torch.rand((), generator=g) + 0.5)
        x = torch.rand(1, 3, T, S, S, generator=g)
        args = dict(num_classes=classes, stem_chs=cfg.conv1.out_channels,
                    head_chs=cfg.conv7.out_channels, hidden_dim=cfg.dense9.hidden_dim,
                    stages=_litevid_stages(cfg))
        if full:  # the registered configuration; only the classifier width is passed
            args = dict(num_classes=classes)
        return Built(peer=net, saved=net.state_dict(), x=x, model_args=args)
    return build


FIXTURES = [
    Fixture(name=f"movinet_{v}_tf_port", layout="movinet-tf-port", model=f"movinet_{v}",
            source=_SOURCE, build=_builder(v), suffix=".pth")
    for v in ("a0", "a2")
]
