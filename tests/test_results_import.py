"""Tests of ``litevid results import``: phone latencies from a CSV file into the results store."""

from __future__ import annotations

from pathlib import Path

import pytest

from litevid.cli import main
from litevid.results import ResultStore
from litevid.results.importer import COLUMNS, REQUIRED, read_import_csv
from litevid.results.stats import summarize

GOOD = """\
# measured 2025-03, phone on charger, 20 C room
model,runtime,device_name,median_ms,mean_ms,n,device_type,notes,artefact_sha256
movinet_a0,executorch-xnnpack,Pixel 8 (Tensor G3),41.2,42.0,50,android,"4 threads, cool",abc123
x3d_xs,executorch-xnnpack,Pixel 8 (Tensor G3),35.5,36.1,50,android,,

movinet_a0,coreml-ane,iPhone 15 Pro,6.1,,,,Xcode performance report,
"""


def _write(tmp_path, text, name="phones.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _import(path, db):
    return main(["results", "import", str(path), "--db", str(db)])


def test_import_adds_rows_with_defaults_and_provenance(tmp_path, capsys):
    csv_path, db = _write(tmp_path, GOOD), tmp_path / "r.db"
    assert _import(csv_path, db) == 0
    out = capsys.readouterr().out
    assert "3 row(s) added, 0 already present, 3 in total" in out
    with ResultStore(db, readonly=True) as store:
        a, b, c = store.rows()
    assert (a["model"], a["runtime"], a["device_name"], a["device_type"]) == (
        "movinet_a0", "executorch-xnnpack", "Pixel 8 (Tensor G3)", "android")
    assert (a["median_ms"], a["mean_ms"], a["n"], a["samples_ms"]) == (41.2, 42.0, 50, None)
    assert (a["mode"], a["batch"], a["precision"], a["timer"], a["status"]) == (
        "single", 1, "fp32", "external", "ok")
    assert (a["frames"], a["size"], a["input_shape"]) == (16, 224, "3x16x224x224")  # the spec's
    assert a["settings"]["source"] == "import" and a["settings"]["file"] == str(csv_path)
    assert a["settings"]["line"] == 3 and len(a["settings"]["file_sha256"]) == 64
    assert a["settings"]["notes"] == "4 threads, cool"
    assert a["settings"]["artefact_sha256"] == "abc123"
    assert "notes" not in b["settings"] and b["settings"]["line"] == 4
    assert c["device_type"] == "phone" and c["runtime"] == "coreml-ane"
    assert c["settings"]["line"] == 6
    assert len({a["uid"], b["uid"], c["uid"]}) == 3


def test_import_statistics_from_samples_and_explicit_fields(tmp_path):
    text = ("model,runtime,device_name,median_ms,samples_ms,mode,batch,frames,size,precision,"
            "created_at,timer\n"
            "x3d_xs,coreml-gpu,iPhone 12,11.0,10;11;12 13 9,batch,4,8,160,fp16,"
            "2025-03-01T14:30:00+01:00,xcode\n"
            "x3d_xs,coreml-gpu,iPhone 12,11.0,,,,,,,2025-03-02,\n"
            "x3d_xs,coreml-gpu,iPhone 12,,7 8 9,,,,,,,\n")  # median from the samples
    row, dated, from_samples = read_import_csv(_write(tmp_path, text))
    stats = summarize([10, 11, 12, 13, 9])
    assert row.samples_ms == [10.0, 11.0, 12.0, 13.0, 9.0] and row.n == 5
    assert (row.median_ms, row.mean_ms, row.p90_ms, row.std_ms) == (
        stats.median, stats.mean, stats.p90, stats.std)
    assert (row.mode, row.batch, row.requested_batch, row.frames, row.size) == (
        "batch", 4, 4, 8, 160)
    assert (row.input_shape, row.precision, row.timer) == ("3x8x160x160", "fp16", "xcode")
    assert row.created_at == "2025-03-01T13:30:00+00:00"  # stored in UTC
    assert dated.created_at == "2025-03-02T00:00:00+00:00"  # a bare date is taken as UTC
    assert (from_samples.median_ms, from_samples.n) == (8.0, 3)


def test_reimport_adds_nothing_and_new_lines_only_once(tmp_path, capsys):
    csv_path, db = _write(tmp_path, GOOD), tmp_path / "r.db"
    assert _import(csv_path, db) == 0
    capsys.readouterr()
    assert _import(csv_path, db) == 0
    assert "0 row(s) added, 3 already present, 3 in total" in capsys.readouterr().out
    # A line added (and the same measurement pasted twice) later: only the new lines are added.
    extra = "x3d_xs,coreml-ane,iPhone 15 Pro,4.9,,,,,\n"  # every cell, empty ones too
    csv_path.write_text(GOOD + extra + extra)
    assert _import(csv_path, db) == 0
    assert "2 row(s) added, 3 already present, 5 in total" in capsys.readouterr().out
    # Column order does not change a line's identity.
    _write(tmp_path, "runtime,model,median_ms,device_name\n"
                     "coreml-ane,x3d_xs,4.9,iPhone 15 Pro\n", "reordered.csv")
    assert _import(tmp_path / "reordered.csv", db) == 0
    assert "0 row(s) added, 1 already present, 5 in total" in capsys.readouterr().out


def test_imported_rows_show_next_to_host_rows(tmp_path, capsys):
    db = tmp_path / "r.db"
    with ResultStore(db) as store:
        store.insert({"model": "x3d_xs", "mode": "single", "batch": 1, "frames": 16, "size": 224,
                      "precision": "fp32", "device_name": "Pixel 8 (Tensor G3)",
                      "median_ms": 90.0, "hostname": "h", "created_at": "2025-01-01T00:00:00"})
    assert _import(_write(tmp_path, GOOD), db) == 0
    capsys.readouterr()
    assert main(["results", "show", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "executorch-xnnpack" in out and "coreml-ane" in out and "90.0" in out
    assert "iPhone 15 Pro" in out


HEADER = "model,runtime,device_name,median_ms\n"


@pytest.mark.parametrize("text, expected", [
    ("", "empty file"),
    ("# only a comment\n\n", "empty file"),
    (HEADER, "a header but no measurement lines"),
    ("model,runtime,median_ms\nx3d_xs,onnx,4\n", "missing required column(s) device_name"),
    ("model,runtime,device,median_ms\nx3d_xs,onnx,cpu,4\n",
     "phones.csv:1: unknown column(s) 'device' (did you mean device_type or device_name?)"),
    ("model,runtime,device_name,median_ms,median_ms\n", "median_ms appear twice"),
    (HEADER + "x3d_xs,onnx,cpu,4\nx3d_xs,onnx,cpu,fast\n",
     "phones.csv:3: median_ms 'fast' is not a number"),
    (HEADER + "x3d_xs,onnx,cpu,0\n", "phones.csv:2: median_ms must be a positive number"),
    (HEADER + "x3d_xs,onnx,cpu,-3\n", "phones.csv:2: median_ms must be a positive number"),
    (HEADER + "x3d_xs,onnx,cpu,nan\n", "phones.csv:2: median_ms must be a positive number"),
    (HEADER + "x3d_xs,onnx,cpu,\n",
     "phones.csv:2: median_ms is empty (required, unless samples_ms is given)"),
    (HEADER + "x3d_xs,onnx,cpu,4\nmovinet_a9,onnx,cpu,4\n",
     "phones.csv:3: unknown model 'movinet_a9' (did you mean movinet_a2 or movinet_a0"),
    (HEADER + "x3d_xs,onnx,cpu,4,5\n", "phones.csv:2: 5 cells but the header has 4 columns"),
    (HEADER.strip() + ",mode\nx3d_xs,onnx,cpu,4,train\n", "mode 'train' is not one of single"),
    (HEADER.strip() + ",batch\nx3d_xs,onnx,cpu,4,1.5\n", "batch '1.5' is not a whole number"),
    (HEADER.strip() + ",samples_ms\nx3d_xs,onnx,cpu,4,3;5;x\n", "samples_ms '3;5;x'"),
    (HEADER.strip() + ",samples_ms\nx3d_xs,onnx,cpu,9,3;4;5\n",
     "median_ms 9 disagrees with samples_ms, whose median is 4"),
    (HEADER.strip() + ",min_ms\nx3d_xs,onnx,cpu,4,5\n", "min_ms <= median_ms <= max_ms"),
    (HEADER.strip() + ",created_at\nx3d_xs,onnx,cpu,4,yesterday\n", "created_at 'yesterday'"),
    (HEADER + "x3d_xs,onnx,cpu,0\nx3d_xs,onnx,cpu,-1\nx3d,onnx,cpu,1\n",
     ("phones.csv:2: median_ms must be a positive number of milliseconds, got '0' "
      "(and 2 more bad line(s)); nothing imported")),
])
def test_bad_input_is_one_line_error_and_imports_nothing(tmp_path, capsys, text, expected):
    db = tmp_path / "r.db"
    with ResultStore(db) as store:
        store.insert({"model": "x3d_xs", "mode": "single", "median_ms": 1.0})
    csv_path = _write(tmp_path, text)
    assert _import(csv_path, db) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("litevid results: error: "), err
    assert expected in err
    with ResultStore(db, readonly=True) as store:
        assert store.count() == 1  # the good lines of a bad file are not imported either


def test_missing_file_and_directory(tmp_path, capsys):
    assert _import(tmp_path / "absent.csv", tmp_path / "r.db") == 2
    assert "absent.csv: no such file" in capsys.readouterr().err
    assert _import(_write(tmp_path, GOOD), tmp_path / "no" / "r.db") == 2
    assert "does not exist" in capsys.readouterr().err


def test_docs_name_every_column_and_their_example_imports(tmp_path):
    """docs/mobile.md names every column the importer accepts, and its example CSV is valid."""
    doc = (Path(__file__).parent.parent / "docs" / "mobile.md").read_text()
    for col in COLUMNS:
        assert f"`{col}`" in doc, col
    assert set(REQUIRED) == {"model", "runtime", "device_name", "median_ms"}
    example = doc.split("```csv\n", 1)[1].split("```", 1)[0]
    rows = read_import_csv(_write(tmp_path, example))
    assert [(r.model, r.runtime) for r in rows] == [
        ("movinet_a0", "executorch-xnnpack"), ("x3d_xs", "executorch-xnnpack"),
        ("movinet_a0", "coreml-ane")]
    assert rows[0].median_ms == 41.2 and rows[0].n == 5  # from samples_ms
