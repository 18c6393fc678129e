"""TimeSformer: the official release (``facebookresearch/TimeSformer``) and Hugging Face's port.

Official: ``timesformer/models/vit.py``'s ``VisionTransformer(attention_type=
"divided_space_time")`` held as ``.model`` by the release's wrapper (``TimeSformer`` /
``vit_base_patch16_224``), so every key starts with ``model.``; the training code saves
``{"epoch", "model_state", "optimizer_state", "cfg"}`` (``timesformer/utils/checkpoint.py``
``save_checkpoint``) as ``.pyth``, e.g. ``TimeSformer_divST_8x32_224_K400.pyth``. The package's
``__init__`` files set up the training environment (simplejson, iopath logging, the ResNet and
SlowFast builders) and ``build.py`` needs fvcore's registry (tabulate); none of it is needed to
build the network, so ``_official_vit`` imports ``vit.py`` under stand-in package modules, with
a stand-in registry and ``torch._six`` (removed from torch) only where the real ones are absent.
Full size: the release's own ``TimeSformer`` class (ViT-B/16, LayerNorm eps 1e-6, qkv bias) at
the K400 clip, 8x224x224, 400 classes, its ImageNet download switched off.

Hugging Face: ``transformers`` ``TimesformerForVideoClassification``; the published files
(``facebook/timesformer-base-finetuned-k400``, ``model.safetensors``) hold its flat state dict,
saved here as ``.safetensors``. It takes ``pixel_values`` ``(B, T, C, H, W)``. Full size: the
default ``TimesformerConfig`` (the K400 model's) with 400 labels.

Reduced configuration (both): D = 32, 2 blocks, 4x32x32 clips in 8x8 patches (a 4x4 grid), 10
classes; 2 heads for the official model, 4 for Hugging Face's (another head split).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from functools import partial
from types import ModuleType

import torch
import torch.nn as nn

from .common import PEER_SRC, Built, Fixture, peer_import_path, randomize_

COMMIT = "a5ef29a7b7264baff199a30b3306ac27de901133"  # facebookresearch/TimeSformer snapshot
REPO = PEER_SRC / "TimeSformer"
SMALL = dict(frames=4, size=32, patch_size=8, embed_dim=32, depth=2, num_classes=10)


def _official_vit() -> ModuleType:
    """``timesformer.models.vit`` from the unpacked official repository, built-only imports.

    ``timesformer`` and ``timesformer.models`` are stand-in package modules pointing at the
    repository's folders, so their ``__init__`` files (training environment, other models) do
    not run; ``timesformer.models.build`` gets a registry whose ``register`` only returns the
    class when fvcore's registry cannot be imported; ``torch._six.container_abcs`` is
    ``collections.abc`` when torch no longer has it.
    """
    peer_import_path(REPO)
    if "timesformer.models.vit" in sys.modules:
        return sys.modules["timesformer.models.vit"]
    root = REPO / "timesformer"
    for name, path in (("timesformer", root), ("timesformer.models", root / "models")):
        pkg = types.ModuleType(name)
        pkg.__path__ = [str(path)]
        sys.modules[name] = pkg
    try:
        importlib.import_module("fvcore.common.registry")
    except ImportError:
        build = types.ModuleType("timesformer.models.build")

        class _Registry:
            def register(self, obj: type | None = None):
                return obj if obj is not None else (lambda o: o)

        build.MODEL_REGISTRY = _Registry()
        sys.modules["timesformer.models.build"] = build
    if importlib.util.find_spec("torch._six") is None:
        import collections.abc
        six = types.ModuleType("torch._six")
        six.container_abcs = collections.abc
        sys.modules["torch._six"] = six
    return importlib.import_module("timesformer.models.vit")


class _Release(nn.Module):
    """The release's wrapper at a reduced size: the ViT held as ``.model`` (key prefix)."""

    def __init__(self, vit: nn.Module) -> None:
        super().__init__()
        self.model = vit

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def _release_file(model: nn.Module) -> dict:
    """What ``save_checkpoint`` writes (an empty optimizer state keeps the file small)."""
    sd = model.state_dict()
    groups = [{"lr": 0.005, "momentum": 0.9, "weight_decay": 1e-4,
               "params": list(range(len(sd)))}]
    return {"epoch": 15, "model_state": sd,
            "optimizer_state": {"state": {}, "param_groups": groups},
            "cfg": "MODEL:\n  MODEL_NAME: vit_base_patch16_224\nTIMESFORMER:\n  ATTENTION_TYPE: "
                   "divided_space_time\n"}


def build_official(full: bool) -> Built:
    vit = _official_vit()
    if full:
        frames, size = 8, 224
        loader = vit.load_pretrained
        vit.load_pretrained = lambda *a, **k: None  # the wrapper downloads ImageNet weights
        try:
            peer = vit.TimeSformer(img_size=size, num_classes=400, num_frames=frames,
                                   attention_type="divided_space_time")
        finally:
            vit.load_pretrained = loader
        args: dict = dict(frames=frames, size=size, num_classes=400)
        batch = 1
    else:
        a = SMALL
        frames, size = a["frames"], a["size"]
        peer = _Release(vit.VisionTransformer(  # the release's arguments, reduced sizes
            img_size=size, patch_size=a["patch_size"], num_classes=a["num_classes"],
            embed_dim=a["embed_dim"], depth=a["depth"], num_heads=2, mlp_ratio=4, qkv_bias=True,
            norm_layer=partial(nn.LayerNorm, eps=1e-6), drop_rate=0.0, attn_drop_rate=0.0,
            drop_path_rate=0.1, num_frames=frames, attention_type="divided_space_time"))
        args = dict(SMALL, num_heads=2)
        batch = 2
    randomize_(peer, seed=3)
    x = torch.randn(batch, 3, frames, size, size, generator=torch.Generator().manual_seed(4))
    return Built(peer=peer, saved=_release_file(peer), x=x, model_args=args)


def build_hf(full: bool) -> Built:
    from transformers import TimesformerConfig, TimesformerForVideoClassification

    if full:
        config = TimesformerConfig(num_labels=400)
        args: dict = dict(frames=config.num_frames, size=config.image_size, num_classes=400)
        batch = 1
    else:
        a = SMALL
        config = TimesformerConfig(
            image_size=a["size"], patch_size=a["patch_size"], num_frames=a["frames"],
            hidden_size=a["embed_dim"], num_hidden_layers=a["depth"], num_attention_heads=4,
            intermediate_size=4 * a["embed_dim"], num_labels=a["num_classes"])
        args = dict(SMALL, num_heads=4)
        batch = 2
    model = randomize_(TimesformerForVideoClassification(config), seed=5)
    frames, size = args["frames"], args["size"]
    x = torch.randn(batch, 3, frames, size, size, generator=torch.Generator().manual_seed(6))
    return Built(peer=lambda px: model(pixel_values=px).logits, saved=model.state_dict(), x=x,
                 model_args=args, peer_x=x.permute(0, 2, 1, 3, 4).contiguous())


FIXTURES = [
    Fixture(name="timesformer_official", layout="timesformer-official", model="timesformer",
            source=f"facebookresearch/TimeSformer@{COMMIT} timesformer/models/vit.py "
                   "VisionTransformer in the release wrapper "
                   "(TimeSformer_divST_8x32_224_K400.pyth)",
            build=build_official, suffix=".pyth"),
    Fixture(name="timesformer_hf", layout="hf-timesformer", model="timesformer",
            source="transformers TimesformerForVideoClassification "
                   "(facebook/timesformer-base-finetuned-k400, model.safetensors)",
            build=build_hf, suffix=".safetensors"),
]
