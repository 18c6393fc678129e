"""MViT checkpoint layouts: what the generic parity test (``test_checkpoint_layouts.py``) does not
show on its own.

The fixtures ``tests/fixtures/weights/mvit_*`` come from torchvision, pytorchvideo and two
SlowFast snapshots (``tools/weight_fixtures/mvit.py``). Here: the pooling-LayerNorm eps each
original uses is needed for parity (so ``adapt_to_layout`` cannot be dropped), the four layouts
are told apart from each other and from litevid's own keys, the fused ``qkv`` split is in
q, k, v order, keys litevid cannot use are reported, and JSON-form arguments build the same model.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import litevid
from litevid.models._layouts import detect_layout
from litevid.models._weights import load_checkpoint
from litevid.models.mvit import POOL_NORM_EPS, AttentionPool

FIXTURES = Path(__file__).parent / "fixtures" / "weights"
NAMES = {"mvit_torchvision": "torchvision-mvit", "mvit_pytorchvideo": "pytorchvideo-mvit",
         "mvit_slowfast": "slowfast-mvit", "mvit_slowfast_qkv": "slowfast-mvit-qkv"}


def _meta(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def _model(name: str) -> torch.nn.Module:
    args = _meta(name)["model_args"]  # JSON form: string block numbers, lists
    return litevid.create_model("mvit_s", **args).eval()


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def _pool_eps(model: torch.nn.Module) -> set[float]:
    return {m.norm.eps for m in model.modules() if isinstance(m, AttentionPool)}


@pytest.mark.parametrize("name", ["mvit_pytorchvideo", "mvit_slowfast"])
def test_pool_norm_eps_of_the_original_is_needed(name):
    model = _model(name)
    assert _pool_eps(model) == {1e-6}
    report = model.load_pretrained(FIXTURES / _meta(name)["file"], keep_head=True)
    assert _pool_eps(model) == {POOL_NORM_EPS[report.layout]} == {1e-5}
    assert any("eps 1e-05" in note for note in report.notes)
    io = torch.load(FIXTURES / f"{name}.io.pt", weights_only=True)
    with torch.no_grad():
        assert _rel(model(io["input"]), io["logits"]) <= 1e-5
        for m in model.modules():
            if isinstance(m, AttentionPool):
                m.norm.eps = 1e-6  # torchvision's value: measurably different logits
        assert _rel(model(io["input"]), io["logits"]) > 1e-4


def test_layouts_are_told_apart():
    states = {name: load_checkpoint(FIXTURES / _meta(name)["file"]) for name in NAMES}
    for name, state in states.items():
        assert detect_layout(state, "mvit_s").name == NAMES[name]
    # MViTv2 (relative positions instead of absolute ones) is no layout litevid's MViT takes
    v2 = {k: v for k, v in states["mvit_torchvision"].items() if k != "pos_encoding.spatial_pos"}
    assert detect_layout(v2, "mvit_s") is None
    own = _model("mvit_torchvision").state_dict()
    assert detect_layout(own, "mvit_s").name == "litevid"
    # litevid's own keys pass the filter unchanged (no rename matches them)
    mapped = _model("mvit_torchvision").checkpoint_filter(dict(own))
    assert list(mapped) == list(own) and all(mapped[k] is own[k] for k in own)


def test_fused_qkv_rows_are_q_k_v():
    state = load_checkpoint(FIXTURES / "mvit_torchvision.pth")
    model = _model("mvit_torchvision")
    mapped = model.checkpoint_filter(dict(state))
    w = state["blocks.1.attn.qkv.weight"]
    d = w.shape[1]
    for i, part in enumerate("qkv"):
        assert torch.equal(mapped[f"blocks.1.attn.{part}.weight"], w[i * d:(i + 1) * d])
    assert mapped["cls_token"].shape == (1, 1, d // 2)  # block 1 is twice the embedding width
    assert "blocks.1.attn.qkv.weight" not in mapped


def test_unusable_keys_are_reported():
    # an MViTv2 relative-position table has no place in litevid's MViT v1
    state = dict(load_checkpoint(FIXTURES / "mvit_slowfast_qkv.pyth"))
    state["blocks.0.attn.rel_pos_h"] = torch.zeros(15, 8)
    del state["pos_embed_class"]
    report = _model("mvit_slowfast_qkv").load_pretrained(state, keep_head=True)
    assert report.layout == "slowfast-mvit-qkv"
    assert report.unexpected == ["blocks.0.attn.rel_pos_h"]
    assert report.missing == ["pos_embed_class"]


def test_json_arguments_and_pool_kernel():
    args = _meta("mvit_torchvision")["model_args"]
    a = litevid.create_model("mvit_s", **args)
    b = litevid.create_model("mvit_s", **{**args, "dim_mul": {1: 2.0, 3: 2.0},
                                          "stride_q": {1: (1, 2, 2), 3: (1, 2, 2)}})
    assert {k: v.shape for k, v in a.state_dict().items()} == \
        {k: v.shape for k, v in b.state_dict().items()}
    c = litevid.create_model("mvit_s", **{**args, "pool_kernel": [1, 3, 3]})
    assert {m.pool.kernel_size for m in c.modules() if isinstance(m, AttentionPool)} == {(1, 3, 3)}
