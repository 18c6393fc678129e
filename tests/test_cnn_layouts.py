"""The CNN layouts beyond parity: X3D-XS (pytorchvideo) and TSM-R50 (TSM repository) classifiers
are mapped, not dropped; what does not map is reported; the ImageNet layouts of the ResNet trunks
are named. Parity with the originals is ``test_checkpoint_layouts.py``; this uses its fixtures.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import litevid
from litevid.models._layouts import detect_layout, list_layouts
from litevid.models._weights import load_checkpoint

FIXTURES = Path(__file__).parent / "fixtures" / "weights"


def _fixture(name: str) -> tuple[dict, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """create_model arguments, the file's (unwrapped) state dict and its input/logits."""
    meta = json.loads((FIXTURES / f"{name}.json").read_text())
    args = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["model_args"].items()}
    return (args, load_checkpoint(FIXTURES / meta["file"]),
            torch.load(FIXTURES / meta["io"], weights_only=True))


def _model(name: str, args: dict, **over) -> torch.nn.Module:
    return litevid.create_model(name, **{**args, **over}).eval()


def test_tsm_repo_classifier_maps_and_the_rest_is_reported():
    args, state, io = _fixture("tsm_r50_tsm_repo")
    model = _model("tsm_r50", args)
    report = model.load_pretrained(state)
    assert report.layout == "tsm-repo" and report.missing == [] and report.unexpected == []
    torch.testing.assert_close(model.head.fc.weight, state["new_fc.weight"])
    torch.testing.assert_close(model.backbone.layer3[1].conv1.weight,
                               state["base_model.layer3.1.conv1.net.weight"])
    # A key TSM-R50 has no place for, and a classifier bias that is absent: both reported.
    odd = {k: v for k, v in state.items() if k != "new_fc.bias"}
    odd["base_model.layer1.0.conv1.net.extra"] = torch.zeros(3)
    report = _model("tsm_r50", args).load_pretrained(odd)
    assert report.unexpected == ["backbone.layer1.0.conv1.extra"]
    assert report.missing == ["head.fc.bias"]
    # Another width: dropped with a note, and reported missing (the new classifier starts fresh).
    report = _model("tsm_r50", args, num_classes=7).load_pretrained(state)
    assert report.missing == ["head.fc.weight", "head.fc.bias"]
    assert any("dropped" in note for note in report.notes)


def test_tsn_without_dropout_keeps_its_classifier_in_base_model_fc():
    """TSN built with dropout 0 has no ``new_fc``: the classifier is ``base_model.fc``."""
    args, state, io = _fixture("tsm_r50_tsm_repo")
    moved = {k.replace("new_fc.", "base_model.fc."): v for k, v in state.items()}
    model = _model("tsm_r50", args)
    report = model.load_pretrained(moved)
    assert report.layout == "tsm-repo" and not (report.missing or report.unexpected)
    with torch.no_grad():
        torch.testing.assert_close(model(io["input"]), io["logits"], rtol=1e-5, atol=1e-6)


def test_x3d_classifier_maps_and_unknown_keys_are_reported():
    args, state, _ = _fixture("x3d_xs_pytorchvideo")
    model = _model("x3d_xs", args)
    report = model.load_pretrained({**state, "blocks.5.extra.weight": torch.zeros(2)})
    assert report.layout == "pytorchvideo-x3d"
    assert report.unexpected == ["blocks.5.extra.weight"] and report.missing == []
    torch.testing.assert_close(model.head.fc.weight, state["blocks.5.proj.weight"])
    assert any("identity" in note for note in report.notes)  # the filled-in shortcut BN


@pytest.mark.parametrize("fixture, name", [("x3d_xs_pytorchvideo", "x3d_xs"),
                                           ("tsm_r50_tsm_repo", "tsm_r50")])
def test_own_checkpoint_keeps_its_classifier(fixture, name, tmp_path):
    """A litevid checkpoint of these models reloads whole (the filters pass ``head.`` through)."""
    args, state, io = _fixture(fixture)
    model = _model(name, args)
    model.load_pretrained(state)
    torch.save(model.state_dict(), tmp_path / "own.pt")
    again = _model(name, args)
    report = again.load_pretrained(tmp_path / "own.pt")
    assert not (report.missing or report.unexpected or report.mismatched)
    with torch.no_grad():
        torch.testing.assert_close(again(io["input"]), io["logits"], rtol=1e-5, atol=1e-6)


def _imagenet_keys(res2net: bool) -> dict[str, torch.Tensor]:
    """torchvision ``resnet50`` / timm ``res2net50_26w_4s`` key names (values are not looked at)."""
    keys = ["conv1.weight", "bn1.weight", "bn1.running_var", "fc.weight", "fc.bias"]
    for i, n in enumerate((3, 4, 6, 3), start=1):
        for j in range(n):
            p = f"layer{i}.{j}"
            keys += [f"{p}.conv1.weight", f"{p}.conv3.weight", f"{p}.bn3.running_var"]
            keys += ([f"{p}.convs.{s}.weight" for s in range(3)]
                     + [f"{p}.bns.{s}.running_var" for s in range(3)] if res2net
                     else [f"{p}.conv2.weight", f"{p}.bn2.running_var"])
            if j == 0:
                keys.append(f"{p}.downsample.0.weight")
    state = {k: torch.zeros(1) for k in keys}
    state["fc.weight"] = torch.zeros(1000, 1)
    return state


def test_imagenet_and_tsm_layouts_are_named():
    r50, r2n = _imagenet_keys(False), _imagenet_keys(True)
    assert detect_layout(r50).name == "torchvision-resnet50"
    assert detect_layout(r2n).name == "timm-res2net50_26w_4s"
    for model in ("tsm_r50", "nl_r50", "vtn_r50", "i3d_bert"):
        assert detect_layout(r50, model).name == "torchvision-resnet50"
    assert detect_layout(r2n, "tea_r50").name == "timm-res2net50_26w_4s"
    kinds = {lay.name: lay.kind for lay in list_layouts("tsm_r50")}
    assert kinds["torchvision-resnet50"] == "image" and kinds["tsm-repo"] == "video"
    # The TSM repository's keys are the ResNet-50's under base_model.: named as the TSM layout.
    _, tsm, _ = _fixture("tsm_r50_tsm_repo")
    assert detect_layout(tsm).name == "tsm-repo"
    assert detect_layout({f"module.{k}": v for k, v in r50.items()}) is None  # not unwrapped
