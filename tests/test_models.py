"""Every registered model, present and future: build, forward, backward, head reset, spec, errors.

Parametrized over the registry (like timm's tests/test_models.py), so a new family is covered by
registering it. Small inputs (4 frames at 64x64) keep the whole file to a few minutes on 2 cores;
parameter counts are checked at the paper configuration on the meta device (nothing allocated).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import litevid
from litevid.cli import main as cli_main
from litevid.models import ModelSpec, VideoModel, register_model
from litevid.models._registry import _REGISTRY, CATEGORIES, EXPORT_FORMATS, INIT_METHODS, InitSpec

MODELS = litevid.list_models()
SMALL = dict(frames=4, size=64)
NUM_CLASSES = 7
HEADS = {"verb": 5, "noun": 3}  # EPIC-KITCHENS-style named heads (small widths)


@functools.lru_cache(maxsize=1)
def _small_model(name: str) -> torch.nn.Module:
    # maxsize=1: tests run model by model, so one full-width model is alive at a time.
    return litevid.create_model(name, num_classes=NUM_CLASSES, **SMALL)


def _clip(model: torch.nn.Module, batch: int = 2) -> torch.Tensor:
    spec = model.spec
    return torch.randn(batch, spec.in_chans, spec.frames, spec.size, spec.size)


def test_registry_is_filled():
    expected = {"tsm_r50", "nl_r50", "tea_r50", "i3d_bert", "vtn_r50"}
    assert expected <= set(MODELS)


@pytest.mark.parametrize("name", MODELS)
def test_forward_shape_and_finite(name):
    model = _small_model(name).eval()
    with torch.no_grad():
        out = model(_clip(model))
    assert out.shape == (2, NUM_CLASSES)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", MODELS)
def test_backward_reaches_every_parameter(name):
    model = _small_model(name).train()
    model.zero_grad(set_to_none=True)
    out = model(_clip(model))
    torch.nn.functional.cross_entropy(out, torch.arange(2) % NUM_CLASSES).backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"parameters without gradient: {missing[:10]}"
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    model.zero_grad(set_to_none=True)


@pytest.mark.parametrize("name", MODELS)
def test_features_head_and_reset_classifier(name):
    model = copy.deepcopy(_small_model(name)).eval()
    x = _clip(model, batch=1)
    with torch.no_grad():
        feats = model.forward_features(x)
        pre = model.forward_head(feats, pre_logits=True)
        assert pre.shape == (1, model.num_features)
        assert torch.allclose(model.forward_head(feats), model(x), atol=1e-5)
        model.reset_classifier(3)
        assert model.num_classes == 3
        assert model(x).shape == (1, 3)
        model.reset_classifier(0)  # no classifier: pooled features
        assert model.num_classes == 0
        assert model(x).shape == (1, model.num_features)
        torch.testing.assert_close(model(x), pre)  # eval: dropout is off
        model.reset_classifier(HEADS)  # to named heads ...
        assert model.num_classes == HEADS
        out = model(x)
        assert {k: v.shape for k, v in out.items()} == {"verb": (1, 5), "noun": (1, 3)}
        torch.testing.assert_close(model.forward_head(feats, pre_logits=True), pre)  # same width
        model.reset_classifier(4)  # ... and back to one
        assert model.num_classes == 4 and model(x).shape == (1, 4)
        assert isinstance(model.get_classifier(), nn.Linear)


@pytest.mark.parametrize("name", MODELS)
def test_named_heads_from_create_model(name):
    model = litevid.create_model(name, num_classes=HEADS, **SMALL).train()
    assert model.num_classes == HEADS and model.spec.num_classes == HEADS
    x = _clip(model)
    out = model(x)
    assert isinstance(out, dict) and list(out) == list(HEADS)
    assert {k: v.shape for k, v in out.items()} == {k: (2, n) for k, n in HEADS.items()}
    loss = sum(F.cross_entropy(out[k], torch.arange(2) % n) for k, n in HEADS.items())
    loss.backward()
    for head in HEADS:  # each named classifier gets its own gradient
        fc = model.get_classifier()[head]
        assert fc.weight.grad is not None and fc.weight.grad.abs().sum() > 0
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"parameters without gradient: {missing[:10]}"
    with torch.no_grad():
        pre = model.eval().forward_head(model.forward_features(x[:1]), pre_logits=True)
    assert pre.shape == (1, model.num_features)
    # One classifier per name: same parameter count as the widths summed into one layer.
    counts = {k: sum(p.numel() for p in fc.parameters()) for k, fc in model.get_classifier().items()}
    assert counts == {k: (model.num_features + 1) * n for k, n in HEADS.items()}


@pytest.mark.parametrize("name", MODELS)
def test_bad_input_raises_clear_error(name):
    model = _small_model(name)
    spec = model.spec
    with pytest.raises(ValueError, match="5-D"):
        model(torch.zeros(1, spec.in_chans, spec.size, spec.size))  # a single image, no T
    with pytest.raises(ValueError, match="channels"):
        model(torch.zeros(1, spec.in_chans + 1, spec.frames, spec.size, spec.size))


@pytest.mark.parametrize("name", MODELS)
def test_param_count_matches_paper(name):
    spec = litevid.model_spec(name)
    assert spec.paper_params_m is not None, "every model of the study has a reference count"
    with torch.device("meta"):
        model = litevid.create_model(name)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    assert abs(params - spec.paper_params_m) / spec.paper_params_m <= 0.02, (
        f"{name}: {params:.3f}M vs {spec.paper_params_source} {spec.paper_params_m}M"
    )


@pytest.mark.parametrize("name", MODELS)
def test_spec_consistency(name):
    spec = litevid.model_spec(name)
    assert spec.name == name
    assert spec.category in CATEGORIES
    assert set(spec.export) == set(EXPORT_FORMATS)
    assert len(spec.mean) == len(spec.std) == spec.in_chans
    assert isinstance(spec.init, InitSpec), "the spec must say how the study initialised the model"
    model = _small_model(name)
    assert isinstance(model, VideoModel)
    assert type(model).__module__.rsplit(".", 1)[-1] == spec.family
    assert model.spec == dataclasses.replace(spec, num_classes=NUM_CLASSES, **SMALL)
    assert model.num_classes == NUM_CLASSES
    data = json.loads(json.dumps(spec.to_dict()))  # plain data, readable without torch
    assert data["init"]["dataset"] == spec.init.dataset


@pytest.mark.parametrize("name", MODELS)
def test_init_is_structured_and_prose_is_derived(name):
    init = litevid.model_spec(name).init
    assert init.method in INIT_METHODS
    assert init.from_scratch == (init.dataset is None)
    prose = init.describe()
    assert INIT_METHODS[init.method] in prose and init.notes in prose
    if init.from_scratch:
        assert not init.sources and not init.layouts and prose.startswith("from scratch")
    else:
        assert init.sources and init.layouts and prose.startswith(init.dataset)
        assert all(s in prose for s in (*init.sources, *init.layouts))


def test_init_of_the_study():
    init = {n: litevid.model_spec(n).init for n in MODELS}
    assert [n for n, i in init.items() if i.from_scratch] == ["mvit_s"]
    assert init["x3d_xs"].dataset == "Kinetics-400" and init["x3d_xs"].layouts == ("pytorchvideo-x3d",)
    assert init["tsm_r50"].sources == ("resnet50",) and init["tsm_r50"].method == "per-frame"
    assert init["i3d_bert"].method == "i3d-inflation"
    assert init["swin_t"].method == "tubelet-inflation" and "microsoft-swin" in init["swin_t"].layouts
    assert init["timesformer"].method == "temporal-copy"
    with pytest.raises(ValueError, match="scratch"):
        InitSpec(dataset=None, method="per-frame")
    with pytest.raises(ValueError, match="method"):
        InitSpec(dataset="ImageNet-1K", method="copy", sources=("x",), layouts=("timm",))


@pytest.mark.parametrize("name", MODELS)
def test_declared_clip_shape_changes_the_architecture(name):
    # A builder declares frames/size only if the network depends on them (no accept-and-ignore);
    # undeclared ones are only recorded in the spec.
    declared = _REGISTRY[name].shape_args
    other = dict(frames=80, size=320)
    with torch.device("meta"):
        ref = {k: v.shape for k, v in litevid.create_model(name).state_dict().items()}
        for arg, value in other.items():
            model = litevid.create_model(name, **{arg: value})
            assert getattr(model.spec, arg) == value
            shapes = {k: v.shape for k, v in model.state_dict().items()}
            assert (shapes != ref) == (arg in declared), f"{name}: {arg} declared={arg in declared}"


def test_other_clip_shapes():
    # 8 frames at 112x112 must work too (users' and tests' inputs differ from the paper's).
    model = litevid.create_model("tsm_r50", num_classes=4, frames=8, size=112).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 8, 112, 112)).shape == (1, 4)


def test_unknown_name_suggests_close_matches():
    with pytest.raises(ValueError, match="did you mean.*tsm_r50"):
        litevid.create_model("tsm_r5")
    with pytest.raises(ValueError, match="unknown model"):
        litevid.model_spec("no_such_model_at_all")


def test_duplicate_registration_raises():
    def tsm_r50(**kwargs):
        return None

    with pytest.raises(ValueError, match="already registered"):
        register_model(litevid.model_spec("tsm_r50"))(tsm_r50)


class _Tiny(VideoModel):
    def __init__(self, num_classes=400, frames: int | None = None) -> None:
        super().__init__()
        self.frames = frames
        self.proj = nn.Conv3d(3, 4, 1)
        self.create_head(4, num_classes, pool=(2, 3, 4))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


@pytest.fixture
def tiny_builders():
    spec = ModelSpec(paper_name="Tiny", category="baseline", frames=6,
                     init=InitSpec(dataset=None, method="scratch"))

    def litevid_test_plain(*, num_classes=400):
        return _Tiny(num_classes)

    def litevid_test_shaped(*, num_classes=400, frames: int = 1):
        return _Tiny(num_classes, frames)

    try:
        yield register_model(spec)(litevid_test_plain), register_model(spec)(litevid_test_shaped)
    finally:
        for fn in ("litevid_test_plain", "litevid_test_shaped"):
            _REGISTRY.pop(fn, None)


def test_register_model_derives_name_and_family_and_passes_declared_args(tiny_builders):
    spec = litevid.model_spec("litevid_test_plain")
    assert (spec.name, spec.family, spec.paper_name) == ("litevid_test_plain", "test_models", "Tiny")
    # Undeclared frames/size: accepted, recorded in the spec, never passed to the builder.
    model = litevid.create_model("litevid_test_plain", num_classes=3, frames=8, size=32)
    assert (model.spec.frames, model.spec.size, model.spec.num_classes) == (8, 32, 3)
    assert model.frames is None
    # Declared: the spec's default, or the user's value.
    assert litevid.create_model("litevid_test_shaped").frames == 6
    assert litevid.create_model("litevid_test_shaped", frames=8).frames == 8
    # Anything else the builder does not take is the usual TypeError.
    with pytest.raises(TypeError, match="bogus"):
        litevid.create_model("litevid_test_plain", bogus=1)
    with pytest.raises(ValueError, match="differs from the builder"):
        register_model(spec)(lambda **kw: None)


def test_unknown_kwarg_raises_type_error():
    with pytest.raises(TypeError, match="no_such_option"):
        litevid.create_model("swin_t", no_such_option=1)


def test_named_heads_in_movinet_stream():
    torch.manual_seed(1)
    model = litevid.create_model("movinet_a0", num_classes=HEADS, frames=4, size=48, causal=True)
    model.eval()
    x = torch.rand(1, 3, 4, 48, 48)
    state = model.init_state(1, 48, 48)
    with torch.no_grad():
        full = model(x)
        for t in range(0, 4, 2):
            out, state = model.forward_stream(x[:, :, t:t + 2], state)
    assert list(out) == list(HEADS)
    for k, n in HEADS.items():
        assert out[k].shape == (1, n)
        torch.testing.assert_close(out[k], full[k], rtol=0, atol=1e-4)


def test_named_heads_export():
    # Dict outputs trace and export like tensors (no data-dependent control flow in the head).
    model = litevid.create_model("timesformer", num_classes=HEADS, embed_dim=32, depth=1,
                                 num_heads=2, **SMALL).eval()
    x = torch.randn(1, 3, 4, 64, 64)
    exported = torch.export.export(model, (x,))
    with torch.no_grad():
        ref, out = model(x), exported.module()(x)
    assert list(out) == list(HEADS)
    for k in HEADS:
        torch.testing.assert_close(out[k], ref[k], rtol=0, atol=1e-5)


@pytest.mark.parametrize("name, std", [("tsm_r50", 0.001), ("x3d_xs", 0.01), ("movinet_a0", 0.01),
                                       ("mvit_s", 0.02)])
def test_classifier_init_survives_reset(name, std):
    model = litevid.create_model(name, num_classes=400, **SMALL)
    for num_classes in (400, {"verb": 400}):
        model.reset_classifier(num_classes)
        fc = model.get_classifier()
        fc = fc["verb"] if isinstance(num_classes, dict) else fc
        assert fc.weight.std().item() == pytest.approx(std, rel=0.1)
        assert not fc.bias.any()


def test_list_models_pattern_and_none_kwargs():
    assert litevid.list_models("vtn_*") == [n for n in MODELS if n.startswith("vtn_")]
    assert "tsm_r50" in litevid.list_models("*r50")
    # None values never override model defaults (CLI flags left unset).
    with torch.device("meta"):
        model = litevid.create_model("tsm_r50", num_classes=None, drop_rate=None)
    assert model.num_classes == 400 and model.head.drop.p == 0.5


def test_cli_models_json(capsys):
    assert cli_main(["models", "--json", "--pattern", "tsm_r50"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["tsm_r50"]
    assert rows[0]["params"] == 24_327_632
    assert rows[0]["gflops"] == pytest.approx(65.4, abs=0.1)


def test_cli_help(capsys):
    with pytest.raises(SystemExit) as exc:
        cli_main(["models", "--help"])
    assert exc.value.code == 0
    assert "--json" in capsys.readouterr().out


def test_init_layouts_are_the_registered_layouts():
    """``spec.init.layouts`` names the registered layouts (``litevid weights layouts``) and
    every registered layout is declared by each model it names: one source for both."""
    from litevid.models._layouts import list_layouts

    registered = {lay.name: lay for lay in list_layouts() if lay.models}
    for name in MODELS:
        for layout in litevid.model_spec(name).init.layouts:
            assert layout in registered and name in registered[layout].models, (name, layout)
    for lay in registered.values():
        for name in lay.models:
            init = litevid.model_spec(name).init
            assert init.from_scratch or lay.name in init.layouts, (name, lay.name)
