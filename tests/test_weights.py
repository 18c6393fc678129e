"""Local ImageNet initialisation: key layouts of torchvision/timm checkpoints, inflation, reports.

The checkpoints are built here from the published key layouts (names and shapes written out from
the architecture, not taken from our models), saved to disk and loaded the way a user would.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import litevid
from litevid.models._weights import inflate_conv2d_weight, load_checkpoint


def _bn(prefix: str, c: int) -> dict[str, torch.Tensor]:
    return {
        f"{prefix}.weight": torch.rand(c) + 0.5, f"{prefix}.bias": torch.randn(c),
        f"{prefix}.running_mean": torch.randn(c), f"{prefix}.running_var": torch.rand(c) + 0.5,
        f"{prefix}.num_batches_tracked": torch.tensor(100),
    }


def torchvision_resnet50_state() -> dict[str, torch.Tensor]:
    """torchvision ``resnet50`` (= timm ``resnet50``) key names and shapes, random values."""
    sd = {"conv1.weight": torch.randn(64, 3, 7, 7), **_bn("bn1", 64)}
    inplanes = 64
    for i, (n, planes) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512)), start=1):
        for j in range(n):
            p = f"layer{i}.{j}"
            sd[f"{p}.conv1.weight"] = torch.randn(planes, inplanes, 1, 1)
            sd[f"{p}.conv2.weight"] = torch.randn(planes, planes, 3, 3)
            sd[f"{p}.conv3.weight"] = torch.randn(planes * 4, planes, 1, 1)
            for k, c in ((1, planes), (2, planes), (3, planes * 4)):
                sd.update(_bn(f"{p}.bn{k}", c))
            if j == 0:
                sd[f"{p}.downsample.0.weight"] = torch.randn(planes * 4, inplanes, 1, 1)
                sd.update(_bn(f"{p}.downsample.1", planes * 4))
            inplanes = planes * 4
    sd["fc.weight"], sd["fc.bias"] = torch.randn(1000, 2048), torch.randn(1000)
    return sd


def timm_res2net50_26w_4s_state() -> dict[str, torch.Tensor]:
    """timm ``res2net50_26w_4s`` / official Res2Net key names and shapes."""
    sd = {"conv1.weight": torch.randn(64, 3, 7, 7), **_bn("bn1", 64)}
    inplanes = 64
    for i, (n, planes) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512)), start=1):
        width = planes * 26 // 64
        for j in range(n):
            p = f"layer{i}.{j}"
            sd[f"{p}.conv1.weight"] = torch.randn(width * 4, inplanes, 1, 1)
            sd.update(_bn(f"{p}.bn1", width * 4))
            for s in range(3):
                sd[f"{p}.convs.{s}.weight"] = torch.randn(width, width, 3, 3)
                sd.update(_bn(f"{p}.bns.{s}", width))
            sd[f"{p}.conv3.weight"] = torch.randn(planes * 4, width * 4, 1, 1)
            sd.update(_bn(f"{p}.bn3", planes * 4))
            if j == 0:
                sd[f"{p}.downsample.0.weight"] = torch.randn(planes * 4, inplanes, 1, 1)
                sd.update(_bn(f"{p}.downsample.1", planes * 4))
            inplanes = planes * 4
    sd["fc.weight"], sd["fc.bias"] = torch.randn(1000, 2048), torch.randn(1000)
    return sd


@pytest.fixture(scope="module")
def r50_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "resnet50.pth"
    torch.save(torchvision_resnet50_state(), path)
    return path


@pytest.mark.parametrize("name", ["tsm_r50", "nl_r50", "vtn_r50"])
def test_resnet50_checkpoint_loads_into_2d_models(name, r50_file):
    model = litevid.create_model(name, num_classes=5, frames=4, size=64)
    report = model.load_pretrained(r50_file)
    ref = torch.load(r50_file, weights_only=True)
    assert report.unexpected == [] and report.mismatched == []
    assert len(report.loaded) == len(ref) - 2  # everything but fc.weight / fc.bias
    # What stays missing is exactly what the 2D checkpoint cannot provide.
    new_parts = ("head.", "backbone.extra_blocks.", "temporal.")
    assert report.missing and all(k.startswith(new_parts) for k in report.missing)
    torch.testing.assert_close(model.backbone.layer3[4].conv2.weight, ref["layer3.4.conv2.weight"])
    torch.testing.assert_close(model.backbone.bn1.running_var, ref["bn1.running_var"])


def test_create_model_pretrained_path(r50_file):
    model = litevid.create_model("tsm_r50", num_classes=3, pretrained=str(r50_file))
    ref = torch.load(r50_file, weights_only=True)
    torch.testing.assert_close(model.backbone.conv1.weight, ref["conv1.weight"])


def test_res2net_checkpoint_loads_into_tea(tmp_path):
    path = tmp_path / "res2net50_26w_4s.pth"
    torch.save({"state_dict": timm_res2net50_26w_4s_state()}, path)  # wrapped, as some repos do
    model = litevid.create_model("tea_r50", num_classes=5)
    report = model.load_pretrained(path)
    assert report.unexpected == [] and report.mismatched == []
    assert all(".me." in k or ".shifts." in k or k.startswith("head.") for k in report.missing)
    ref = load_checkpoint(path)
    torch.testing.assert_close(model.backbone.layer2[1].convs[2].weight, ref["layer2.1.convs.2.weight"])


def test_i3d_inflation(r50_file):
    model = litevid.create_model("i3d_bert", num_classes=5, frames=4, size=64)
    report = model.load_pretrained(r50_file)
    assert report.unexpected == [] and report.mismatched == []
    assert all(k.startswith(("temporal.", "head.")) for k in report.missing)
    ref = torch.load(r50_file, weights_only=True)
    w3 = model.backbone.conv1.weight  # (64, 3, 7, 7, 7)
    assert w3.shape == (64, 3, 7, 7, 7)
    torch.testing.assert_close(w3.sum(2), ref["conv1.weight"])  # repeat / kt sums back
    torch.testing.assert_close(model.backbone.layer1[0].conv2.weight[:, :, 1] * 3,
                               ref["layer1.0.conv2.weight"])
    # On a clip of identical frames the inflated conv reproduces the 2D conv (interior frames).
    conv = model.backbone.layer1[0].conv2
    x2 = torch.randn(1, 64, 16, 16)
    out3 = F.conv3d(x2[:, :, None].repeat(1, 1, 5, 1, 1), conv.weight, padding=1)
    expected = F.conv2d(x2, ref["layer1.0.conv2.weight"], padding=1)
    torch.testing.assert_close(out3[:, :, 2], expected, atol=1e-4, rtol=1e-4)


def test_inflate_rejects_non_conv():
    with pytest.raises(ValueError, match="4-D"):
        inflate_conv2d_weight(torch.randn(3, 3), 3)


def test_bad_checkpoint_files(tmp_path):
    model = litevid.create_model("tsm_r50", num_classes=2)
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        model.load_pretrained(tmp_path / "missing.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pth"):
        model.load_pretrained(junk)
    empty = tmp_path / "empty.pth"
    torch.save({"epoch": 3}, empty)
    with pytest.raises(ValueError, match="no state dict"):
        model.load_pretrained(empty)


def test_strict_load_reports_the_gap(r50_file):
    model = litevid.create_model("tsm_r50", num_classes=2)
    with pytest.raises(ValueError, match="missing 2"):  # the new head only
        model.load_pretrained(r50_file, strict=True)


def test_mismatched_shapes_are_reported_not_loaded():
    model = litevid.create_model("tsm_r50", num_classes=2)
    before = model.backbone.conv1.weight.clone()
    report = model.load_pretrained({"conv1.weight": torch.randn(64, 3, 3, 3)}, min_share=0)
    assert report.mismatched and "backbone.conv1.weight" in report.mismatched[0]
    torch.testing.assert_close(model.backbone.conv1.weight, before)


def test_another_models_checkpoint_is_refused_naming_the_file(tmp_path, r50_file):
    """ResNet-50 weights fill none of X3D's tensors: an error, not a silent start from scratch."""
    with pytest.raises(ValueError, match=r"resnet50\.pth: does not fit .*loaded 0 of \d+ tensors"):
        litevid.create_model("x3d_xs", num_classes=4, pretrained=str(r50_file))
    model = litevid.create_model("x3d_xs", num_classes=4)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match="--pretrained-min-share 0"):
        model.load_pretrained(r50_file)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # untouched
    # On purpose: a partial load with the share lowered, and the report says what happened.
    model = litevid.create_model("tsm_r50", num_classes=2, pretrained=str(r50_file))
    assert model.load_report.share == pytest.approx(318 / 320)
    partial = {k: v for k, v in torch.load(r50_file, weights_only=True).items()
               if k.startswith("layer1.")}
    with pytest.raises(ValueError, match="below the 50% required"):
        model.load_pretrained(partial)
    report = model.load_pretrained(partial, min_share=0)
    assert 0 < report.share < 0.5 and "loaded" in report.summary()


def test_train_prints_the_load_report_and_refuses_a_foreign_checkpoint(tiny, tmp_path, capsys,
                                                                        r50_file):
    from litevid.cli import main

    common = ["train", "--model", "_tiny_train_net", "--frames", "4", "--size", "32",
              "--num-clips", "16", "--batch-size", "8", "--effective-batch", "8", "--epochs",
              "1", "--workers", "0", "--db", str(tmp_path / "r.db")]
    rc = main([*common, "--pretrained", str(r50_file), "--out", str(tmp_path / "a")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and str(r50_file) in err[0] and "loaded 0 of" in err[0]
    assert not (tmp_path / "a" / "last.pt").exists()
    # The tiny model's own weights: loaded, and the report is printed.
    own = tmp_path / "own.pt"
    torch.save(litevid.create_model("_tiny_train_net", num_classes=8).state_dict(), own)
    rc = main([*common, "--pretrained", str(own), "--out", str(tmp_path / "b"), "--max-steps",
               "1"])
    out = capsys.readouterr().out
    assert rc == 0 and f"weights from {own}: loaded 10 of 10 tensors (100%)" in out
