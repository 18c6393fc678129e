"""Published checkpoint layouts load exactly: parity with the original implementations.

Every ``tests/fixtures/weights/NAME.json`` was written by ``tools/make_weight_fixtures.py`` in
the peers venv: the original code (torchvision, pytorchvideo, Hugging Face, the official
releases, the MoViNet port) at a reduced configuration with random weights and random BN
statistics, its state dict in its own key layout and release wrapper, an input clip and the
original's logits. Here the file goes through litevid's layout detection and converter into
the same configuration, and the logits must agree. No network, no peer package.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import torch

import litevid
from litevid.cli import main
from litevid.models._layouts import detect_layout, list_layouts
from litevid.models._weights import load_checkpoint

FIXTURES = Path(__file__).parent / "fixtures" / "weights"
CASES = sorted(FIXTURES.glob("*.json"))
# Video layouts proven some other way, with the reason (none may be silently left out).
WITHOUT_FIXTURE: dict[str, str] = {}


def _from_json(value: Any) -> Any:
    """JSON back to create_model arguments: lists -> tuples, digit-string keys -> ints."""
    if isinstance(value, list):
        return tuple(_from_json(v) for v in value)
    if isinstance(value, dict):
        return {(int(k) if isinstance(k, str) and k.isdigit() else k): _from_json(v)
                for k, v in value.items()}
    return value


def _meta(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max() / b.double().abs().max())


def _load(meta: dict[str, Any], **kwargs: Any):
    args = _from_json(meta["model_args"])
    model = litevid.create_model(meta["model"], **{**args, **kwargs.pop("model_args", {})})
    report = model.load_pretrained(FIXTURES / meta["file"], **kwargs)
    return model.eval(), report


def test_there_are_fixtures():
    assert len(CASES) >= 8, f"parity fixtures missing under {FIXTURES}"


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_published_layout_matches_the_original(path):
    meta = _meta(path)
    io = torch.load(FIXTURES / meta["io"], weights_only=True)
    model, report = _load(meta, keep_head=True)
    assert report.layout == meta["layout"]
    assert (report.missing, report.mismatched, report.unexpected) == ([], [], [])
    with torch.no_grad():
        logits = model(io["input"])
    assert logits.shape == io["logits"].shape
    err = _rel(logits, io["logits"])
    assert err <= meta["rtol"], f"{path.stem}: {err:.2e} > {meta['rtol']:.0e}"
    # a saved model is rebuilt as it was loaded: its state dict and arch_args (e.g. MoViNet's
    # padding, MViT's pooling-norm eps, which the checkpoint chose) give the same logits
    args = {**_from_json(meta["model_args"]), "num_classes": model.num_classes,
            **model.arch_args()}
    again = litevid.create_model(meta["model"], **args).eval()
    again.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert torch.equal(again(io["input"]), logits)
    # ... and the comparison is sharp: 1% noise on one converted tensor breaks it
    name, t = max(((k, v) for k, v in model.state_dict().items() if v.is_floating_point()
                   and ".weight" in k and v.dim() > 1), key=lambda kv: kv[1].numel())
    with torch.no_grad():
        g = torch.Generator().manual_seed(0)
        t.add_(torch.randn(t.shape, generator=g) * t.std() * 0.01)
        assert _rel(model(io["input"]), io["logits"]) > meta["rtol"], name


def test_every_video_layout_has_a_fixture():
    proven = {_meta(p)["layout"] for p in CASES}
    video = {lay.name for lay in list_layouts() if lay.kind == "video" and lay.models}
    assert video - proven - set(WITHOUT_FIXTURE) == set()


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_weights_inspect_names_each_fixture(path, capsys):
    meta = _meta(path)
    rc = main(["weights", "inspect", str(FIXTURES / meta["file"]), "--model", meta["model"],
               "--model-args", json.dumps(meta["model_args"]), "--keep-head", "--json"])
    info = json.loads(capsys.readouterr().out)
    assert rc == 0 and info["layout"]["name"] == meta["layout"]
    assert meta["model"] in info["layout"]["models"]
    fit = info["fits"][0]
    assert fit["loaded"] == fit["total"] and fit["verdict"] == "every tensor"
    assert len(info["sha256"]) == 64 and info["parameters"] > 0
    assert info["classes"] == torch.load(FIXTURES / meta["io"], weights_only=True)["logits"].shape[1]


def test_other_widths_drop_the_head_with_a_note():
    meta = _meta(CASES[0])
    width = torch.load(FIXTURES / meta["io"], weights_only=True)["logits"].shape[1]
    model, report = _load(meta, model_args={"num_classes": width + 3})
    assert model.num_classes == width + 3
    assert sorted(report.missing) == ["head.fc.bias", "head.fc.weight"]
    assert any("classifier dropped" in n and str(width) in n for n in report.notes)
    model, report = _load(meta, model_args={"num_classes": width + 3}, keep_head=True)
    assert model.num_classes == width and report.missing == []
    assert any("classifier kept" in n for n in report.notes)


def test_eval_and_predict_take_a_published_file_only_with_keep_head(monkeypatch):
    from litevid.train.predict import load_for_inference

    meta = _meta(CASES[0])
    io = torch.load(FIXTURES / meta["io"], weights_only=True)
    file = FIXTURES / meta["file"]
    with pytest.raises(ValueError, match="--keep-head"):
        load_for_inference(meta["model"], file, device=torch.device("cpu"))
    # the reduced configuration of the fixture stands in for the registered one
    monkeypatch.setattr(litevid.models, "create_model",
                        partial(litevid.models.create_model, **_from_json(
                            {k: v for k, v in meta["model_args"].items() if k != "num_classes"})))
    loaded = load_for_inference(meta["model"], file, device=torch.device("cpu"), keep_head=True,
                                frames=io["input"].shape[2], size=io["input"].shape[-1])
    assert loaded.num_classes == io["logits"].shape[1]
    with torch.no_grad():
        assert _rel(loaded.model(io["input"]), io["logits"]) <= meta["rtol"]
    with pytest.raises(ValueError, match="classes, the data needs"):
        load_for_inference(meta["model"], file, device=torch.device("cpu"), keep_head=True,
                           num_classes=io["logits"].shape[1] + 1)


def test_layout_detection_names_the_closest_when_none_fits(tmp_path):
    from litevid.models._inspect import inspect_checkpoint

    state = load_checkpoint(FIXTURES / _meta(CASES[0])["file"])
    assert detect_layout(state) is not None
    # keep one key of the signature only: no layout matches, the closest is named
    bad = {f"renamed.{k}": v for k, v in list(state.items())[:3]}
    torch.save(bad, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match=r"bad\.pth: fits no known checkpoint layout"):
        inspect_checkpoint(tmp_path / "bad.pth")


def test_inspect_names_a_litevid_training_file(tmp_path):
    from litevid.models._inspect import inspect_checkpoint

    meta = next(_meta(p) for p in CASES if _meta(p)["model"] == "movinet_a0")
    model, _ = _load(meta, keep_head=True)  # switched to tf-same by the TF-port file
    path = tmp_path / "last.pt"
    torch.save({"format": "litevid-train-checkpoint/1", "model_name": "movinet_a0",
                "model_args": model.arch_args(), "state": {"epoch": 2},
                "model": model.state_dict()}, path)
    info = inspect_checkpoint(path, model_args=meta["model_args"])
    assert info.layout.name == "litevid" and [f.model for f in info.fits] == ["movinet_a0"]
    assert info.saved_by == "litevid train: movinet_a0, epoch 2, padding=tf-same"
    assert info.fits[0].verdict == "every tensor"
