"""Video Swin-T fixtures: torchvision ``SwinTransformer3d`` and the official Video Swin release.

Two Kinetics layouts load into litevid's ``swin_t``:

- ``torchvision-swin3d``: ``torchvision.models.video.swin_transformer.SwinTransformer3d``, saved
  as torchvision publishes it (a bare state dict, ``swin3d_t-7615ae03.pth``);
- ``video-swin-official``: ``SwinTransformer3D`` + mmaction2's ``I3DHead`` from
  github.com/SwinTransformer/Video-Swin-Transformer, saved as the release files are
  (``{"meta": ..., "state_dict": {"backbone.*", "cls_head.fc_cls.*"}}``). The repository has no
  package: unpack its public snapshot outside the repository first::

      G=<the bare snapshot>; mkdir -p ../peer_src/video_swin
      git --git-dir=$G archive HEAD mmaction configs LICENSE | tar -x -C ../peer_src/video_swin

  Its modules import mmcv / mmaction registries; minimal stand-ins are put into ``sys.modules``
  while the two files (``backbones/swin_transformer.py``, ``heads/i3d_head.py``) are imported,
  and removed again, so no other builder sees them.

The reduced configuration (patch 2x4x4, widths 8, 16, 32, depths 2,2,2, heads 1,2,4, 10 classes)
takes a ``(2, 3, 5, 38, 34)`` clip, so every padding path runs: 5 frames and 38 and 34 pixels are
no multiples of the tubelet, the token maps (3x10x9, 3x5x5, 3x3x3) are no multiples of a 2x3x3
window in time and (10, 5) in space, and 9 and 5 are odd at the merging layers. With window 2x3x3
(torchvision fixture) every stage shifts in time and the first two in space; the last map equals
the spatial window, so it is not shifted there (Video Swin's adaptive rule). With window 4x3x3
(official fixture) the 3-token time axis is smaller than the window: the window shrinks to 3 and
the shift to 0 in time. A map smaller than the window in height or width is avoided: there litevid
uses the true relative offsets while both originals (which agree with each other there) slice the
full window's index, so the logits differ by design (see ``litevid.models.video_swin``); in time,
the leading axis, the slice is the same as litevid's index. The relative position tables are scaled
up (std 1 instead of 0.02) so a wrong table row changes the logits well beyond the bound.

``full=True`` builds the published Swin-T (patch 2x4x4, window 8x7x7, depths 2,2,6,2, width 96,
400 classes) at 16x224x224.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import types
from typing import Any, Iterator

import torch
import torch.nn as nn

from .common import PEER_SRC, Built, Fixture, peer_import_path, randomize_

OFFICIAL_COMMIT = "db018fb8896251711791386bbd2127562fd8d6a6"
OFFICIAL_DIR = PEER_SRC / "video_swin"

SMALL = dict(patch_size=(2, 4, 4), embed_dim=8, depths=(2, 2, 2), num_heads=(1, 2, 4),
             num_classes=10)
SMALL_WINDOW = {"torchvision": (2, 3, 3), "official": (4, 3, 3)}
SMALL_CLIP = (2, 3, 5, 38, 34)
FULL = dict(patch_size=(2, 4, 4), embed_dim=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24),
            window=(8, 7, 7), num_classes=400)
FULL_CLIP = (1, 3, 16, 224, 224)
TABLE_STD = 1.0  # relative position tables: a wrong row must show in the logits


def _config(full: bool, which: str) -> tuple[dict[str, Any], tuple[int, ...]]:
    """The configuration and clip shape of ``which`` original."""
    if full:
        return FULL, FULL_CLIP
    return dict(SMALL, window=SMALL_WINDOW[which]), SMALL_CLIP


def _model_args(cfg: dict[str, Any]) -> dict[str, Any]:
    """litevid ``create_model("swin_t", ...)`` arguments (JSON: lists for tuples)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()}


def _finish(model: nn.Module, seed: int) -> nn.Module:
    """``randomize_`` and bias tables of std ``TABLE_STD``."""
    randomize_(model, seed=seed)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("relative_position_bias_table"):
                p.copy_(torch.randn(p.shape, generator=g) * TABLE_STD)
    return model.eval()


# ---- torchvision -------------------------------------------------------------------------------


def build_torchvision(full: bool) -> Built:
    from torchvision.models.video import swin3d_t
    from torchvision.models.video.swin_transformer import SwinTransformer3d

    cfg, clip = _config(full, "torchvision")
    if full:
        model = swin3d_t(num_classes=cfg["num_classes"])
    else:
        model = SwinTransformer3d(
            patch_size=list(cfg["patch_size"]), embed_dim=cfg["embed_dim"],
            depths=list(cfg["depths"]), num_heads=list(cfg["num_heads"]),
            window_size=list(cfg["window"]), num_classes=cfg["num_classes"])
    _finish(model, seed=1)
    x = torch.randn(clip, generator=torch.Generator().manual_seed(2))
    return Built(peer=model, saved=model.state_dict(), x=x, model_args=_model_args(cfg))


# ---- official Video Swin (mmaction2-based) -----------------------------------------------------


class _Registry:
    """mmcv ``Registry`` stand-in: ``register_module()`` returns the class unchanged."""

    def register_module(self, *args: Any, **kwargs: Any):
        return lambda cls: cls


def _package(name: str, path: str | None = None) -> types.ModuleType:
    """A module that is a package over ``path`` without running its ``__init__.py``."""
    mod = types.ModuleType(name)
    mod.__path__ = [path] if path else []
    return mod


@contextlib.contextmanager
def _official_modules() -> Iterator[None]:
    """Stand-ins for what the two official files import from mmcv / mmaction, for the import.

    ``mmaction`` and its sub-packages point at the unpacked snapshot (so the real
    ``swin_transformer.py`` and ``i3d_head.py`` are imported) without their ``__init__``; the
    registries, ``build_loss``, ``normal_init``, ``load_checkpoint`` and ``get_root_logger`` are
    no-ops (only used for training / loading from files). Everything added to ``sys.modules`` is
    removed afterwards.
    """
    peer_import_path(OFFICIAL_DIR)
    root = OFFICIAL_DIR / "mmaction"
    stubs = {
        "mmcv": _package("mmcv"),
        "mmcv.runner": types.ModuleType("mmcv.runner"),
        "mmcv.cnn": types.ModuleType("mmcv.cnn"),
        "mmaction": _package("mmaction", str(root)),
        "mmaction.utils": types.ModuleType("mmaction.utils"),
        "mmaction.core": types.ModuleType("mmaction.core"),
        "mmaction.models": _package("mmaction.models", str(root / "models")),
        "mmaction.models.builder": types.ModuleType("mmaction.models.builder"),
        "mmaction.models.backbones": _package("mmaction.models.backbones",
                                              str(root / "models" / "backbones")),
        "mmaction.models.heads": _package("mmaction.models.heads", str(root / "models" / "heads")),
    }
    stubs["mmcv.runner"].load_checkpoint = lambda *a, **k: None
    stubs["mmcv.cnn"].normal_init = lambda module, std=1.0, **k: nn.init.normal_(module.weight,
                                                                                  std=std)
    stubs["mmaction.utils"].get_root_logger = lambda *a, **k: None
    stubs["mmaction.core"].top_k_accuracy = lambda *a, **k: None
    builder = stubs["mmaction.models.builder"]
    builder.BACKBONES, builder.HEADS = _Registry(), _Registry()
    builder.build_loss = lambda cfg: None
    clash = [n for n in stubs if n in sys.modules]
    if clash:
        raise RuntimeError(f"modules already imported, cannot stand in for them: {clash}")
    before = set(sys.modules)
    sys.modules.update(stubs)
    try:
        yield
    finally:
        for name in set(sys.modules) - before:
            if name.split(".")[0] in ("mmcv", "mmaction"):
                del sys.modules[name]


class OfficialRecognizer(nn.Module):
    """What mmaction2's ``Recognizer3D`` holds and does at test time for one clip: ``backbone``
    then ``cls_head`` (the state dict keys of the release files)."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        with _official_modules():
            swin = importlib.import_module("mmaction.models.backbones.swin_transformer")
            i3d = importlib.import_module("mmaction.models.heads.i3d_head")
        # the Kinetics-400 config: swin_tiny.py with patch_size=(2,4,4), drop_path_rate=0.1
        self.backbone = swin.SwinTransformer3D(
            patch_size=cfg["patch_size"], embed_dim=cfg["embed_dim"], depths=list(cfg["depths"]),
            num_heads=list(cfg["num_heads"]), window_size=cfg["window"], mlp_ratio=4.0,
            qkv_bias=True, qk_scale=None, drop_rate=0.0, attn_drop_rate=0.0,
            drop_path_rate=0.1, patch_norm=True)
        self.backbone.init_weights()
        self.cls_head = i3d.I3DHead(num_classes=cfg["num_classes"],
                                    in_channels=self.backbone.num_features, spatial_type="avg",
                                    dropout_ratio=0.5)
        self.cls_head.init_weights()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cls_head(self.backbone(x))


def build_official(full: bool) -> Built:
    cfg, clip = _config(full, "official")
    model = _finish(OfficialRecognizer(cfg), seed=3)
    x = torch.randn(clip, generator=torch.Generator().manual_seed(4))
    meta = {"mmaction_version": "0.18.0", "epoch": 30, "iter": 0,
            "config": "configs/recognition/swin/swin_tiny_patch244_window877_kinetics400_1k.py"}
    return Built(peer=model, saved={"meta": meta, "state_dict": model.state_dict()}, x=x,
                 model_args=_model_args(cfg))


FIXTURES = [
    Fixture(name="swin_t_torchvision_swin3d", layout="torchvision-swin3d", model="swin_t",
            source="torchvision.models.video.swin_transformer.SwinTransformer3d (swin3d_t)",
            build=build_torchvision),
    Fixture(name="swin_t_video_swin_official", layout="video-swin-official", model="swin_t",
            source="github.com/SwinTransformer/Video-Swin-Transformer@" + OFFICIAL_COMMIT
                   + " mmaction/models/backbones/swin_transformer.py SwinTransformer3D + "
                   "mmaction/models/heads/i3d_head.py I3DHead",
            build=build_official),
]
