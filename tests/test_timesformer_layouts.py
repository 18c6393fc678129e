"""TimeSformer checkpoint layouts: what the generic parity test (``test_checkpoint_layouts.py``)
does not show on its own.

The fixtures ``tests/fixtures/weights/timesformer_{official,hf}`` come from the official
``facebookresearch/TimeSformer`` code and Hugging Face ``TimesformerForVideoClassification``
(``tools/weight_fixtures/timesformer.py``), 4 frames on a 4x4 patch grid. Here: a file for
another clip length or grid is resized as the original resizes it and the report says so; the
three layouts are told apart from each other and from litevid's own keys; keys litevid cannot
use are reported under their own names; the classifier is kept or dropped by width; the dry run
``litevid weights inspect`` does on the meta device works through the resize.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import litevid
from litevid.layers.pos_embed import resample_pos_embed_2d
from litevid.models._layouts import detect_layout
from litevid.models._weights import load_checkpoint

FIXTURES = Path(__file__).parent / "fixtures" / "weights"
NAMES = {"timesformer_official": "timesformer-official", "timesformer_hf": "hf-timesformer"}


def _meta(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def _model(name: str, **overrides) -> torch.nn.Module:
    return litevid.create_model("timesformer", **{**_meta(name)["model_args"], **overrides}).eval()


def _state(name: str) -> dict[str, torch.Tensor]:
    return load_checkpoint(FIXTURES / _meta(name)["file"])


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def _deit_state(dim: int = 32, depth: int = 2, grid: int = 4) -> dict[str, torch.Tensor]:
    """timm ``deit_*_patch8`` key names (what the study initialises from), width ``dim``."""
    g = torch.Generator().manual_seed(0)
    shapes = {"cls_token": (1, 1, dim), "pos_embed": (1, 1 + grid * grid, dim),
              "patch_embed.proj.weight": (dim, 3, 8, 8), "patch_embed.proj.bias": (dim,),
              "norm.weight": (dim,), "norm.bias": (dim,),
              "head.weight": (1000, dim), "head.bias": (1000,)}
    for i in range(depth):
        for name, shape in (("norm1", (dim,)), ("attn.qkv", (3 * dim, dim)),
                            ("attn.proj", (dim, dim)), ("norm2", (dim,)),
                            ("mlp.fc1", (4 * dim, dim)), ("mlp.fc2", (dim, 4 * dim))):
            shapes[f"blocks.{i}.{name}.weight"] = shape
            shapes[f"blocks.{i}.{name}.bias"] = shape[:1]
    return {k: torch.randn(s, generator=g) * 0.1 for k, s in shapes.items()}


@pytest.mark.parametrize("name", NAMES)
def test_a_4_frame_file_in_an_8_frame_model_is_what_the_original_computes_on_8_frames(name):
    # The original resizes ``time_embed`` nearest when the clip is longer than it was built for,
    # in its loader and in its forward alike; litevid's forward does the same. So the file
    # loaded into an 8-frame model must equal the 4-frame model run on the 8-frame clip.
    clip = torch.randn(1, 3, 8, 32, 32, generator=torch.Generator().manual_seed(1))
    four, eight = _model(name), _model(name, frames=8)
    four.load_pretrained(FIXTURES / _meta(name)["file"], keep_head=True)
    report = eight.load_pretrained(FIXTURES / _meta(name)["file"], keep_head=True)
    assert report.layout == NAMES[name] and (report.missing, report.unexpected) == ([], [])
    assert "time_embed resized from 4 to 8 frames (nearest, as the original does)" in report.notes
    assert torch.equal(eight.time_embed, four.time_embed.repeat_interleave(2, dim=1))
    with torch.no_grad():
        assert _rel(eight(clip), four(clip)) <= 1e-6


def test_another_patch_grid_is_resized_bicubic_and_noted():
    name = "timesformer_official"
    model = _model(name, size=48)  # 6x6 patches instead of 4x4
    report = model.load_pretrained(FIXTURES / _meta(name)["file"], keep_head=True)
    assert "pos_embed resized from a 4x4 to a 6x6 patch grid (bicubic)" in report.notes
    expected = resample_pos_embed_2d(_state(name)["model.pos_embed"], (6, 6), 1)
    assert torch.equal(model.pos_embed.detach(), expected)
    assert not any("time_embed" in note for note in report.notes)


def test_layouts_are_told_apart_and_from_litevids_own_keys():
    for name, layout in NAMES.items():
        assert detect_layout(_state(name)).name == layout
        assert detect_layout(_state(name), "timesformer").name == layout
    deit = _deit_state()
    assert detect_layout(deit, "timesformer").name == "timm-vit"
    own = _model("timesformer_hf").state_dict()  # has cls_token, blocks.0.attn.qkv, no head.weight
    assert detect_layout(own, "timesformer").name == detect_layout(own).name == "litevid"
    model = _model("timesformer_hf")
    report = model.load_pretrained(dict(own))
    assert report.layout == "litevid" and (report.missing, report.unexpected) == ([], [])
    assert report.notes == ["classifier kept: 10 classes, the model's width"]


# per fixture: a key the original may carry that litevid has no place for, the name the report
# gives it (official: ``model.`` stripped; Hugging Face: its own name), and a key to remove
UNUSED = {
    "timesformer_official": ("model.blocks.0.temporal_attn.rel_pos",
                             "blocks.0.temporal_attn.rel_pos", "model.blocks.0.norm2.bias"),
    "timesformer_hf": ("timesformer.pooler.dense.weight", "timesformer.pooler.dense.weight",
                       "timesformer.encoder.layer.0.layernorm_after.bias"),
}


@pytest.mark.parametrize("name", NAMES)
def test_keys_litevid_cannot_use_are_reported_under_their_names(name):
    extra, reported, removed = UNUSED[name]
    state = _state(name)
    state[extra] = torch.zeros(3)
    del state[removed]
    report = _model(name).load_pretrained(state, keep_head=True)
    assert report.layout == NAMES[name]
    assert report.unexpected == [reported] and report.missing == ["blocks.0.norm2.bias"]


@pytest.mark.parametrize("name", NAMES)
def test_classifier_kept_at_the_models_width_dropped_otherwise(name):
    kept = _model(name).load_pretrained(FIXTURES / _meta(name)["file"])
    assert "head.fc.weight" in kept.loaded
    assert "classifier kept: 10 classes, the model's width" in kept.notes
    model = _model(name, num_classes=7)
    dropped = model.load_pretrained(FIXTURES / _meta(name)["file"])
    assert set(dropped.missing) == {"head.fc.weight", "head.fc.bias"} and not dropped.unexpected
    assert any(note.startswith("classifier dropped") for note in dropped.notes)
    assert model.num_classes == 7


def test_image_checkpoint_keeps_the_study_initialisation():
    deit = _deit_state()
    model = _model("timesformer_hf", num_classes=5)
    report = model.load_pretrained(deit)
    assert report.layout == "timm-vit"
    assert set(report.missing) == {"head.fc.weight", "head.fc.bias"} and not report.unexpected
    assert any("temporal_fc and time_embed zero" in note for note in report.notes)
    sd = model.state_dict()
    assert torch.equal(sd["blocks.1.temporal_attn.qkv.weight"], deit["blocks.1.attn.qkv.weight"])
    assert not sd["time_embed"].any() and not sd["blocks.0.temporal_fc.weight"].any()
    # a distilled DeiT (CLS, DIST, then the grid): the DIST position entry is dropped
    deit["dist_token"] = torch.randn(1, 1, 32)
    deit["pos_embed"] = torch.cat([deit["pos_embed"][:, :1], torch.randn(1, 1, 32),
                                   deit["pos_embed"][:, 1:]], dim=1)
    report = _model("timesformer_hf").load_pretrained(deit)
    assert report.unexpected == ["dist_token"] and "pos_embed" in report.loaded
    assert torch.equal(_model("timesformer_hf").checkpoint_filter(deit)["pos_embed"],
                       torch.cat([deit["pos_embed"][:, :1], deit["pos_embed"][:, 2:]], dim=1))


def test_dry_run_on_the_meta_device_resizes_and_notes():
    # ``litevid weights inspect`` builds the model on the meta device and dry-runs the load
    state = _state("timesformer_hf")
    with torch.device("meta"):
        model = litevid.create_model("timesformer", **{**_meta("timesformer_hf")["model_args"],
                                                       "frames": 6, "size": 40})
        report = model.load_pretrained(dict(state), keep_head=True, dry_run=True)
    assert (report.missing, report.unexpected, report.mismatched) == ([], [], [])
    assert "time_embed resized from 4 to 6 frames (nearest, as the original does)" in report.notes
    assert "pos_embed resized from a 4x4 to a 5x5 patch grid (bicubic)" in report.notes
