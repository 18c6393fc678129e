"""Video Swin checkpoint layouts: what the generic parity test (``test_checkpoint_layouts.py``)
does not show on its own.

The fixtures ``tests/fixtures/weights/swin_t_*`` come from torchvision's ``SwinTransformer3d``
and the official Video Swin release code (``tools/weight_fixtures/swin.py``). Here: the four Swin
layouts (two video, two ImageNet) and litevid's own keys are told apart, near misses
(torchvision's 2D Swin, mmaction2 1.x's FFN names) are not taken for them, keys litevid cannot
use are reported instead of dropped, a video file of another window is not "inflated", litevid's
own files keep their classifier, and the one place litevid's attention differs from both
originals (a map smaller than the window in height or width) is pinned down.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import litevid
from litevid.models._layouts import detect_layout
from litevid.models._weights import load_checkpoint
from litevid.models.video_swin import relative_position_index

FIXTURES = Path(__file__).parent / "fixtures" / "weights"
TV, OFFICIAL = "swin_t_torchvision_swin3d", "swin_t_video_swin_official"
TINY = dict(embed_dim=8, depths=(2, 2, 2, 2), num_heads=(1, 1, 2, 2), window=(2, 3, 3),
            num_classes=5)


def _meta(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def _fixture_model(name: str, **overrides) -> torch.nn.Module:
    args = {k: tuple(v) if isinstance(v, list) else v for k, v in _meta(name)["model_args"].items()}
    return litevid.create_model("swin_t", **{**args, **overrides}).eval()


def _keys(*names: str) -> dict[str, torch.Tensor]:
    return dict.fromkeys(names, torch.zeros(1))


def _layout_states() -> dict[str, dict[str, torch.Tensor]]:
    """Key sets of each layout, derived from litevid's own keys (detection reads keys only)."""
    native = litevid.create_model("swin_t", **TINY).state_dict()
    index = {k.replace("relative_position_bias_table", "relative_position_index"): torch.zeros(1)
             for k in native if k.endswith("relative_position_bias_table")}
    microsoft = {k.replace("head.fc.", "head."): v for k, v in native.items()} | index
    timm = {}
    for k, v in native.items():
        p = k.split(".")
        if p[0] == "layers" and p[2] == "downsample":
            p[1] = str(int(p[1]) + 1)
        timm[".".join(p)] = v
    official = {("backbone." + k if not k.startswith("head.") else
                 k.replace("head.fc.", "cls_head.fc_cls.")): v for k, v in (native | index).items()}
    return {"litevid": native, "microsoft-swin": microsoft, "timm-swin": timm,
            "video-swin-official": official,
            "torchvision-swin3d": load_checkpoint(FIXTURES / _meta(TV)["file"])}


def test_the_swin_layouts_are_told_apart():
    for name, state in _layout_states().items():
        assert getattr(detect_layout(state), "name", None) == name
        assert getattr(detect_layout(state, "swin_t"), "name", None) == name
    assert detect_layout(load_checkpoint(FIXTURES / _meta(OFFICIAL)["file"])).name == \
        "video-swin-official"


def test_near_misses_are_not_taken_for_a_swin_layout():
    # torchvision's 2D swin_t: the patch conv is features.0.0, stage 0 is features.1
    tv2d = _keys("features.0.0.weight", "features.0.2.weight", "features.1.0.norm1.weight",
                 "features.1.0.attn.relative_position_bias_table", "features.1.0.mlp.0.weight",
                 "features.2.reduction.weight", "norm.weight", "head.weight")
    assert detect_layout(tv2d, "swin_t") is None
    # mmaction2 1.x's own Video Swin: mmcv FFN names in the blocks
    official = _layout_states()["video-swin-official"]
    ffn = {k.replace("mlp.fc1.", "mlp.layers.0.0.").replace("mlp.fc2.", "mlp.layers.1."): v
           for k, v in official.items()}
    assert detect_layout(ffn, "swin_t") is None


def test_keys_litevid_cannot_use_are_reported():
    extra = torch.zeros(3)
    tv = load_checkpoint(FIXTURES / _meta(TV)["file"])
    tv |= {"features.0.0.attn.logit_scale": extra, "features.0.scale": extra, "fc.weight": extra}
    report = _fixture_model(TV).load_pretrained(tv, keep_head=True)
    assert sorted(report.unexpected) == ["fc.weight", "features.0.scale",
                                         "layers.0.blocks.0.attn.logit_scale"]
    assert report.missing == [] and report.mismatched == []
    official = load_checkpoint(FIXTURES / _meta(OFFICIAL)["file"])
    official |= {"cls_head.fc_extra.weight": extra, "neck.weight": extra}
    report = _fixture_model(OFFICIAL).load_pretrained(official, keep_head=True)
    assert sorted(report.unexpected) == ["cls_head.fc_extra.weight", "neck.weight"]
    assert report.missing == [] and report.mismatched == []


def test_a_video_table_of_another_window_is_reported_not_inflated():
    # the official fixture has window 4x3x3 (7*5*5 = 175 rows); a 2x3x3 model has 75
    model = _fixture_model(OFFICIAL, window=(2, 3, 3))
    report = model.load_pretrained(FIXTURES / _meta(OFFICIAL)["file"], keep_head=True,
                                   min_share=0)
    tables = [m for m in report.mismatched if "relative_position_bias_table" in m]
    assert len(tables) == 6 and all("(175, " in m and "(75, " in m for m in tables)
    assert len(report.mismatched) == 6 and report.unexpected == []


def test_litevid_files_keep_their_classifier():
    source = litevid.create_model("swin_t", **TINY)
    model = litevid.create_model("swin_t", **TINY)
    report = model.load_pretrained(source.state_dict())
    assert report.layout == "litevid" and report.missing == [] and report.unexpected == []
    assert torch.equal(model.head.fc.weight, source.head.fc.weight)


def test_window_smaller_than_the_map_uses_true_offsets():
    """Where a map is smaller than the window, both originals (torchvision and the official code,
    which agree there) take ``index[:N, :N]`` of the full window's index; litevid indexes the
    true offsets. For the leading (time) axis the two are the same, so 8-frame clips (4 tokens,
    window 8) match the originals; for height or width they are not (e.g. 112-pixel frames at
    stage 4: a 4x4 map, window 7x7), and litevid's logits differ from the originals there."""
    full = relative_position_index((8, 7, 7), (8, 7, 7))
    for window in [(4, 7, 7), (1, 7, 7), (8, 7, 7)]:
        n = window[0] * window[1] * window[2]
        assert torch.equal(relative_position_index(window, (8, 7, 7)), full[:n, :n])
    for window in [(8, 4, 4), (8, 7, 4), (4, 3, 7)]:
        n = window[0] * window[1] * window[2]
        assert not torch.equal(relative_position_index(window, (8, 7, 7)), full[:n, :n])
    # the true offsets: token (0,0,1) vs (0,0,0) is offset (0,0,+1) whatever the window
    own = relative_position_index((8, 4, 4), (8, 7, 7))
    assert own[1, 0] == full[1, 0] == (7 * 13 * 13 + 6 * 13 + 7)


@pytest.mark.parametrize("name", [TV, OFFICIAL])
def test_fixture_configurations_avoid_the_documented_difference(name):
    """No stage of a fixture has a map smaller than the window in height or width (there the
    originals' logits are not litevid's by design), and every padding path runs."""
    meta = _meta(name)
    args = meta["model_args"]
    io = torch.load(FIXTURES / meta["io"], weights_only=True)
    _, _, T, H, W = io["input"].shape
    pt, ph, pw = args["patch_size"]
    assert T % pt and H % ph  # the tubelet embedding pads
    h, w = -(-H // ph), -(-W // pw)  # token maps after the (padded) tubelet embedding
    odd_merge = False
    for stage in range(len(args["depths"])):
        assert h >= args["window"][1] and w >= args["window"][2], (stage, h, w)
        odd_merge |= stage < len(args["depths"]) - 1 and bool(h % 2 or w % 2)
        h, w = -(-h // 2), -(-w // 2)
    assert odd_merge
