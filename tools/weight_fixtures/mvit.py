"""MViT v1 fixtures: torchvision ``mvit_v1_b``, pytorchvideo's MViT and SlowFast's MViT (v1 code
and today's code), each loaded into litevid's ``MViT`` (``mvit_s`` with the same configuration).

The reduced configuration keeps everything MViT-B does at a size whose weights are ~150 KB:
4 blocks, widths 8 -> 16 -> 32 and heads 1 -> 2 -> 4 (the MLP widens one block before the width
multiplier, as in every original), query pooling (1, 2, 2) at blocks 1 and 3 with max-pooled
residuals, the adaptive K/V stride (1, 4, 4) -> (1, 2, 2) -> (1, 1, 1) (a stride-1 3x3x3 pooling
conv in the last block), the overlapping (3, 7, 7) / (2, 4, 4) cube embedding, on a 4x32x32 clip
(2x8x8 tokens). ``full=True`` builds the published MViT-B 16x4 at 16x224x224.

SlowFast has no package. Its code is imported from public snapshots of
github.com/facebookresearch/SlowFast unpacked under ``PEER_SRC`` (``git archive`` of the
``slowfast`` and ``configs`` folders; the repository's large demo files are not in the snapshot):

* ``SlowFast-mvit1``: commit 6069ea9 (2022-06-15), the last MViT v1 code before the MViTv2
  release, the code of ``K400_MVIT_B_16x4_CONV.pyth`` (its ``attention.py`` is unchanged since
  the 2021 release; separate ``attn.q/k/v``, pooling LayerNorms with eps 1e-5);
* ``SlowFast``: commit 287ec00 (2026-03-16), today's code in the MViT v1 configuration (fused
  ``attn.qkv``, pooling LayerNorms with eps 1e-6).

Only ``slowfast.models`` is imported; its package ``__init__`` files (which pull in the training
stack), the logging module, the model registry, detectron2's ``ROIAlign`` (used only by the
detection heads) and fvcore's yacs-based ``CfgNode`` (yacs is not installed with the peers) are
replaced by stand-ins. The configuration is SlowFast's ``get_cfg()``
defaults plus ``configs/Kinetics/MVIT_B_16x4_CONV.yaml`` (full size) or its reduced values.
SlowFast's ``TransformerBasicHead`` applies a softmax in eval mode; the peer's logits are taken
before it (the activation is replaced by ``Identity``), which changes no weight.
"""

from __future__ import annotations

import ast
import copy
import importlib
import importlib.machinery
import importlib.util
import json
import sys
import types
from typing import Any

import torch
import torch.nn as nn

from .common import (PEER_SRC, Built, Fixture, peer_import_path, randomize_, stub_fvcore_deps,
                     stub_module)

SLOWFAST_V1 = ("SlowFast-mvit1", "6069ea9002a1112bbb29ae4f7cb515ad2aff5970")
SLOWFAST_NOW = ("SlowFast", "287ec0076846560f44a9327e931a5a2360240533")

CLASSES = 10


def _config(full: bool) -> dict[str, Any]:
    """One MViT v1 configuration in neutral terms (block -> value dicts)."""
    if full:  # MViT-B 16x4 (MViT paper Table 3a; every original's published configuration)
        return dict(frames=16, size=224, embed_dim=96, depth=16, classes=400,
                    mul={1: 2.0, 3: 2.0, 14: 2.0},
                    stride_q={1: (1, 2, 2), 3: (1, 2, 2), 14: (1, 2, 2)}, stride_kv=(1, 8, 8))
    return dict(frames=4, size=32, embed_dim=8, depth=4, classes=CLASSES,
                mul={1: 2.0, 3: 2.0}, stride_q={1: (1, 2, 2), 3: (1, 2, 2)}, stride_kv=(1, 4, 4))


def _litevid_args(c: dict[str, Any]) -> dict[str, Any]:
    return dict(num_classes=c["classes"], frames=c["frames"], size=c["size"],
                embed_dim=c["embed_dim"], depth=c["depth"], num_heads=1,
                patch_kernel=(3, 7, 7), patch_stride=(2, 4, 4), patch_padding=(1, 3, 3),
                dim_mul=dict(c["mul"]), stride_q=dict(c["stride_q"]),
                stride_kv=c["stride_kv"], pool_kernel=(3, 3, 3))


def _clip(c: dict[str, Any]) -> torch.Tensor:
    return torch.randn(1, 3, c["frames"], c["size"], c["size"])


# ---- torchvision -------------------------------------------------------------------------------


def build_torchvision(full: bool) -> Built:
    from torchvision.models.video import mvit as tv

    c = _config(full)
    if full:
        model = tv.mvit_v1_b()
    else:  # the block_setting mvit_v1_b writes out, for the reduced configuration
        blocks, dim, heads, kv = [], c["embed_dim"], 1, list(c["stride_kv"])
        for i in range(c["depth"]):
            if i in c["mul"]:
                dim, heads = int(dim * c["mul"][i]), int(heads * c["mul"][i])
            sq = list(c["stride_q"].get(i, ()))
            kv = [max(a // b, 1) for a, b in zip(kv, sq)] if sq else kv
            blocks.append(tv.MSBlockConfig(
                num_heads=heads, input_channels=dim,
                output_channels=int(dim * c["mul"].get(i + 1, 1.0)),
                kernel_q=[3, 3, 3] if sq else [], kernel_kv=[3, 3, 3], stride_q=sq,
                stride_kv=list(kv)))
        model = tv.MViT(spatial_size=(c["size"],) * 2, temporal_size=c["frames"],
                        block_setting=blocks, residual_pool=False, residual_with_cls_embed=False,
                        rel_pos_embed=False, proj_after_attn=False, num_classes=c["classes"])
    randomize_(model, seed=1)
    return Built(peer=model, saved=model.state_dict(), x=_clip(c), model_args=_litevid_args(c))


# ---- pytorchvideo ------------------------------------------------------------------------------


def build_pytorchvideo(full: bool) -> Built:
    stub_fvcore_deps()
    from pytorchvideo.models.vision_transformers import create_multiscale_vision_transformers

    c = _config(full)
    model = create_multiscale_vision_transformers(  # = pytorchvideo.models.hub.mvit_base_16x4
        spatial_size=c["size"], temporal_size=c["frames"], depth=c["depth"],
        patch_embed_dim=c["embed_dim"],
        embed_dim_mul=[[i, m] for i, m in c["mul"].items()],
        atten_head_mul=[[i, m] for i, m in c["mul"].items()],
        pool_q_stride_size=[[i, *s] for i, s in c["stride_q"].items()],
        pool_kv_stride_adaptive=list(c["stride_kv"]), pool_kvq_kernel=[3, 3, 3],
        head_num_classes=c["classes"])
    randomize_(model, seed=2)
    # the model zoo's .pyth: {"model_state": state_dict} (pytorchvideo.models.hub.utils)
    return Built(peer=model, saved={"model_state": model.state_dict()}, x=_clip(c),
                 model_args=_litevid_args(c))


# ---- SlowFast ----------------------------------------------------------------------------------


class _CfgNode(dict):
    """Stand-in for fvcore's ``CfgNode`` (yacs) as SlowFast's ``config/defaults.py`` and this
    module use it: attribute access, ``clone``, ``merge_from_file`` (YAML values written as
    Python literals, e.g. ``(3, 7, 7)``, are evaluated, as yacs does)."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def clone(self) -> "_CfgNode":
        return copy.deepcopy(self)

    def merge_from_file(self, path: str) -> None:
        import yaml

        with open(path) as f:
            self._merge(yaml.safe_load(f))

    def _merge(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            if isinstance(value, dict):
                self[key]._merge(value)
                continue
            if isinstance(value, str):
                try:
                    value = ast.literal_eval(value)
                except (ValueError, SyntaxError):
                    pass
            self[key] = value


class _Registry:
    """Stand-in for fvcore's ``Registry`` as ``slowfast.models.build`` uses it."""

    def register(self, obj: Any = None) -> Any:
        return obj if obj is not None else (lambda o: o)


def _import_slowfast(snapshot: str) -> tuple[types.ModuleType, types.ModuleType]:
    """``slowfast.models.video_model_builder`` and ``slowfast.config.defaults`` of one snapshot.

    Both snapshots are the package ``slowfast``, and fvcore's real ``common.config`` must stay
    for other builders: every ``slowfast``/``detectron2`` module and stand-in is taken out of
    ``sys.modules`` again once imported (the returned modules keep what they reference).
    """
    import logging

    root = PEER_SRC / snapshot
    peer_import_path(root)
    sys.path.remove(str(root))  # the packages come from the stand-ins' __path__ below
    stub_fvcore_deps()

    def ours(name: str) -> bool:
        return name.split(".")[0] in ("slowfast", "detectron2") or name == "fvcore.common.config"

    before = {n: m for n, m in sys.modules.items() if ours(n)}
    for name in before:
        del sys.modules[name]
    try:
        pkg = root / "slowfast"
        for name, path in (("slowfast", pkg), ("slowfast.models", pkg / "models"),
                           ("slowfast.utils", pkg / "utils"), ("slowfast.config", pkg / "config")):
            stub_module(name, path)
        stub_module("slowfast.utils.logging", get_logger=logging.getLogger)
        stub_module("slowfast.models.build", MODEL_REGISTRY=_Registry())
        stub_module("fvcore.common.config", CfgNode=_CfgNode)  # fvcore's needs yacs (not a peer)
        stub_module("detectron2", path=root / "absent")  # only the detection heads' ROIAlign
        stub_module("detectron2.layers", ROIAlign=nn.Identity)
        return (importlib.import_module("slowfast.models.video_model_builder"),
                importlib.import_module("slowfast.config.defaults"))
    finally:
        for name in [n for n in sys.modules if ours(n)]:
            del sys.modules[name]
        sys.modules.update(before)


def _slowfast_cfg(defaults: types.ModuleType, snapshot: str, full: bool) -> Any:
    cfg = defaults.get_cfg()
    c = _config(full)
    if full:
        cfg.merge_from_file(str(PEER_SRC / snapshot / "configs/Kinetics/MVIT_B_16x4_CONV.yaml"))
    else:  # the yaml's settings, reduced
        cfg.MVIT.update(dict(
            SEP_POS_EMBED=True, DEPTH=c["depth"], NUM_HEADS=1, EMBED_DIM=c["embed_dim"],
            PATCH_KERNEL=(3, 7, 7), PATCH_STRIDE=(2, 4, 4), PATCH_PADDING=(1, 3, 3),
            MLP_RATIO=4.0, QKV_BIAS=True, NORM="layernorm", MODE="conv", CLS_EMBED_ON=True,
            DIM_MUL=[[i, m] for i, m in c["mul"].items()],
            HEAD_MUL=[[i, m] for i, m in c["mul"].items()], POOL_KVQ_KERNEL=[3, 3, 3],
            POOL_KV_STRIDE_ADAPTIVE=list(c["stride_kv"]),
            POOL_Q_STRIDE=[[i, *s] for i, s in c["stride_q"].items()], DROPOUT_RATE=0.0))
        cfg.MODEL.update(dict(NUM_CLASSES=c["classes"], ARCH="mvit", MODEL_NAME="MViT",
                              DROPOUT_RATE=0.5))
        cfg.DATA.update(dict(NUM_FRAMES=c["frames"], TRAIN_CROP_SIZE=c["size"],
                             TEST_CROP_SIZE=c["size"], INPUT_CHANNEL_NUM=[3]))
    cfg.NUM_GPUS = 0
    return cfg


def _build_slowfast(snapshot: str, full: bool, seed: int) -> Built:
    builder, defaults = _import_slowfast(snapshot)
    cfg = _slowfast_cfg(defaults, snapshot, full)
    model = builder.MViT(cfg)
    randomize_(model, seed=seed)
    model.head.act = nn.Identity()  # logits, not the eval-mode softmax (no weights involved)
    c = _config(full)
    # SlowFast's checkpoint files (slowfast/utils/checkpoint.py save_checkpoint): {"epoch",
    # "model_state", "optimizer_state", "cfg": the configuration as text}; no optimizer here
    saved = {"epoch": 200, "model_state": model.state_dict(),
             "cfg": json.dumps(cfg, default=str)}
    return Built(peer=lambda x: model([x]), saved=saved, x=_clip(c), model_args=_litevid_args(c))


def build_slowfast_v1(full: bool) -> Built:
    return _build_slowfast(SLOWFAST_V1[0], full, seed=3)


def build_slowfast_now(full: bool) -> Built:
    return _build_slowfast(SLOWFAST_NOW[0], full, seed=4)


FIXTURES = [
    Fixture(name="mvit_torchvision", layout="torchvision-mvit", model="mvit_s",
            source="torchvision.models.video.mvit (MViT / mvit_v1_b)", build=build_torchvision),
    Fixture(name="mvit_pytorchvideo", layout="pytorchvideo-mvit", model="mvit_s",
            source="pytorchvideo.models.vision_transformers.create_multiscale_vision_transformers",
            build=build_pytorchvideo, suffix=".pyth"),
    Fixture(name="mvit_slowfast", layout="slowfast-mvit", model="mvit_s",
            source=f"github.com/facebookresearch/SlowFast@{SLOWFAST_V1[1]} "
                   "slowfast/models/video_model_builder.py MViT",
            build=build_slowfast_v1, suffix=".pyth"),
    Fixture(name="mvit_slowfast_qkv", layout="slowfast-mvit-qkv", model="mvit_s",
            source=f"github.com/facebookresearch/SlowFast@{SLOWFAST_NOW[1]} "
                   "slowfast/models/video_model_builder.py MViT",
            build=build_slowfast_now, suffix=".pyth"),
]
