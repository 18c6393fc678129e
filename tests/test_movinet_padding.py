"""MoViNet's padding modes: TF "SAME" (the TF-converted checkpoints') and symmetric.

The pad arithmetic is checked against hand-computed cases; the modes against each other (they
differ exactly at the strided ops); loading the Atze00 (TF-converted) layout against the
committed fixture ``tests/fixtures/weights/movinet_a0_tf_port.*`` (written by
``tools/make_weight_fixtures.py`` from the port with ``tf_like=True``); the stream mode against a
causal forward in both modes; the 3D -> 2D rewrites of the exporter and the optimizer against
eager outputs.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import litevid
from litevid.layers.padding import TFSameAvgPool3d, TFSamePad, tf_same_pads
from litevid.models.movinet import MoViNet

FIXTURES = Path(__file__).parent / "fixtures" / "weights"

# Two strided blocks (kernel 5 then kernel 3) after the kernel-3 stem, a stride-1 block between:
# at 18x18 the stem sees an even size (18), the k5 block an odd one (9), the k3 block an odd one
# (5); at 20x20: 20, 10, 5 (even, even, odd).
TINY = dict(stem_chs=8, head_chs=16, hidden_dim=16, num_classes=5, stages=(
    ((8, 16, (1, 5, 5), 2), (8, 16, (3, 3, 3), 1)),
    ((16, 24, (3, 3, 3), 2),),
))


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def _close(a: torch.Tensor, b: torch.Tensor, atol: float = 1e-6) -> bool:
    # (torch.testing.assert_close's first call imports torch.distributed: seconds)
    return a.shape == b.shape and float((a - b).abs().max()) <= atol


def _tiny(**kw) -> MoViNet:
    torch.manual_seed(0)
    model = MoViNet(TINY["stages"], **{k: v for k, v in TINY.items() if k != "stages"}, **kw)
    with torch.no_grad():  # random BN statistics, so a shifted window cannot go unnoticed
        for m in model.modules():
            if isinstance(m, nn.BatchNorm3d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    return model.eval()


# ---- pad arithmetic ----------------------------------------------------------------------------

@pytest.mark.parametrize("size,k,s,expected", [
    (224, 3, 2, (0, 1)), (7, 3, 2, (1, 1)),   # kernel 3, stride 2: even / odd
    (112, 5, 2, (1, 2)), (7, 5, 2, (2, 2)),   # kernel 5, stride 2: even / odd
    (8, 3, 1, (1, 1)), (8, 5, 1, (2, 2)),     # stride 1: symmetric k // 2
    (1, 3, 2, (1, 1)),                        # one pixel: out 1, both sides
    (4, 1, 2, (0, 0)),                        # pointwise strided: no padding
    (6, 2, 2, (0, 0)), (5, 2, 2, (0, 1)),     # even kernel: the odd one after
])
def test_tf_same_pads_hand_computed(size, k, s, expected):
    assert tf_same_pads(size, k, s) == expected
    before, after = expected
    assert (size + before + after - k) // s + 1 == -(-size // s)  # TF's output size ceil(n / s)


def test_tf_same_pads_dilation_and_errors():
    assert tf_same_pads(10, 3, 1, dilation=2) == (2, 2)
    with pytest.raises(ValueError, match=">= 1"):
        tf_same_pads(0, 3, 2)


def test_tf_same_pad_module_pads_trailing_dims():
    x = torch.rand(1, 2, 3, 6, 7)  # H even, W odd
    y = TFSamePad((3, 3), (2, 2))(x)
    assert torch.equal(y, F.pad(x, (1, 1, 0, 1)))  # W (1, 1), H (0, 1)
    assert TFSamePad((3, 3), (1, 1))(x).shape == (1, 2, 3, 8, 9)


def test_tf_same_avg_pool_excludes_the_padding():
    pool = TFSameAvgPool3d((1, 3, 3), (1, 2, 2))
    x = torch.rand(2, 3, 2, 4, 5)  # H = 4 pads (0, 1), W = 5 pads (1, 1)
    y = pool(x)
    assert y.shape == (2, 3, 2, 2, 3)
    # Windows by hand: rows [0, 3) and [2, 4) (+ one pad row), columns [0, 2), [1, 4), [3, 5).
    for i, rows in enumerate((slice(0, 3), slice(2, 4))):
        for j, cols in enumerate((slice(0, 2), slice(1, 4), slice(3, 5))):
            assert _close(y[..., i, j], x[..., rows, cols].mean((-2, -1)))
    # Odd sizes pad symmetrically: PyTorch's own count_include_pad=False pool.
    x = torch.rand(1, 2, 2, 7, 7)
    assert _close(pool(x), F.avg_pool3d(x, (1, 3, 3), (1, 2, 2), (0, 1, 1),
                                        count_include_pad=False))
    assert type(pool.pool) is nn.AvgPool3d and pool.pool.padding == 0  # what rewrites look for
    assert dict(pool.named_parameters()) == {} and dict(pool.named_buffers()) == {}


# ---- the two modes -----------------------------------------------------------------------------

def test_modes_differ_only_at_strided_ops():
    sym = _tiny()
    tf = copy.deepcopy(sym)
    tf.set_padding("tf-same")
    assert (sym.padding, tf.padding) == ("symmetric", "tf-same")
    with torch.no_grad():
        for size in (18, 20):  # stem input even; later strided inputs even and odd
            x = torch.rand(1, 3, 2, size, size)
            a = sym.stem(sym.stem_pad(x))
            b = tf.stem(tf.stem_pad(x))
            assert a.shape == b.shape and _rel(a, b) > 1e-2
            for (name, blk_s), blk_t in zip(sym.blocks.named_children(), tf.blocks):
                ys, yt = blk_s(a), blk_t(a)
                assert ys.shape == yt.shape, name
                if blk_s.stride == 1:
                    assert torch.equal(ys, yt), name
                else:
                    assert _rel(ys, yt) > 1e-2, name
                    # the shortcut (average pool) differs by itself
                    assert _rel(blk_s.res(a), blk_t.res(a)) > 1e-2, name
                a = ys


def test_set_padding_round_trip_keeps_the_state_dict():
    model = _tiny()
    x = torch.rand(1, 3, 2, 20, 20)
    with torch.no_grad():
        before = model(x)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    model.set_padding("tf-same")
    assert list(model.state_dict()) == list(state)
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    with torch.no_grad():
        assert _rel(model(x), before) > 1e-2
    model.set_padding("symmetric")
    with torch.no_grad():
        assert torch.equal(model(x), before)
    with pytest.raises(ValueError, match="symmetric, tf-same"):
        model.set_padding("same")
    with pytest.raises(ValueError, match="symmetric, tf-same"):
        _tiny(padding="valid")
    # the registry builders pass it through
    assert litevid.create_model("movinet_a0", padding="tf-same", num_classes=3).padding == "tf-same"


# ---- the TF-converted (Atze00) checkpoint ------------------------------------------------------

def _fixture(name: str = "movinet_a0_tf_port"):
    meta = json.loads((FIXTURES / f"{name}.json").read_text())
    args = {k: v for k, v in meta["model_args"].items() if k != "stages"}
    args["stages"] = tuple(tuple((o, e, tuple(k), s) for o, e, k, s in stage)
                           for stage in meta["model_args"]["stages"])
    io = torch.load(FIXTURES / meta["io"], weights_only=True)
    return meta, args, io


def test_tf_port_checkpoint_switches_to_tf_same():
    meta, args, io = _fixture()
    model = litevid.create_model(meta["model"], **args).eval()
    assert model.padding == "symmetric"
    report = model.load_pretrained(FIXTURES / meta["file"], keep_head=True)
    assert report.layout == "movinet-tf-port" and model.padding == "tf-same"
    assert any("switched to 'tf-same'" in n for n in report.notes)
    assert report.missing == [] and report.unexpected == [] and report.mismatched == []
    with torch.no_grad():
        out = model(io["input"])
    assert _rel(out, io["logits"]) <= 1e-5
    # what a training checkpoint records to rebuild it (model_args)
    assert model.arch_args() == {"padding": "tf-same"}
    assert litevid.create_model(meta["model"], **args, **model.arch_args()).padding == "tf-same"
    # set_padding makes the choice explicit: a later load keeps it, with a warning.
    model.set_padding("symmetric")
    report = model.load_pretrained(FIXTURES / meta["file"], keep_head=True)
    assert model.padding == "symmetric" and any("warning" in n for n in report.notes)


def test_explicit_symmetric_is_kept_with_a_warning():
    meta, args, io = _fixture()
    model = litevid.create_model(meta["model"], padding="symmetric", **args).eval()
    report = model.load_pretrained(FIXTURES / meta["file"], keep_head=True)
    assert model.padding == "symmetric"
    assert any("warning" in n and "TF 'SAME'" in n for n in report.notes)
    with torch.no_grad():  # the shifted windows move the logits well beyond the parity bound
        out = model(io["input"])
    assert _rel(out, io["logits"]) > 1e-2
    explicit = litevid.create_model(meta["model"], padding="tf-same", **args)
    report = explicit.load_pretrained(FIXTURES / meta["file"], keep_head=True)
    assert explicit.padding == "tf-same" and not any("warning" in n for n in report.notes)


def test_other_layouts_leave_the_padding_alone():
    model = _tiny()
    report = model.load_pretrained(model.state_dict())
    assert model.padding == "symmetric" and not any("padding" in n for n in report.notes)


# ---- stream mode -------------------------------------------------------------------------------

@pytest.mark.parametrize("padding", ["symmetric", "tf-same"])
def test_stream_matches_causal_forward(padding):
    model = _tiny(causal=True, padding=padding)
    x = torch.rand(1, 3, 5, 20, 20)
    with torch.no_grad():
        full = model(x)
        state = model.init_state(1, 20, 20)
        for t in range(0, 5, 2):
            logits, state = model.forward_stream(x[:, :, t:t + 2], state)
    assert _rel(logits, full) <= 1e-5
    # init_state's sizes are those the padded strided ops produce (ceil(n / 2) in both modes)
    sym = _tiny(causal=True, padding="symmetric")
    assert {k: v.shape for k, v in state.items()} == \
        {k: v.shape for k, v in sym.init_state(1, 20, 20).items()}


def test_stream_uses_the_padding():
    sym, tf = _tiny(causal=True), _tiny(causal=True, padding="tf-same")
    x = torch.rand(1, 3, 2, 18, 18)
    with torch.no_grad():
        a, _ = sym.forward_stream(x, sym.init_state(1, 18, 18))
        b, _ = tf.forward_stream(x, tf.init_state(1, 18, 18))
    assert _rel(a, b) > 1e-2


# ---- rewrites: exporter and optimizer ----------------------------------------------------------

def test_exportable_form_and_2d_rewrites_keep_tf_same():
    from litevid.export.exportable import Pool3dAs2d, exportable_form
    from litevid.optimization.rewrite import Pool3dVia2d, ops_via_2d

    model = _tiny(padding="tf-same")
    x = torch.rand(1, 3, 2, 18, 18)
    with torch.no_grad():
        ref = model(x)
        form = exportable_form(model)
        pools = [m for m in form.modules() if isinstance(m, TFSameAvgPool3d)]
        assert pools and all(isinstance(p.pool, Pool3dAs2d) for p in pools)
        assert not any(isinstance(m, (nn.Conv3d, nn.AvgPool3d)) for m in form.modules())
        assert _rel(form(x), ref) <= 1e-5
        fast = copy.deepcopy(model)
        assert ops_via_2d(fast) > 0
        assert all(isinstance(m.pool, Pool3dVia2d)
                   for m in fast.modules() if isinstance(m, TFSameAvgPool3d))
        assert _rel(fast(x), ref) <= 1e-5


def test_tf_same_movinet_exports_to_onnx_with_parity(tmp_path):
    """The tf-same model exports (static pads) and ONNX Runtime gives its logits."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from litevid.export.api import check_parity
    from litevid.export.formats import get_format
    from litevid.export.wrappers import ClipModel

    meta, args, io = _fixture()
    model = litevid.create_model(meta["model"], **args)
    model.load_pretrained(FIXTURES / meta["file"], keep_head=True)
    assert model.padding == "tf-same"
    module, x = ClipModel(model.eval()).eval(), io["input"][:1]
    with torch.no_grad():
        reference = list(module(x))
    fmt = get_format("onnx")
    fmt.export(module, (x,), tmp_path / "m.onnx", input_names=["clip"],
               output_names=["logits"], options={"precision": "fp32"})
    parity = check_parity(reference, fmt.load(tmp_path / "m.onnx")([x]), fmt.parity_rtol["fp32"])
    assert parity.status == "ok", parity
