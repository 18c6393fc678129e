"""X3D-XS, MoViNet-A0/A2 and the EfficientNet-B0 trunk: weight loaders, stream mode, shapes.

Loader tests build state dicts in the real foreign layouts (torchvision and timm EfficientNet-B0,
pytorchvideo X3D_XS.pyth, Atze00/MoViNet-pytorch) from the architecture tables, independently of
our module names, and check that every tensor of our model is filled from the right source key.
Stream tests compare MoViNet's stream mode, fed frame by frame and in chunks, with one causal
forward over the whole clip.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

import litevid
from litevid.models._weights import load_into
from litevid.models.efficientnet import B0_STAGES, EfficientNetB0
from litevid.models.movinet import MOVINET_CFGS, MoViNet
from litevid.models.x3d import X3D


def _bn(prefix: str, c: int) -> dict[str, torch.Tensor]:
    return {
        f"{prefix}.weight": torch.rand(c) + 0.5, f"{prefix}.bias": torch.randn(c),
        f"{prefix}.running_mean": torch.randn(c) * 0.1, f"{prefix}.running_var": torch.rand(c) + 0.5,
        f"{prefix}.num_batches_tracked": torch.tensor(100),
    }


def _w(*shape: int) -> torch.Tensor:
    return torch.randn(*shape) * 0.1


def _randomize_(model: nn.Module, calib: torch.Tensor) -> nn.Module:
    """Random BN affines and ReZero scalars, O(1) logits, and BN statistics calibrated on ``calib``
    (so activations keep unit scale through the depth and the output depends on the input)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("alpha"):
                p.uniform_(0.5, 1.5)
        for m in model.modules():
            if isinstance(m, nn.Linear):
                m.weight.normal_(0, 2 / m.in_features ** 0.5)
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
                m.reset_running_stats()
                m.momentum = None  # cumulative average: one pass sets the statistics
        model.train()(calib)
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.momentum = 0.1
    return model.eval()


def _all_loaded(model: nn.Module, report, *, except_head: bool) -> None:
    expected_missing = ["head.fc.bias", "head.fc.weight"] if except_head else []
    assert sorted(report.missing) == expected_missing
    assert report.unexpected == [] and report.mismatched == []
    assert len(report.loaded) == len(model.state_dict()) - len(expected_missing)


# ---- EfficientNet-B0 trunk ---------------------------------------------------------------------


def _torchvision_b0_state() -> dict[str, torch.Tensor]:
    state = {"features.0.0.weight": _w(32, 3, 3, 3), **_bn("features.0.1", 32)}
    for s, (expand, k, _, cin, cout, repeats) in enumerate(B0_STAGES, start=1):
        for j in range(repeats):
            i_ch = cin if j == 0 else cout
            mid = i_ch * expand
            p = f"features.{s}.{j}.block"
            blk = 0
            if expand != 1:
                state |= {f"{p}.0.0.weight": _w(mid, i_ch, 1, 1), **_bn(f"{p}.0.1", mid)}
                blk = 1
            rd = max(1, i_ch // 4)
            state |= {
                f"{p}.{blk}.0.weight": _w(mid, 1, k, k), **_bn(f"{p}.{blk}.1", mid),
                f"{p}.{blk + 1}.fc1.weight": _w(rd, mid, 1, 1), f"{p}.{blk + 1}.fc1.bias": _w(rd),
                f"{p}.{blk + 1}.fc2.weight": _w(mid, rd, 1, 1), f"{p}.{blk + 1}.fc2.bias": _w(mid),
                f"{p}.{blk + 2}.0.weight": _w(cout, mid, 1, 1), **_bn(f"{p}.{blk + 2}.1", cout),
            }
    state |= {"features.8.0.weight": _w(1280, 320, 1, 1), **_bn("features.8.1", 1280)}
    state |= {"classifier.1.weight": _w(1000, 1280), "classifier.1.bias": _w(1000)}
    return state


def _timm_b0_state(tv: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """timm ``efficientnet_b0`` names holding the same tensors as the torchvision dict ``tv``."""

    def bn(dst: str, src: str) -> dict[str, torch.Tensor]:
        leaves = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
        return {f"{dst}.{leaf}": tv[f"{src}.{leaf}"] for leaf in leaves}

    state = {"conv_stem.weight": tv["features.0.0.weight"], **bn("bn1", "features.0.1")}
    for s, (expand, *_, repeats) in enumerate(B0_STAGES):
        for j in range(repeats):
            p, q = f"blocks.{s}.{j}", f"features.{s + 1}.{j}.block"
            if expand == 1:  # depthwise-separable block
                names = [("conv_dw", "bn1", 0), ("conv_pw", "bn2", 2)]
                se = 1
            else:
                names = [("conv_pw", "bn1", 0), ("conv_dw", "bn2", 1), ("conv_pwl", "bn3", 3)]
                se = 2
            for conv, norm, i in names:
                state |= {f"{p}.{conv}.weight": tv[f"{q}.{i}.0.weight"], **bn(f"{p}.{norm}", f"{q}.{i}.1")}
            for ours, theirs in (("fc1", "conv_reduce"), ("fc2", "conv_expand")):
                for leaf in ("weight", "bias"):
                    state[f"{p}.se.{theirs}.{leaf}"] = tv[f"{q}.{se}.{ours}.{leaf}"]
    state |= {"conv_head.weight": tv["features.8.0.weight"], **bn("bn2", "features.8.1")}
    state |= {"classifier.weight": tv["classifier.1.weight"], "classifier.bias": tv["classifier.1.bias"]}
    return state


def test_efficientnet_b0_trunk_shape_and_params():
    trunk = EfficientNetB0()
    assert sum(p.numel() for p in trunk.parameters()) == 4_007_548
    assert trunk.num_features == 1280
    out = trunk.eval()(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 1280, 2, 2)  # not pooled: stride 32
    # Stochastic depth rises linearly over the 16 blocks (torchvision: 0.2 * index / 16).
    assert trunk.features[1][0].stochastic_depth.drop_prob == 0.0
    assert trunk.features[7][0].stochastic_depth.drop_prob == pytest.approx(0.2 * 15 / 16)
    assert EfficientNetB0(drop_path_rate=0.0).features[7][0].stochastic_depth.drop_prob == 0.0
    with torch.device("meta"):
        gflops = litevid.count_flops(EfficientNetB0(), (1, 3, 224, 224)).gflops
    assert gflops == pytest.approx(0.39, abs=0.01)  # MODELS.md A.3: 0.39 G per 224^2 frame


@pytest.mark.parametrize("layout", ["torchvision", "timm"])
def test_efficientnet_b0_loads_torchvision_and_timm(layout):
    tv = _torchvision_b0_state()
    state = tv if layout == "torchvision" else _timm_b0_state(tv)
    trunk = EfficientNetB0()
    report = load_into(trunk, trunk.checkpoint_filter(state))
    _all_loaded(trunk, report, except_head=False)
    assert not any(k.startswith("classifier") for k in report.loaded)
    # Values land in the right place (stage 4 block 1 depthwise kernel; an SE bias; the head BN).
    assert torch.equal(trunk.features[4][1].block[1][0].weight, tv["features.4.1.block.1.0.weight"])
    assert torch.equal(trunk.features[1][0].block[1].fc2.bias, tv["features.1.0.block.1.fc2.bias"])
    assert torch.equal(trunk.features[8][1].running_var, tv["features.8.1.running_var"])


def test_efficientnet_b0_timm_and_torchvision_give_same_network():
    tv = _torchvision_b0_state()
    a, b = EfficientNetB0().eval(), EfficientNetB0().eval()
    load_into(a, a.checkpoint_filter(tv))
    load_into(b, b.checkpoint_filter(_timm_b0_state(tv)))
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(a(x), b(x))


# ---- X3D-XS ------------------------------------------------------------------------------------

X3D_STAGES = ((3, 24, 54, 8), (5, 48, 108, 8), (11, 96, 216, 16), (7, 192, 432, 32))


def _pytorchvideo_x3d_xs_state(num_classes: int = 400) -> dict[str, torch.Tensor]:
    # Stem: pytorchvideo calls the (1,3,3) spatial conv ``conv_t`` and the (5,1,1) one ``conv_xy``.
    state = {"blocks.0.conv.conv_t.weight": _w(24, 3, 1, 3, 3),
             "blocks.0.conv.conv_xy.weight": _w(24, 1, 5, 1, 1), **_bn("blocks.0.norm", 24)}
    cin = 24
    for s, (depth, cout, inner, se) in enumerate(X3D_STAGES, start=1):
        for j in range(depth):
            p = f"blocks.{s}.res_blocks.{j}"
            i_ch = cin if j == 0 else cout
            if j == 0:
                state[f"{p}.branch1_conv.weight"] = _w(cout, i_ch, 1, 1, 1)
                if i_ch != cout:  # pytorchvideo has no shortcut BN where the width is kept
                    state |= _bn(f"{p}.branch1_norm", cout)
            state |= {f"{p}.branch2.conv_a.weight": _w(inner, i_ch, 1, 1, 1),
                      **_bn(f"{p}.branch2.norm_a", inner),
                      f"{p}.branch2.conv_b.weight": _w(inner, 1, 3, 3, 3),
                      **_bn(f"{p}.branch2.norm_b.0", inner),
                      f"{p}.branch2.conv_c.weight": _w(cout, inner, 1, 1, 1),
                      **_bn(f"{p}.branch2.norm_c", cout)}
            if j % 2 == 0:
                q = f"{p}.branch2.norm_b.1.block"
                state |= {f"{q}.0.weight": _w(se, inner, 1, 1, 1), f"{q}.0.bias": _w(se),
                          f"{q}.2.weight": _w(inner, se, 1, 1, 1), f"{q}.2.bias": _w(inner)}
        cin = cout
    state |= {"blocks.5.pool.pre_conv.weight": _w(432, 192, 1, 1, 1),
              **_bn("blocks.5.pool.pre_norm", 432),
              "blocks.5.pool.post_conv.weight": _w(2048, 432, 1, 1, 1),
              "blocks.5.proj.weight": _w(num_classes, 2048), "blocks.5.proj.bias": _w(num_classes)}
    return state


def test_x3d_xs_architecture():
    model = litevid.create_model("x3d_xs", num_classes=5, frames=4, size=64)
    assert isinstance(model, X3D) and model.num_features == 2048
    assert [len(s) for s in model.stages] == [3, 5, 11, 7]
    assert model.stem.conv_xy.kernel_size == (1, 3, 3) and model.stem.conv_t.kernel_size == (5, 1, 1)
    assert model.stem.conv_t.groups == 24
    # SE on blocks 0, 2, 4, ... with widths 8, 8, 16, 32; depthwise 3x3x3 with spatial stride only.
    for stage, (_, _, inner, se) in zip(model.stages, X3D_STAGES):
        assert [isinstance(b.se, nn.Identity) for b in stage] == [j % 2 == 1 for j in range(len(stage))]
        assert stage[0].se.fc1.out_channels == se
        assert stage[0].conv_b.conv.groups == inner and stage[0].conv_b.conv.stride == (1, 2, 2)
    with torch.no_grad():
        feats = model.eval().forward_features(torch.randn(1, 3, 4, 64, 64))
    assert feats.shape == (1, 192, 4, 2, 2)  # no temporal downsampling
    with torch.device("meta"):
        meta = litevid.create_model("x3d_xs")
        assert sum(p.numel() for p in meta.parameters()) == 3_794_322
        assert litevid.count_flops(meta, (1, 3, 16, 224, 224)).gflops == pytest.approx(4.7, abs=0.05)
        # Published X3D-XS figure at its own input (4 x 160^2): 0.60 GFLOPs.
        assert litevid.count_flops(meta, (1, 3, 4, 160, 160)).gflops == pytest.approx(0.60, abs=0.01)


def test_x3d_loads_pytorchvideo_layout():
    state = _pytorchvideo_x3d_xs_state()
    model = litevid.create_model("x3d_xs", frames=4, size=64).eval()
    report = model.load_pretrained(state)
    _all_loaded(model, report, except_head=False)  # 400 classes, as the model: kept
    assert report.layout == "pytorchvideo-x3d" and "classifier kept: 400 classes" in " ".join(
        report.notes)
    # The swapped stem names land on the right convs (shape-compatible only one way anyway).
    assert torch.equal(model.stem.conv_xy.weight, state["blocks.0.conv.conv_t.weight"])
    assert torch.equal(model.stem.conv_t.weight, state["blocks.0.conv.conv_xy.weight"])
    blk = model.stages[2][4]
    assert torch.equal(blk.se.fc2.bias, state["blocks.3.res_blocks.4.branch2.norm_b.1.block.2.bias"])
    assert torch.equal(blk.conv_b[1].running_mean,
                       state["blocks.3.res_blocks.4.branch2.norm_b.0.running_mean"])
    assert torch.equal(model.head_post.weight, state["blocks.5.pool.post_conv.weight"])
    assert torch.equal(model.stages[1][0].shortcut[1].weight,
                       state["blocks.2.res_blocks.0.branch1_norm.weight"])
    # Stage 1's shortcut BN, absent from pytorchvideo, is filled in as an exact identity.
    x = torch.randn(1, 24, 2, 8, 8)
    with torch.no_grad():
        sc = model.stages[0][0].shortcut
        torch.testing.assert_close(sc(x), sc[0](x), rtol=0, atol=1e-6)


# ---- MoViNet -----------------------------------------------------------------------------------


def _atze00_movinet_state(variant: str, *, legacy: bool = False, num_classes: int = 600):
    """Base-model keys of Atze00/MoViNet-pytorch (``conv_1`` wrappers; ``legacy``: older ones)."""
    cfg = MOVINET_CFGS[variant]

    def conv(prefix: str, shape: tuple[int, ...], *, norm: bool = True, bias: bool = False):
        base = f"{prefix}.conv3d" if legacy else f"{prefix}.conv_1.conv3d"
        if not norm and legacy:  # plain nn.Conv3d in the old port (SE, classifier)
            base = prefix
        out = {f"{base}.weight": _w(*shape)}
        if bias:
            out[f"{base}.bias"] = _w(shape[0])
        if norm:
            out |= _bn(base.replace("conv3d", "norm"), shape[0])
        return out

    stem = cfg["stem_chs"]
    state = conv("conv1", (stem, 3, 1, 3, 3))
    cin = stem
    for i, stage in enumerate(cfg["stages"]):
        for j, (cout, exp, kernel, stride) in enumerate(stage):
            p = f"blocks.b{i}_l{j}"
            rd = max(8, int(exp // 4 + 4) // 8 * 8)
            rd = rd + 8 if rd < 0.9 * (exp // 4) else rd
            state |= conv(f"{p}.expand", (exp, cin, 1, 1, 1))
            state |= conv(f"{p}.deep", (exp, 1, *kernel))
            state |= conv(f"{p}.se.fc1", (rd, exp, 1, 1, 1), norm=False, bias=True)
            state |= conv(f"{p}.se.fc2", (exp, rd, 1, 1, 1), norm=False, bias=True)
            state |= conv(f"{p}.project", (cout, exp, 1, 1, 1))
            if stride != 1 or cin != cout:
                state |= conv(f"{p}.res.{1 if stride != 1 else 0}", (cout, cin, 1, 1, 1))
            state[f"{p}.alpha"] = torch.rand(())
            cin = cout
    head = cfg["head_chs"]
    state |= conv("conv7", (head, cin, 1, 1, 1))
    state |= conv("classifier.0", (2048, head, 1, 1, 1), norm=False, bias=True)
    state |= conv("classifier.3", (num_classes, 2048, 1, 1, 1), norm=False, bias=True)
    return state


@pytest.mark.parametrize("legacy", [False, True], ids=["conv_1", "legacy"])
def test_movinet_a0_loads_atze00_layout(legacy):
    state = _atze00_movinet_state("a0", legacy=legacy)
    model = litevid.create_model("movinet_a0", frames=4, size=64)
    report = model.load_pretrained(state)
    _all_loaded(model, report, except_head=True)
    c1 = "" if legacy else "conv_1."
    assert torch.equal(model.blocks.b2_l0.deep[0].weight, state[f"blocks.b2_l0.deep.{c1}conv3d.weight"])
    assert torch.equal(model.blocks.b2_l0.res[1][1].running_var,
                       state[f"blocks.b2_l0.res.1.{c1}norm.running_var"])
    se_bias = "blocks.b3_l2.se.fc1.bias" if legacy else "blocks.b3_l2.se.fc1.conv_1.conv3d.bias"
    assert torch.equal(model.blocks.b3_l2.se.fc1.bias, state[se_bias])
    assert torch.equal(model.blocks.b4_l3.alpha, state["blocks.b4_l3.alpha"])
    dense9 = "classifier.0.weight" if legacy else "classifier.0.conv_1.conv3d.weight"
    assert torch.equal(model.head_hidden.weight, state[dense9].flatten(1))
    assert torch.equal(model.conv_head[1].weight, state[f"conv7.{c1}norm.weight"])


def test_movinet_a2_loads_atze00_layout():
    model = litevid.create_model("movinet_a2", frames=4, size=64)
    _all_loaded(model, model.load_pretrained(_atze00_movinet_state("a2")), except_head=True)


@pytest.mark.parametrize("name,params,gflops", [
    ("movinet_a0", 2_701_999, 1.3), ("movinet_a2", 4_839_762, 3.7),
])
def test_movinet_counts(name, params, gflops):
    with torch.device("meta"):
        model = litevid.create_model(name)
        assert sum(p.numel() for p in model.parameters()) == params
        assert litevid.count_flops(model, (1, 3, 16, 224, 224)).gflops == pytest.approx(gflops, abs=0.05)
        # The stream variant reuses the base parameters exactly.
        causal = litevid.create_model(name, causal=True)
    assert {k: v.shape for k, v in causal.state_dict().items()} == {
        k: v.shape for k, v in model.state_dict().items()}
    if name == "movinet_a0":  # the MoViNet paper's figure: 3.1M with 600 classes
        with torch.device("meta"):
            k600 = litevid.create_model(name, num_classes=600)
        assert sum(p.numel() for p in k600.parameters()) / 1e6 == pytest.approx(3.11, abs=0.005)


@pytest.fixture(scope="module")
def stream_model() -> MoViNet:
    torch.manual_seed(1)
    model = litevid.create_model("movinet_a0", num_classes=7, frames=8, size=48, causal=True)
    return _randomize_(model, torch.rand(4, 3, 8, 48, 48))


def _stream(model: MoViNet, x: torch.Tensor, chunk: int):
    state = model.init_state(x.shape[0], x.shape[3], x.shape[4])
    outs = []
    with torch.no_grad():
        for t in range(0, x.shape[2], chunk):
            logits, state = model.forward_stream(x[:, :, t:t + chunk], state)
            outs.append(logits)
    return outs, state


@pytest.mark.parametrize("chunk", [1, 3])
def test_movinet_stream_matches_causal_forward(stream_model, chunk):
    x = torch.rand(2, 3, 8, 48, 48)
    with torch.no_grad():
        full = stream_model(x)
    outs, state = _stream(stream_model, x, chunk)
    assert len(outs) == math.ceil(8 / chunk)
    torch.testing.assert_close(outs[-1], full, rtol=0, atol=1e-4)
    assert state["frames"].item() == 8
    # After the first chunk the logits are those of the clip seen so far.
    with torch.no_grad():
        torch.testing.assert_close(outs[0], stream_model(x[:, :, :chunk]), rtol=0, atol=1e-4)
    assert all(isinstance(v, torch.Tensor) for v in state.values())  # plain, exportable state


def test_movinet_stream_reset_and_state_not_mutated(stream_model):
    x, y = torch.ones(1, 3, 5, 48, 48), torch.rand(1, 3, 5, 48, 48)  # white frames, then noise
    _, state = _stream(stream_model, x, 2)
    snapshot = {k: v.clone() for k, v in state.items()}
    with torch.no_grad():
        stream_model.forward_stream(y[:, :, :1], state)
    assert all(torch.equal(state[k], snapshot[k]) for k in state)  # inputs are never modified
    # A fresh init_state resets the stream: the next clip is independent of the previous one.
    outs, _ = _stream(stream_model, y, 2)
    with torch.no_grad():
        torch.testing.assert_close(outs[-1], stream_model(y), rtol=0, atol=1e-4)
        continued, _ = stream_model.forward_stream(y, state)  # without reset: a different answer
    assert not torch.allclose(continued, outs[-1], atol=1e-2)


def test_movinet_causal_ignores_future_and_base_does_not(stream_model):
    x = torch.rand(1, 3, 8, 48, 48)
    x2 = x.clone()
    x2[:, :, 5:] = torch.rand(1, 3, 3, 48, 48)
    base = litevid.create_model("movinet_a0", num_classes=7, frames=8, size=48).eval()
    base.load_state_dict(stream_model.state_dict())  # same weights, non-causal ops
    with torch.no_grad():
        f1, f2 = stream_model.forward_features(x), stream_model.forward_features(x2)
        b1, b2 = base.forward_features(x), base.forward_features(x2)
    torch.testing.assert_close(f1[:, :, :5], f2[:, :, :5], rtol=0, atol=1e-5)
    assert not torch.allclose(f1[:, :, 5:], f2[:, :, 5:], atol=1e-3)
    assert not torch.allclose(b1[:, :, :5], b2[:, :, :5], atol=1e-3)  # base sees the future


def test_movinet_stream_errors():
    base = litevid.create_model("movinet_a0", num_classes=3, frames=2, size=32)
    with pytest.raises(ValueError, match="causal=True"):
        base.forward_stream(torch.rand(1, 3, 1, 32, 32), {})
    causal = litevid.create_model("movinet_a0", num_classes=3, frames=2, size=32, causal=True)
    with pytest.raises(ValueError, match="init_state"):
        causal.forward_stream(torch.rand(1, 3, 1, 32, 32), {})
    with pytest.raises(ValueError, match="5-D"):
        causal.forward_stream(torch.rand(1, 3, 32, 32), causal.init_state(1, 32, 32))


@pytest.mark.parametrize("layout", ["torchvision", "timm"])
def test_vtn_eff_loads_efficientnet_checkpoint_file(layout, tmp_path):
    tv = _torchvision_b0_state()
    path = tmp_path / f"efficientnet_b0_{layout}.pth"
    torch.save(tv if layout == "torchvision" else _timm_b0_state(tv), path)
    model = litevid.create_model("vtn_eff", num_classes=5, frames=4, size=64)
    report = model.load_pretrained(path)
    assert report.unexpected == [] and report.mismatched == []
    assert all(k.startswith(("temporal.", "head.")) for k in report.missing)
    assert torch.equal(model.backbone.features[4][1].block[1][0].weight,
                       tv["features.4.1.block.1.0.weight"])
