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

import litevid
from litevid.cli import main as cli_main
from litevid.models import VideoModel
from litevid.models._registry import CATEGORIES, EXPORT_FORMATS

MODELS = litevid.list_models()
SMALL = dict(frames=4, size=64)
NUM_CLASSES = 7


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
        assert model(x).shape == (1, model.num_features)


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
    assert spec.pretrained, "the spec must say how the study initialised the model"
    model = _small_model(name)
    assert isinstance(model, VideoModel)
    assert type(model).__module__.rsplit(".", 1)[-1] == spec.family
    assert model.spec == dataclasses.replace(spec, num_classes=NUM_CLASSES, **SMALL)
    assert model.num_classes == NUM_CLASSES
    json.dumps(spec.to_dict())  # plain data, readable without torch


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
    from litevid.models import register_model

    with pytest.raises(ValueError, match="already registered"):
        register_model(litevid.model_spec("tsm_r50"))(lambda **kw: None)


def test_list_models_pattern_and_none_kwargs():
    assert litevid.list_models("vtn_*") == [n for n in MODELS if n.startswith("vtn_")]
    assert "tsm_r50" in litevid.list_models("*r50")
    # None values never override model defaults (CLI flags left unset).
    with torch.device("meta"):
        model = litevid.create_model("tsm_r50", num_classes=None, drop_rate=None)
    assert model.num_classes == 400 and model.head_drop.p == 0.5


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
