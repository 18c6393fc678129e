"""The exportable form: 3D convs / pools / BNs rewritten as 2D ops, numerically equal in eval.

Unit checks against the torch 3D modules over many shapes, then every registered model at a small
input: equal outputs and no 3D op left in the ``torch.export`` graph (XNNPACK has none).
"""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn as nn

import litevid
from litevid.export.exportable import (
    AdaptivePool3dAs2d,
    ChannelAffine3d,
    Conv3dAs2d,
    Pool3dAs2d,
    exportable_form,
    exportable_report,
    remaining_3d_ops,
)


def _close(a: torch.Tensor, b: torch.Tensor, rtol: float = 1e-5) -> None:
    assert a.shape == b.shape, (a.shape, b.shape)
    scale = max(a.abs().max().item(), 1.0)
    err = (a - b).abs().max().item()
    assert err <= rtol * scale, f"max abs error {err:.3g} at output scale {scale:.3g}"


def _conv_configs() -> list[tuple]:
    """~40 deterministic Conv3d configs: (cin, cout, kernel, stride, padding, dilation, groups,
    bias, T)."""
    rng = random.Random(1234)
    cfgs = [
        (4, 8, 1, 1, 0, 1, 1, True, 5),  # pointwise
        (4, 8, (1, 1, 1), (1, 2, 2), 0, 1, 1, False, 4),  # strided pointwise (X3D shortcut)
        (6, 6, (5, 1, 1), 1, (2, 0, 0), 1, 6, False, 7),  # X3D temporal depthwise
        (6, 6, (3, 3, 3), (1, 2, 2), 1, 1, 6, False, 5),  # X3D / MoViNet depthwise
        (3, 8, (1, 3, 3), (1, 2, 2), (0, 1, 1), 1, 1, False, 4),  # 2D-like stem
        (3, 8, (3, 7, 7), (2, 4, 4), (1, 3, 3), 1, 1, True, 5),  # MViT cube embedding
        (3, 8, (2, 4, 4), (2, 4, 4), 0, 1, 1, True, 5),  # Swin tubelet, T not divisible
        (4, 4, (3, 3, 3), (2, 2, 2), 1, 1, 4, False, 6),  # MViT attention pool
        (4, 4, (3, 3, 3), (1, 4, 4), 1, 1, 4, False, 6),  # MViT-S key/value pool (outshift)
        (4, 4, (3, 3, 3), (1, 2, 2), (2, 1, 0), 1, 4, True, 3),  # outshift, T_out > T
        (4, 8, (5, 5, 5), 2, 2, 1, 2, True, 9),
        (4, 8, (3, 1, 1), (2, 1, 1), (1, 0, 0), 1, 1, True, 6),  # temporal view + stride
        (4, 8, (3, 1, 1), 1, 0, 2, 1, True, 7),  # temporal view + dilation
    ]
    while len(cfgs) < 40:
        groups = rng.choice(["1", "2", "dw"])
        cin = rng.choice([2, 4, 6])
        cout = cin if groups == "dw" else rng.choice([2, 4, 6])
        g = cin if groups == "dw" else int(groups)
        k = tuple(rng.randint(1, 5) for _ in range(3))
        s = tuple(rng.randint(1, 2) for _ in range(3))
        p = tuple(rng.randint(0, 2) for _ in range(3))
        d = tuple(rng.randint(1, 2) for _ in range(3))
        T = rng.randint(5, 9)
        if any((kk - 1) * dd + 1 > n + 2 * pp for kk, dd, pp, n in zip(k, d, p, (T, 9, 8))):
            continue
        cfgs.append((cin, cout, k, s, p, d, g, rng.random() < 0.5, T))
    return cfgs


CONV_CONFIGS = _conv_configs()


@pytest.mark.parametrize("cfg", CONV_CONFIGS, ids=[f"c{i}" for i in range(len(CONV_CONFIGS))])
def test_conv3d_as_2d_matches(cfg):
    cin, cout, k, s, p, d, g, bias, T = cfg
    conv = nn.Conv3d(cin, cout, k, s, p, d, groups=g, bias=bias).eval()
    x = torch.randn(2, cin, T, 9, 8)
    ref = conv(x)
    modes = ["auto", "taps"] + (["stacked"] if g == 1 else []) \
        + (["outshift"] if conv.stride[0] == 1 and conv.dilation[0] == 1 else [])
    for mode in modes:
        new = Conv3dAs2d(conv, mode)
        with torch.no_grad():
            _close(new(x), ref)
    # attributes kept for code that reads them (MoViNet's stream state)
    assert new.stride == conv.stride and new.in_channels == cin and new.groups == g
    assert torch.equal(new.weight, conv.weight)


def test_conv3d_as_2d_channels_last_and_same_padding():
    conv = nn.Conv3d(4, 6, (3, 3, 2), padding="same", bias=True)
    x = torch.randn(2, 4, 5, 7, 6).to(memory_format=torch.channels_last_3d)
    with torch.no_grad():
        _close(Conv3dAs2d(conv)(x), conv(x))
        conv = nn.Conv3d(4, 6, (3, 3, 3), padding="valid", groups=2)
        _close(Conv3dAs2d(conv)(x), conv(x))


@pytest.mark.parametrize("pool", [
    nn.AvgPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)),  # MoViNet residual
    nn.AvgPool3d(3, 2, 1, count_include_pad=False),
    nn.AvgPool3d((2, 2, 2)),
    nn.AvgPool3d(3, 2, 1, ceil_mode=True),
    nn.MaxPool3d((1, 2, 2)),  # non-local
    nn.MaxPool3d((3, 3, 3), (2, 2, 2), (1, 1, 1)),  # MViT skip
    nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)),  # ResNet-3D stem
    nn.MaxPool3d(3, 2, 1, dilation=(2, 1, 1), ceil_mode=True),
    nn.AdaptiveAvgPool3d((3, 1, 1)),  # I3D-BERT tokens
    nn.AdaptiveAvgPool3d(1),
    nn.AdaptiveAvgPool3d((None, 3, 2)),
    nn.AdaptiveMaxPool3d((2, 1, 1)),
])
def test_pool3d_as_2d_matches(pool):
    x = torch.randn(2, 3, 6, 9, 8)
    new = exportable_form(nn.Sequential(pool))
    assert isinstance(new[0], (Pool3dAs2d, AdaptivePool3dAs2d))
    _close(new(x), pool(x))


def test_bn_folding_and_affine():
    conv, bn = nn.Conv3d(4, 6, 3, padding=1, bias=False), nn.BatchNorm3d(6)
    lone = nn.BatchNorm3d(6, eps=1e-3)
    for b in (bn, lone):
        b.running_mean.uniform_(-1, 1)
        b.running_var.uniform_(0.5, 2)
        b.weight.data.uniform_(0.5, 1.5)
        b.bias.data.uniform_(-1, 1)
    model = nn.Sequential(conv, bn, nn.ReLU(), lone).eval()
    new = exportable_form(model)
    assert isinstance(new[0], Conv3dAs2d) and isinstance(new[1], nn.Identity)
    assert new[0].bias is not None and isinstance(new[3], ChannelAffine3d)
    assert exportable_report(model) == dict(conv3d=1, bn_folded=1, bn_affine=1, pool3d=0, se=0,
                                                 layer_norm=0)
    x = torch.randn(2, 4, 5, 6, 6)
    with torch.no_grad():
        _close(new(x), model(x))
    assert model.training is False and isinstance(model[0], nn.Conv3d)  # original untouched


def test_unsupported_configurations_raise():
    with pytest.raises(ValueError, match="padding_mode"):
        Conv3dAs2d(nn.Conv3d(2, 2, 3, padding=1, padding_mode="reflect"))
    with pytest.raises(ValueError, match="stacked"):
        Conv3dAs2d(nn.Conv3d(4, 4, 3, groups=2), "stacked")
    with pytest.raises(ValueError, match="divisor_override"):
        Pool3dAs2d(nn.AvgPool3d(2, divisor_override=3))
    with pytest.raises(ValueError, match="return_indices"):
        Pool3dAs2d(nn.MaxPool3d(2, return_indices=True))
    with pytest.raises(ValueError, match="running statistics"):
        ChannelAffine3d(nn.BatchNorm3d(4, track_running_stats=False))
    with pytest.raises(NotImplementedError, match="divide"):
        AdaptivePool3dAs2d(nn.AdaptiveAvgPool3d((4, 1, 1)))(torch.randn(1, 2, 6, 3, 3))


def test_remaining_3d_ops_finds_3d_ops():
    model = nn.Sequential(nn.Conv3d(3, 4, 3), nn.MaxPool3d(2), nn.AdaptiveAvgPool3d(1)).eval()
    x = torch.randn(1, 3, 6, 8, 8)
    ops = remaining_3d_ops(torch.export.export(model, (x,)))
    assert len(ops) == 3 and any("conv" in o for o in ops)
    assert remaining_3d_ops(torch.export.export(exportable_form(model), (x,))) == []


# ---- every registered model ----------------------------------------------------------------------

SMALL = dict(frames=4, size=64)
SLOW = {"i3d_bert", "movinet_a2", "mvit_s", "nl_r50", "swin_t", "vtn_eff"}  # > 5 s each, 2 cores


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in litevid.list_models()
])
def test_model_exportable_form(name):
    model = litevid.create_model(name, num_classes=5, **SMALL).eval()
    x = torch.randn(1, 3, SMALL["frames"], SMALL["size"], SMALL["size"])
    new = exportable_form(model)
    with torch.no_grad():
        _close(new(x), model(x), rtol=1e-4)
    assert remaining_3d_ops(torch.export.export(new, (x,))) == []


def test_causal_movinet_stream():
    model = litevid.create_model("movinet_a0", causal=True, num_classes=5, **SMALL).eval()
    new = exportable_form(model)
    x = torch.randn(1, 3, 4, 64, 64)
    with torch.no_grad():
        outs = []
        for m in (model, new):
            state = m.init_state(1, 64, 64)
            for chunk in x.split(2, dim=2):
                out, state = m.forward_stream(chunk, state)
            outs.append((out, state))
    _close(outs[1][0], outs[0][0], rtol=1e-4)
    assert outs[0][1].keys() == outs[1][1].keys()
    for key in outs[0][1]:
        _close(outs[1][1][key], outs[0][1][key], rtol=1e-4)


@pytest.mark.parametrize("shape", [(2, 7, 16), (3, 16), (2, 3, 5, 16)])
def test_layer_norm_as_4d_matches(shape):
    ln = nn.LayerNorm(16, eps=1e-6)
    with torch.no_grad():
        ln.weight.uniform_(0.5, 1.5)
        ln.bias.uniform_(-1, 1)
    x = torch.randn(shape) * 3 + 1
    new = exportable_form(nn.Sequential(ln))
    assert type(new[0]).__name__ == "LayerNormAs4d"
    _close(new(x), ln(x), rtol=1e-5)
    assert exportable_report(nn.Sequential(ln))["layer_norm"] == 1
    with pytest.raises(ValueError, match="last dim"):
        exportable_form(nn.Sequential(nn.LayerNorm((4, 16))))


class _Sdpa(nn.Module):
    def forward(self, q, k, v, mask):
        from litevid.layers.attention import sdpa

        return sdpa(q, k, v, mask, scale=0.3)


@pytest.mark.parametrize("mask", [None, "float", "bool"])
def test_explicit_attention_matches_sdpa(mask):
    from litevid.layers.attention import explicit_attention

    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 7, 8), torch.randn(2, 3, 7, 4)
    m = {None: None, "float": torch.randn(1, 3, 5, 7), "bool": torch.randn(2, 1, 5, 7) > -0.5}[mask]
    ref = _Sdpa()(q, k, v, m)
    with explicit_attention():
        got = _Sdpa()(q, k, v, m)
        ops = {str(n.target) for n in torch.export.export(_Sdpa(), (q, k, v, m)).graph.nodes}
    _close(got, ref, rtol=1e-5)
    assert not any("scaled_dot_product" in op for op in ops) and any("bmm" in op for op in ops)
    assert any("scaled_dot_product" in str(n.target)
               for n in torch.export.export(_Sdpa(), (q, k, v, m)).graph.nodes)  # outside: fused
