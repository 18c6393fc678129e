"""litevid.optimize: batch-norm folding, one-pass temporal shift, layout rule, parity for every
registered model; litevid bench --optimize / --profile rows."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn as nn

import litevid
from litevid.models import list_models
from litevid.models.resnet_family import temporal_shift, temporal_shift_single_copy
from litevid.optimization import choose_layout, fold_batchnorm, optimize
from litevid.optimization.fuse import find_conv_bn_pairs

SMALL = dict(frames=4, size=64)
# Parity tolerance of the optimized form in fp32: max |diff| / max |plain| <= 1e-4 (as the
# exporters; measured at 16x224: at most 1.5e-5, TEA-R50). Folding
# rescales weights (one rounding per weight) and channels-last changes the summation order of
# the convolution kernels; nothing else changes the arithmetic.
REL_TOL = 1e-4


def _randomize_bn(model: nn.Module, x: torch.Tensor | None = None) -> None:
    """Running statistics of real activations (one train-mode pass over ``x``: at random init
    with the default statistics, a deep CNN's eval output can shrink to ~1e-13 and stop
    depending on the input, e.g. EfficientNet-B0 in VTN-EFF, which would make parity vacuous),
    or random ones without ``x``; random affine parameters either way."""
    g = torch.Generator().manual_seed(0)
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        n = m.num_features
        m.running_mean.copy_(torch.rand(n, generator=g) - 0.5)
        m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
        if m.weight is not None:
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(n, generator=g) * 0.4 - 0.2)
    if x is not None and bns:
        for m in bns:
            m.reset_running_stats()
            m.momentum = None  # cumulative average: one pass sets the statistics
        was = model.training
        with torch.no_grad():
            model.train()(x)
        model.train(was)


def _rel(a, b) -> float:
    if isinstance(a, dict):
        return max(_rel(a[k], b[k]) for k in a)
    return ((a - b).abs().max() / a.abs().max()).item()


@pytest.mark.parametrize("name", list_models())
def test_optimized_inference_matches_plain_for_every_model(name):
    torch.manual_seed(0)
    model = litevid.create_model(name, num_classes=7, **SMALL).eval()
    x = torch.randn(2, 3, SMALL["frames"], SMALL["size"], SMALL["size"])
    _randomize_bn(model)
    fast = optimize(model)
    with torch.inference_mode():
        ref, out = model(x), fast(x)
    assert _rel(ref, out) <= REL_TOL, (name, _rel(ref, out))
    # The same function, not only close in fp32: in float64, with BatchNorm statistics of real
    # activations (so the output depends on the input), the forms agree to rounding.
    model64 = model.double()
    x64 = x.double()
    _randomize_bn(model64, x64)
    fast64 = optimize(model64)
    with torch.inference_mode():
        ref64, out64, other = model64(x64), fast64(x64), model64(torch.randn_like(x64))
    assert _rel(ref64, other) > 1e-3, "the output must depend on the input"
    assert _rel(ref64, out64) <= 1e-9, (name, _rel(ref64, out64))
    rep = fast.report
    n_bn = sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    left = sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in fast.model.modules())
    assert rep.bn_folded == n_bn - left  # every BN reported folded is gone
    if name in ("tsm_r50", "nl_r50", "x3d_xs", "movinet_a0", "movinet_a2", "i3d_bert"):
        assert rep.bn_folded > 0 and left == 0, (rep.bn_folded, left)  # all follow a conv
    assert rep.layout == choose_layout(rep.conv_share, "cpu")
    # the plain model is untouched (a deep copy was optimized)
    assert sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()) == n_bn


def test_layout_rule_follows_conv_share():
    cnn = optimize(litevid.create_model("x3d_xs", **SMALL).eval())
    vit = optimize(litevid.create_model("timesformer", **SMALL).eval())
    assert cnn.report.conv_share > 0.95 and cnn.report.layout == "channels_last"
    assert vit.report.conv_share < 0.1 and vit.report.layout == "contiguous"
    assert next(iter(p for p in cnn.model.parameters() if p.dim() == 5)).is_contiguous(
        memory_format=torch.channels_last_3d)
    assert choose_layout(0.9, "mps") == "contiguous"


def test_fold_batchnorm_follows_data_flow_not_names():
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.bn = nn.BatchNorm2d(4)  # after the conv: folded
            self.pool_bn = nn.BatchNorm2d(4)  # after a pooling: kept
            self.shared = nn.Conv2d(4, 4, 1)
            self.bn2 = nn.BatchNorm2d(4)  # after a conv called twice: kept

        def forward(self, x):
            x = self.bn(self.conv(x))
            x = self.pool_bn(torch.nn.functional.avg_pool2d(x, 2))
            return self.bn2(self.shared(self.shared(x)))

    net = Net().eval()
    _randomize_bn(net)
    x = torch.randn(2, 3, 8, 8)
    assert find_conv_bn_pairs(net, x) == [("conv", "bn")]
    ref = net(x)
    with torch.no_grad():
        assert fold_batchnorm(net, x) == 1
        out = net(x)
    assert isinstance(net.bn, nn.Identity) and isinstance(net.pool_bn, nn.BatchNorm2d)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="eval mode"):
        fold_batchnorm(net.train(), x)


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_single_copy_temporal_shift_is_exact(layout):
    x = torch.randn(2 * 5, 16, 3, 4).contiguous(memory_format=layout)
    ref = temporal_shift(x, 5)
    out = temporal_shift_single_copy(x, 5)
    assert torch.equal(out, ref)
    assert out.is_contiguous(memory_format=layout)  # no layout change, no hidden copy later
    # its own one-pass backward (the reverse shift) gives autograd's gradient of the cat form
    xg = x.clone().requires_grad_()
    g = torch.randn_like(x)
    want = torch.autograd.grad(temporal_shift(xg, 5), xg, g)[0]
    got = torch.autograd.grad(temporal_shift_single_copy(xg, 5), xg, g)[0]
    assert torch.equal(got, want) and got.is_contiguous(memory_format=layout)


# TSM-R50 and X3D-XS in float64: the one-pass shift and its backward, the 2D routes of the 3D
# convs (X3D's in-place ReLUs after them), channels-last, exact to rounding
# (in fp32, channels-last conv backward sums in another order: up to ~1e-2 of a weight's largest
# gradient, measured); ViViT-FE in fp32, where the oneDNN linears (fp32 / bf16 only) apply.
@pytest.mark.parametrize("name, dtype, tol", [("tsm_r50", torch.float64, 1e-9),
                                              ("x3d_xs", torch.float64, 1e-9),
                                              ("vivit_fe", torch.float32, 1e-4)])
def test_training_form_keeps_batchnorm_and_gives_the_plain_gradients(name, dtype, tol):
    torch.manual_seed(0)
    model = litevid.create_model(name, num_classes=3, **SMALL).to(dtype)
    model.eval()  # no dropout / drop-path randomness, BatchNorm in eval: one function to compare
    _randomize_bn(model)  # no zero-initialised BN scales: every weight gets a gradient
    fast = optimize(model, for_="training").eval()
    rep = fast.report
    assert rep.bn_folded == 0 and rep.fused_gelus == 0 and rep.inplace_acts == 0
    if name == "tsm_r50":
        assert rep.shift_single_copy == 16 and rep.layout == "channels_last"
    elif name == "x3d_xs":
        assert rep.ops_via_2d > 0 and rep.layout == "channels_last"
    elif torch.backends.mkldnn.is_available():
        assert rep.onednn_linears > 0
    x = torch.randn(2, 3, 4, 64, 64, dtype=dtype)
    model(x).square().sum().backward()
    fast(x).square().sum().backward()
    plain_grads = dict(model.named_parameters())
    for n, p in fast.model.named_parameters():  # same names: the rewrites keep the parameters
        ref = plain_grads[n].grad
        assert p.grad is not None and ref is not None, n
        diff, scale = (p.grad - ref).abs().max().item(), ref.abs().max().item()
        assert diff <= tol * scale, (n, diff, scale)  # a gradient of 0 (a dead ReLU) stays 0
    assert sum(p.grad.abs().max() > 0 for p in fast.model.parameters()) > 10


def test_optimize_bad_arguments():
    model = litevid.create_model("x3d_xs", **SMALL)
    with pytest.raises(ValueError, match="for_"):
        optimize(model, for_="serving")
    with pytest.raises(ValueError, match="cuda_graphs"):
        optimize(model, cuda_graphs=True)
    with pytest.raises(ValueError, match="layout"):
        optimize(model, layout="nhwc")


def test_bench_optimize_and_profile_rows(tmp_path):
    from litevid.bench import BenchConfig
    from litevid.bench.runner import run_bench
    from litevid.results.store import ResultStore

    db = tmp_path / "r.db"
    common = dict(models="x3d_xs", modes="single", frames=4, size=64, iters=2, max_iters=2,
                  min_seconds=0, warmup=1, in_process=True, db=str(db))
    run_bench(BenchConfig(**common))
    run_bench(BenchConfig(**common, optimize=True, profile=True))
    with ResultStore(db, readonly=True) as store:
        plain, fast = list(store.rows())
    assert not plain["optimized"] and fast["optimized"] and plain["profile"] is None
    assert fast["settings"]["optimize"]["bn_folded"] > 0
    ops = fast["profile"]
    assert 0 < len(ops) <= 15 and ops[0]["self_ms"] >= ops[-1]["self_ms"] > 0
    assert {"op", "calls", "self_ms", "self_pct", "total_ms", "clock"} <= set(ops[0])
    assert any("conv" in o["op"] for o in ops)
    json.dumps(fast["profile"])
    # never ranked together: different settings keys
    from litevid.results.query import relative_latency

    rel = relative_latency([plain, fast])
    assert [e["relative"] for e in rel] == [1.0, 1.0]
    with pytest.raises(ValueError, match="--optimize"):
        BenchConfig(models="x3d_xs", runtime="onnxruntime", optimize=True).resolved("cpu")


# ---- the layout-keeping and allocation-saving rewrites (optimization/rewrite.py) -------------

def _is_cl(t: torch.Tensor) -> bool:
    fmt = torch.channels_last_3d if t.dim() == 5 else torch.channels_last
    return t.is_contiguous(memory_format=fmt)


@pytest.mark.parametrize("kw, route", [
    (dict(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)), "frames"),
    (dict(kernel_size=(1, 5, 5), stride=(2, 1, 1), padding=(0, 2, 2), groups=6, bias=False),
     "frames"),
    (dict(kernel_size=1), "frames"),  # pointwise: the channels-last matmul at run time
    (dict(kernel_size=(5, 1, 1), padding=(2, 0, 0), groups=6, bias=False), "time"),
    (dict(kernel_size=(3, 1, 1), stride=(2, 1, 1), dilation=(2, 1, 1)), "time"),
])
@pytest.mark.parametrize("layout", [torch.channels_last_3d, torch.contiguous_format])
def test_conv3d_via_2d_matches_conv3d_and_keeps_the_layout(kw, route, layout):
    from litevid.optimization.rewrite import Conv3dVia2d

    torch.manual_seed(0)
    conv = nn.Conv3d(6, 12, **kw)
    x = torch.randn(2, 6, 7, 9, 9).contiguous(memory_format=layout)
    new = Conv3dVia2d.from_conv(conv)
    assert new.route == route
    assert new.weight is conv.weight  # the same parameters: state dict names and shapes
    assert new.state_dict().keys() == conv.state_dict().keys()
    with torch.no_grad():
        ref = conv(x.contiguous())
        out = new.to(memory_format=layout)(x)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    assert out.shape == ref.shape
    if layout == torch.channels_last_3d or route == "time":  # optimize uses "frames" on CL only
        assert out.is_contiguous(memory_format=layout)
    assert not Conv3dVia2d.supports(nn.Conv3d(6, 6, 3, padding=1))  # a real 3D kernel: kept
    with pytest.raises(ValueError, match="Conv3dVia2d"):
        Conv3dVia2d.from_conv(nn.Conv3d(6, 6, 3))


def test_frame_pool3d_matches_pooling_and_keeps_channels_last():
    from litevid.optimization.rewrite import Pool3dVia2d

    x = torch.randn(2, 6, 6, 15, 15).contiguous(memory_format=torch.channels_last_3d)
    pools = [nn.AvgPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)),
             nn.AvgPool3d((1, 3, 3), (2, 2, 2), (0, 1, 1), count_include_pad=False),
             nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)), nn.MaxPool3d((1, 2, 2), ceil_mode=True)]
    for pool in pools:
        out = Pool3dVia2d(pool)(x)
        torch.testing.assert_close(out, pool(x.contiguous()), rtol=1e-6, atol=1e-6)
        assert _is_cl(out), pool
    assert not Pool3dVia2d.supports(nn.MaxPool3d(3, 2, 1))  # temporal kernel: kept
    with pytest.raises(ValueError, match="Pool3dVia2d"):
        Pool3dVia2d(nn.AvgPool3d(3))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", ["x3d_xs", "movinet_a0"])
def test_optimized_3d_cnn_stays_channels_last_after_its_stem(name, threads):
    # Regression guard: a (1, 3, 3) Conv3d on 3 channels took PyTorch's slow_conv3d path and
    # returned a contiguous map, so the whole 3D CNN after the stem ran contiguous (so did
    # MoViNet after its first AvgPool3d shortcut and its 8 -> 24 pointwise Conv3d; on one thread
    # also X3D's (5, 1, 1) conv and every pointwise conv at a small batch).
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        _assert_channels_last_throughout(name)
    finally:
        torch.set_num_threads(before)


def _assert_channels_last_throughout(name: str) -> None:
    fast = optimize(litevid.create_model(name, **SMALL).eval())
    assert fast.report.ops_via_2d >= 1
    outs = []
    hooks = [m.register_forward_hook(lambda mod, a, o: outs.append((mod, o)))
             for m in fast.model.modules() if isinstance(m, nn.Conv3d)]
    with torch.inference_mode():
        fast(torch.randn(1, 3, SMALL["frames"], SMALL["size"], SMALL["size"]))
    for h in hooks:
        h.remove()
    big = [(m, o) for m, o in outs if o.shape[-1] > 1]  # (N, C, 1, 1, 1) maps have no layout
    assert big and all(_is_cl(o) for _, o in big), [m for m, o in big if not _is_cl(o)][:3]


def test_inplace_activations_only_on_fresh_sequential_tensors():
    from litevid.optimization.rewrite import inplace_activations

    shared = nn.ReLU()
    seq = nn.Sequential(
        nn.ReLU(),  # index 0: its input comes from outside the chain
        nn.Conv2d(3, 4, 1), nn.Identity(), nn.SiLU(),  # after conv (+ folded BN): switched
        nn.Identity(), nn.Hardswish(),  # after an Identity after an activation: kept
        nn.Conv2d(4, 4, 1), shared,  # registered twice: kept
    )
    net = nn.ModuleDict({"seq": seq, "again": shared})
    assert inplace_activations(net) == 1
    assert seq[3].inplace and not seq[0].inplace and not seq[5].inplace and not shared.inplace
    x = torch.randn(2, 3, 5, 5)
    before = x.clone()
    fresh = nn.Sequential(nn.Conv2d(3, 4, 1), nn.GELU())
    assert inplace_activations(fresh) == 0  # GELU has no in-place form
    with torch.no_grad():
        seq(x)
    assert torch.equal(x, before)  # the caller's tensor is never overwritten


def test_onednn_linear_and_fused_gelu_match_and_fall_back_for_autograd():
    from litevid.layers.mlp import Mlp
    from litevid.optimization.rewrite import OneDNNLinear, onednn_linears

    if not torch.backends.mkldnn.is_available():
        pytest.skip("this torch build has no oneDNN")
    torch.manual_seed(0)
    mlp = Mlp(24, 96).eval()
    net = nn.Sequential(mlp, nn.Linear(24, 5))
    x = torch.randn(3, 7, 24).transpose(0, 1)  # N-D and not contiguous
    with torch.no_grad():
        ref = net(x)
    fast = optimize(net, input_shape=(7, 24))
    assert (fast.report.onednn_linears, fast.report.fused_gelus) == (3, 1)
    inner = fast.model[0]
    assert isinstance(inner.fc1, OneDNNLinear) and inner.fc1.post_op == "gelu"
    assert isinstance(inner.act, nn.Identity)
    with torch.inference_mode():
        out = fast(x)
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)
    # under autograd the same module computes the same values through F.linear
    lin = OneDNNLinear.from_linear(nn.Linear(24, 5))
    xg = torch.randn(4, 24, requires_grad=True)
    lin(xg).sum().backward()
    assert xg.grad is not None and xg.grad.shape == xg.shape
    assert onednn_linears(nn.Sequential(nn.Linear(2, 2).double())) == (0, 0)  # fp64: kept


@pytest.mark.parametrize("mode", ["fixed", "shift"])
def test_elementwise_temporal_conv_shift_matches_conv_form(mode):
    from litevid.models.resnet_family import TemporalConvShift

    torch.manual_seed(0)
    m = TemporalConvShift(8, mode)
    with torch.no_grad():
        m.conv.weight.add_(torch.randn_like(m.conv.weight) * 0.3)  # learnt taps, not the init
    x = torch.randn(2 * 5, 8, 3, 4).contiguous(memory_format=torch.channels_last)
    ref = m(x, 5)
    m.elementwise = True
    out = m(x, 5)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)
    assert _is_cl(out)  # the conv form returns a contiguous map


def test_fold_probe_is_small_and_falls_back_to_the_full_clip():
    class FixedSize(nn.Module):  # a head that only takes 96x96 frames
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv3d(3, 4, 3, padding=1)
            self.bn = nn.BatchNorm3d(4)
            self.fc = nn.Linear(4 * 2 * 96 * 96, 5)

        def forward(self, x):
            return self.fc(self.bn(self.conv(x)).flatten(1))

    seen = []
    net = FixedSize().eval()
    _randomize_bn(net)
    net.conv.register_forward_pre_hook(lambda m, a: seen.append(tuple(a[0].shape)))
    x = torch.randn(1, 3, 2, 96, 96)
    with torch.no_grad():
        ref = net(x)
    seen.clear()
    fast = optimize(net, input_shape=(3, 2, 96, 96), layout="contiguous")
    assert fast.report.bn_folded == 1
    assert seen[0] == (1, 3, 2, 64, 64) and (1, 3, 2, 96, 96) in seen  # small first, then full
    with torch.no_grad():
        torch.testing.assert_close(fast(x), ref, rtol=1e-4, atol=1e-5)
