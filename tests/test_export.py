"""``litevid export``: every format that installs here, parity-checked, at a small input.

Each export runs its artefact with its runtime on the same random clip as eager PyTorch (Core ML
converts and passes its spec check here; it predicts on macOS only). ExecuTorch lowering takes
tens of seconds per model on 2 cores, so each (model, format) is exported once per session
(``_exported``) and the tests read the result.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import litevid
from litevid.export import api
from litevid.export.api import check_parity, export_model
from litevid.export.formats import FORMATS, ExportError, MissingDependency, get_format
from litevid.export.matrix import read_matrix
from litevid.models._registry import EXPORT_FORMATS

SMALL = dict(frames=4, size=64)
# The four: two efficient CNNs, a composite and a transformer.
MODELS = ("movinet_a0", "x3d_xs", "vtn_eff", "vivit_fe")


def _installed(fmt: str) -> bool:
    try:
        get_format(fmt).check_available()
        return True
    except MissingDependency:
        return False


@pytest.fixture(scope="session")
def export_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("exports")


_CACHE: dict[tuple, object] = {}


def _exported(name: str, fmt: str, out: Path, **kw):
    key = (name, fmt, tuple(sorted(kw.items())))
    if key not in _CACHE:
        if not _installed(fmt):
            pytest.skip(f"{fmt}: the export extra is not installed")
        _CACHE[key] = export_model(name, fmt, out_dir=out, **SMALL, **kw)
    return _CACHE[key]


def test_formats_match_the_registry_and_cli():
    from litevid.export.cli import _FORMAT_NAMES

    assert set(FORMATS) == set(EXPORT_FORMATS) == set(_FORMAT_NAMES)


@pytest.mark.parametrize("fmt", ["onnx", "torchscript-lite", "executorch"])
@pytest.mark.parametrize("name", MODELS)
def test_export_and_parity(name, fmt, export_dir):
    result = _exported(name, fmt, export_dir)
    assert result.parity.status == "ok"
    assert result.parity.max_rel <= 1e-4
    assert result.artefact.is_file() and result.artefact.name == f"{name}_4x64{FORMATS[fmt].suffix}"
    side = json.loads(result.sidecar.read_text())
    assert side["sha256"] == hashlib.sha256(result.artefact.read_bytes()).hexdigest()
    assert side["input"]["shapes"] == [[1, 3, 4, 64, 64]]
    assert side["num_classes"] == 400 and side["outputs"] == ["logits"]
    assert side["input"]["mean"] == list(litevid.model_spec(name).mean)
    assert side["parity"]["status"] == "ok" and side["weights"]["random_init"] is True
    assert side["tools"]["torch"] == torch.__version__
    # The measured matrix says the same for this format (ModelSpec.export reads it).
    assert litevid.model_spec(name).export[fmt] is True
    if fmt == "executorch":  # XNNPACK takes (almost) every FLOP once 3D ops are rewritten
        assert side["format_info"]["delegated_flops_share"] > 0.95
    if fmt == "onnx":
        assert side["format_info"]["opset"] == 18
    # The artefact runs again, standalone, and gives the sidecar's parity.
    runner = FORMATS[fmt].load(result.artefact)
    x = torch.randn(1, 3, 4, 64, 64)
    assert runner([x])[0].shape == (1, 400)


@pytest.mark.parametrize("name", MODELS)
def test_coreml_converts_and_reports_parity_honestly(name, export_dir):
    result = _exported(name, "coreml", export_dir)
    assert result.artefact.is_dir() and result.artefact.suffix == ".mlpackage"
    side = json.loads(result.sidecar.read_text())
    assert side["format_info"]["model_type"] == "mlProgram"
    assert side["format_info"]["coreml_inputs"] == ["clip"]
    assert side["format_info"]["coreml_outputs"] == ["logits"]
    if sys.platform != "darwin":
        assert result.parity.status == "not run (needs macOS)" and result.parity.max_rel is None
    else:
        assert result.parity.status == "ok"


@pytest.fixture(scope="session")
def movinet_checkpoint(tmp_path_factory) -> tuple[Path, torch.nn.Module]:
    torch.manual_seed(3)
    model = litevid.create_model("movinet_a0", causal=True, **SMALL).eval()
    path = tmp_path_factory.mktemp("ckpt") / "movinet_a0.pt"
    torch.save(model.state_dict(), path)
    return path, model


@pytest.mark.parametrize("fmt", ["onnx", "executorch"])
def test_movinet_stream_step_matches_forward_stream(fmt, export_dir, movinet_checkpoint):
    ckpt, model = movinet_checkpoint
    result = _exported("movinet_a0", fmt, export_dir, stream=True, checkpoint=ckpt)
    assert result.parity.status == "ok" and result.parity.steps == api.STREAM_STEPS
    side = json.loads(result.sidecar.read_text())
    state = side["stream"]["state"]
    assert "frames" in state and "pool" in state and any(k.endswith(".conv") for k in state)
    assert side["input"]["names"][0] == "chunk" and side["input"]["shapes"][0] == [1, 3, 1, 64, 64]
    assert side["outputs"][0] == "logits" and len(side["outputs"]) == 1 + len(state)
    # Driven frame by frame here, the runtime follows eager forward_stream on new frames.
    runner = FORMATS[fmt].load(result.artefact)
    names = sorted(state)
    eager_state = model.init_state(1, 64, 64)
    rt_state = [eager_state[k] for k in names]
    for _ in range(5):
        frame = torch.rand(1, 3, 1, 64, 64)
        with torch.no_grad():
            logits, eager_state = model.forward_stream(frame, eager_state)
        out = runner([frame, *rt_state])
        rt_state = out[1:]
        assert torch.allclose(out[0], logits, atol=1e-4 * logits.abs().max().item())
    assert float(rt_state[names.index("frames")]) == 5.0


def test_checkpoint_sets_weights_and_classes(tmp_path):
    model = litevid.create_model("x3d_xs", num_classes=7, **SMALL)
    ckpt = tmp_path / "x3d7.pt"
    torch.save(model.state_dict(), ckpt)
    result = export_model("x3d_xs", "onnx", out_dir=tmp_path / "out", checkpoint=ckpt, **SMALL)
    side = json.loads(result.sidecar.read_text())
    assert side["num_classes"] == 7 and side["weights"]["random_init"] is False
    assert side["weights"]["sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    x = torch.randn(1, 3, 4, 64, 64)
    with torch.no_grad():
        ref = model.eval()(x)
    got = FORMATS["onnx"].load(result.artefact)([x])[0]
    assert torch.allclose(got, ref, atol=1e-5 * ref.abs().max().item())


def test_fp16_export_has_looser_stated_tolerance(export_dir):
    result = _exported("x3d_xs", "onnx", export_dir, precision="fp16")
    assert result.artefact.name == "x3d_xs_4x64_fp16.onnx"
    assert result.parity.ok and result.parity.rtol == 1e-2
    assert json.loads(result.sidecar.read_text())["input"]["dtype"] == "float16"


def test_check_parity_values():
    ref = [torch.tensor([1.0, -2.0, 4.0])]
    ok = check_parity(ref, [torch.tensor([1.0, -2.0, 4.0002])], 1e-4)
    assert ok.ok and ok.max_abs == pytest.approx(2e-4, rel=1e-2)
    assert ok.max_rel == pytest.approx(5e-5, rel=1e-2)
    assert not check_parity(ref, [torch.tensor([1.0, -2.0, 4.01])], 1e-4).ok
    assert not check_parity(ref, [torch.tensor([1.0, float("nan"), 4.0])], 1e-4).ok
    assert check_parity(ref, [torch.zeros(4)], 1e-4).status.startswith("failed: output shape")


# ---- bad input ---------------------------------------------------------------------------------

def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "litevid", "export", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=600)


def test_cli_unknown_format_and_model():
    out = _cli("x3d_xs", "--format", "onxx")
    assert out.returncode == 2 and "unknown export format 'onxx'; did you mean onnx" in out.stderr
    assert "Traceback" not in out.stderr
    out = _cli("x3d_xz", "--format", "onnx")
    assert out.returncode == 2 and "unknown model 'x3d_xz'" in out.stderr


def test_missing_dependency_names_the_extra(monkeypatch):
    fmt = get_format("onnx")
    monkeypatch.setattr(type(fmt), "requires", (("no_such_module_litevid", "onnxruntime"),))
    with pytest.raises(MissingDependency, match=r"pip install 'litevid\[export\]'"):
        export_model("x3d_xs", "onnx", **SMALL)


def test_unwritable_output_folder(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    out = _cli("x3d_xs", "--format", "onnx", "--out", str(blocker / "sub"), "--frames", "4",
               "--size", "64")
    assert out.returncode == 2 and "cannot create the folder" in out.stderr
    assert "Traceback" not in out.stderr


def test_parity_failure_leaves_nothing(tmp_path, monkeypatch):
    fmt = get_format("torchscript-lite")
    real_load = type(fmt).load

    def off_by_a_bit(self, path, *, threads=None):
        run = real_load(self, path, threads=threads)
        return lambda tensors: [t + 1e-2 * t.abs().max() for t in run(tensors)]

    monkeypatch.setattr(type(fmt), "load", off_by_a_bit)
    with pytest.raises(ExportError, match="parity failed .* no artefact written"):
        export_model("x3d_xs", "torchscript-lite", out_dir=tmp_path, **SMALL)
    assert list(tmp_path.iterdir()) == []  # no artefact, no sidecar, no temporary folder


def test_operator_the_runtime_lacks_is_named(tmp_path, monkeypatch):
    pytest.importorskip("executorch")
    from litevid.export import exportable

    monkeypatch.setattr(exportable, "exportable_form", lambda m, **kw: m)  # keep the 3D ops
    with pytest.raises(ExportError, match=r"XNNPACK has no .*conv3d.default \(\d+ node\(s\), e.g. "
                                          r"input \(1, 3, 4, 64, 64\)\)"):
        export_model("x3d_xs", "executorch", out_dir=tmp_path, **SMALL)
    assert list(tmp_path.iterdir()) == []


def test_stream_needs_movinet(tmp_path):
    with pytest.raises(ExportError, match="no stream mode"):
        export_model("x3d_xs", "onnx", out_dir=tmp_path, stream=True, **SMALL)


# ---- the matrix ------------------------------------------------------------------------------

def test_matrix_covers_every_model_and_format_and_feeds_the_spec():
    matrix = read_matrix()
    assert set(matrix["formats"]) == set(EXPORT_FORMATS)
    for fmt, column in matrix["formats"].items():
        assert set(column["models"]) == set(litevid.list_models()), fmt
        for name, outcome in column["models"].items():
            assert outcome == "ok" or outcome.startswith("error: "), (fmt, name, outcome)
            assert litevid.model_spec(name).export[fmt] is (outcome == "ok")


def test_import_litevid_loads_no_export_runtime():
    code = ("import sys, litevid, litevid.cli; litevid.cli.build_parser(); "
            "print(sorted(m for m in ('executorch', 'onnx', 'onnxruntime', 'onnxscript', "
            "'coremltools') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr


# ---- litevid bench --runtime ---------------------------------------------------------------------

def test_bench_runtime_rows(tmp_path):
    from litevid.bench.config import BenchConfig
    from litevid.bench.runner import plan_jobs, run_job

    cfg = BenchConfig(models="x3d_xs", runtime="eager,onnxruntime", frames=4, size=64, iters=3,
                      min_seconds=0, max_iters=3, warmup=1, in_process=True,
                      db=str(tmp_path / "r.db")).resolved("cpu")
    jobs = plan_jobs(cfg, "cpu")
    assert [(j.model, j.runtime) for j in jobs] == [("x3d_xs", "eager"), ("x3d_xs", "onnxruntime")]
    rows = [run_job(j) for j in jobs]
    assert [r.status for r in rows] == ["ok", "ok"], [r.status for r in rows]
    assert [r.runtime for r in rows] == ["eager", "onnxruntime"]
    assert rows[1].n == 3 and rows[1].median_ms > 0 and rows[1].gflops == rows[0].gflops
    assert rows[1].settings["export"]["parity"]["status"] == "ok"
    assert rows[1].settings["export"]["opset"] == 18


@pytest.mark.parametrize("bad, match", [
    (dict(runtime="onnxruntim"), "unknown runtime 'onnxruntim'; did you mean onnxruntime"),
    (dict(runtime="onnxruntime", modes="train"), "inference modes"),
    (dict(runtime="executorch", precision="amp-bf16"), "fp32"),
])
def test_bench_runtime_bad_settings(bad, match):
    from litevid.bench.config import BenchConfig

    with pytest.raises(ValueError, match=match):
        BenchConfig(models="x3d_xs", **bad).resolved("cpu")


def test_cli_model_list_prints_the_matrix(tmp_path):
    out = _cli("x3d_xs,movinet_a0", "--format", "torchscript-lite", "--out", str(tmp_path),
               "--frames", "4", "--size", "64")
    assert out.returncode == 0, out.stderr
    assert "model x format" in out.stdout and "torchscript-lite" in out.stdout
    assert out.stdout.count("ok rel") == 2
    assert "deprecated" in out.stderr and "randomly initialised" in out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "movinet_a0_4x64.ptl", "movinet_a0_4x64.ptl.json",
        "x3d_xs_4x64.ptl", "x3d_xs_4x64.ptl.json"]


def test_update_matrix_merges_entries(tmp_path):
    from litevid.export.matrix import update_matrix

    path = tmp_path / "m.json"
    update_matrix("onnx", {"a": "ok", "b": "error: x"}, input_shape="16x224", tools={}, path=path)
    update_matrix("onnx", {"b": "ok"}, input_shape="16x224", tools={}, path=path)
    assert read_matrix(path)["formats"]["onnx"]["models"] == {"a": "ok", "b": "ok"}
