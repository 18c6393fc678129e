"""TSM-R50: the TSM repository's ``TSN`` (mit-han-lab/temporal-shift-module), its released layout.

The original is imported from the public snapshot unpacked under ``PEER_SRC /
"temporal-shift-module"`` (commit ``TSM_COMMIT``)::

    mkdir -p ../peer_src/temporal-shift-module
    git --git-dir=<fetched mirror> archive HEAD | tar -x -C ../peer_src/temporal-shift-module

``ops.models.TSN(num_class, num_segments, "RGB", base_model="resnet50", is_shift=True,
shift_div=8, shift_place="blockres")`` takes a torchvision ResNet-50 by name, wraps every block's
``conv1`` as ``ops.temporal_shift.TemporalShift(net=conv1)`` (``make_temporal_shift``), turns
``fc`` into dropout and adds ``new_fc``; its forward takes ``(B, T*3, H, W)`` and averages the
segment logits. The released files were saved from ``DataParallel`` as main.py saves them:
``{"epoch", "arch", "state_dict": {"module.base_model.conv1.weight", ...,
"module.base_model.layer1.0.conv1.net.weight", ..., "module.new_fc.weight"}, ...}``.

Reduced configuration: TSN builds its base model by calling ``torchvision.models.<name>(False)``;
the builder offers it, under a temporary name containing "resnet", a torchvision ``ResNet`` with
torchvision's own ``Bottleneck`` blocks rebuilt narrow and shallow through its ``_make_layer``
(stem 8, widths 4/8/16/32, blocks 2/1/2/1); TSN and ``make_temporal_shift`` then wrap it exactly
as the repository does (shift_div 8, blockres, 4 segments, dropout 0.5, 10 classes). Input 2
clips of 4x48x48. Full size: torchvision ``resnet50``, 8 segments (the repository's Kinetics
setting), 2 clips of 8x224x224. Both: classifier weights of std 1/sqrt(fan_in) and a random
colour per frame, so the logits depend on the clip and on the shift.
"""

from __future__ import annotations

import contextlib
import io
import sys
import warnings
from pathlib import Path
from typing import Callable

import torch.nn as nn

from .common import (PEER_SRC, Built, Fixture, peer_import_path, randomize_, spread_classifier,
                     varied_clip)

TSM_COMMIT = "1f6a834b02120441d99fa706b7a13ccc5293c6fa"
TSM_DIR = PEER_SRC / "temporal-shift-module"

REDUCED = dict(layers=(2, 1, 2, 1), widths=(4, 8, 16, 32), stem_width=8)
_BASE_NAME = "resnet_litevid_fixture"  # contains "resnet": TSN takes the torchvision branch


def _import_tsn() -> type:
    """``ops.models.TSN`` from the unpacked repository (its package is called ``ops``)."""
    peer_import_path(TSM_DIR)
    loaded = sys.modules.get("ops")
    if loaded is not None and Path(getattr(loaded, "__file__", "") or "").parent.parent != TSM_DIR:
        for name in [n for n in sys.modules if n == "ops" or n.startswith("ops.")]:
            del sys.modules[name]  # another repository's ``ops``: import the TSM one
    from ops.models import TSN
    return TSN


def _narrow_resnet(layers: tuple[int, ...], widths: tuple[int, ...],
                   stem_width: int) -> Callable[..., nn.Module]:
    """A factory TSN can call as ``torchvision.models.<name>(pretrained)``: torchvision's
    ``ResNet`` with its stem and stages rebuilt at the given widths by its own ``_make_layer``."""
    from torchvision.models.resnet import Bottleneck, ResNet

    def build(pretrained: bool = False) -> nn.Module:
        assert not pretrained
        net = ResNet(Bottleneck, [1, 1, 1, 1])
        net.inplanes = stem_width
        net.conv1 = nn.Conv2d(3, stem_width, kernel_size=7, stride=2, padding=3, bias=False)
        net.bn1 = nn.BatchNorm2d(stem_width)
        for i, (n, planes) in enumerate(zip(layers, widths)):
            setattr(net, f"layer{i + 1}", net._make_layer(Bottleneck, planes, n,
                                                          stride=1 if i == 0 else 2))
        net.fc = nn.Linear(widths[-1] * Bottleneck.expansion, 1000)
        return net

    return build


@contextlib.contextmanager
def _offered_as(name: str, factory: Callable[..., nn.Module]):
    """Make ``torchvision.models.<name>`` the factory while TSN is built."""
    import torchvision.models as tvm

    setattr(tvm, name, factory)
    try:
        yield
    finally:
        delattr(tvm, name)


def build(full: bool) -> Built:
    TSN = _import_tsn()
    segments, size, classes = (8, 224, 400) if full else (4, 48, 10)
    tsn_args = dict(is_shift=True, shift_div=8, shift_place="blockres", dropout=0.5,
                    pretrain="scratch", print_spec=False)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        # TSN and TemporalShift print their setup; TSN calls torchvision's builder the pre-0.13
        # way (``resnet50(False)``), which warns
        warnings.simplefilter("ignore", UserWarning)
        if full:
            peer = TSN(classes, segments, "RGB", base_model="resnet50", **tsn_args)
        else:
            with _offered_as(_BASE_NAME, _narrow_resnet(**REDUCED)):
                peer = TSN(classes, segments, "RGB", base_model=_BASE_NAME, **tsn_args)
    randomize_(peer, seed=3)
    spread_classifier(peer.new_fc, seed=5)
    B = 2
    x = varied_clip(B, segments, size, seed=4)
    peer_x = x.transpose(1, 2).reshape(B, segments * 3, size, size)  # TSN's (B, T*C, H, W)
    saved = {"epoch": 1, "arch": "resnet50",
             "state_dict": {f"module.{k}": v for k, v in peer.state_dict().items()}}
    args: dict = dict(num_classes=classes)
    if not full:
        args.update({k: list(v) if isinstance(v, tuple) else v for k, v in REDUCED.items()})
    return Built(peer=peer, saved=saved, x=x, model_args=args, peer_x=peer_x)


FIXTURES = [
    Fixture(name="tsm_r50_tsm_repo", layout="tsm-repo", model="tsm_r50",
            source=f"mit-han-lab/temporal-shift-module@{TSM_COMMIT} ops.models.TSN "
                   "(resnet50, is_shift, shift_div 8, blockres)",
            build=build, suffix=".pth"),
]
