"""Tests of the results store (``litevid.results``): round trip, schema versioning, merge,
concurrent writers, relative-latency arithmetic, export and the ``litevid results`` CLI."""

from __future__ import annotations

import ast
import csv
import dataclasses
import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import litevid.results as results_pkg
from litevid.cli import main
from litevid.results import ResultStore, cross_device_average, latest_ok, relative_latency
from litevid.results.export import export_rows
from litevid.results.measurement import Measurement, sql_columns
from litevid.results.store import COLUMN_NAMES, JSON_COLUMNS, SCHEMA_VERSION


def _row(model="m1", mode="single", device="GPU-A", median=10.0, **kw):
    row = dict(model=model, mode=mode, batch=1, requested_batch=1, frames=16, size=224,
               input_shape="3x16x224x224", precision="amp-fp16", channels_last=0, compile=0,
               device_type="cuda", device_name=device, hostname="h", torch_version="2.13.0",
               status="ok", n=3, median_ms=median, mean_ms=median * 1.1, p90_ms=median * 1.2,
               created_at="2025-01-01T00:00:00+00:00", samples_ms=[median] * 3,
               mem_detail={"peak_allocated_bytes": 123}, settings={"warmup": 10},
               env={"python_version": "3.12"}, peak_mem_bytes=2**30, mem_kind="cuda: peak reserved")
    row.update(kw)
    return row


# ---- store --------------------------------------------------------------------------------------

def test_store_round_trip_and_schema(tmp_path):
    db = tmp_path / "r.db"
    with ResultStore(db) as store:
        assert store.insert(_row())
        assert store.insert(_row(model="m2", status="error: RuntimeError: boom", median_ms=None))
        (a, b) = list(store.rows())
        assert store.count() == 2 and store.schema_version() == SCHEMA_VERSION
    assert a["samples_ms"] == [10.0] * 3 and a["mem_detail"] == {"peak_allocated_bytes": 123}
    assert a["settings"] == {"warmup": 10} and a["median_ms"] == 10.0 and len(a["uid"]) == 32
    assert b["status"] == "error: RuntimeError: boom" and b["median_ms"] is None
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()
    with ResultStore(db, readonly=True) as ro:
        assert [r["model"] for r in ro.rows(mode="single")] == ["m1", "m2"]
        with pytest.raises(ValueError):
            list(ro.rows(nonsense=1))
    with ResultStore(db) as store, pytest.raises(ValueError, match="unknown result column"):
        store.insert({**_row(), "typo_ms": 1.0})


# The measurements table exactly as schema version 1 (litevid 0.1.0) created it.
_V1_SQL = """CREATE TABLE measurements (id INTEGER PRIMARY KEY, uid TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL, model TEXT NOT NULL, mode TEXT NOT NULL, batch INTEGER,
  requested_batch INTEGER, frames INTEGER, size INTEGER, input_shape TEXT, precision TEXT,
  channels_last INTEGER, compile INTEGER, device_type TEXT, device_name TEXT, cpu_model TEXT,
  hostname TEXT, torch_version TEXT, cuda_version TEXT, cudnn_version TEXT, num_threads INTEGER,
  litevid_version TEXT, git_rev TEXT, status TEXT NOT NULL, n INTEGER, mean_ms REAL,
  median_ms REAL, p90_ms REAL, p99_ms REAL, std_ms REAL, iqr_ms REAL, cv REAL, min_ms REAL,
  max_ms REAL, timed_s REAL, timer TEXT, compile_s REAL, gflops REAL, tflops REAL,
  peak_mem_bytes INTEGER, mem_kind TEXT, mem_detail TEXT, samples_ms TEXT, settings TEXT,
  env TEXT)"""


def _assert_read_only_sees_it_upgraded(db: Path) -> None:
    """A read-only open of an older file reads its one row with what later versions added (the
    v4 runtime, the v5 flag, the evaluations table), and the file stays byte for byte."""
    before = db.read_bytes()
    with ResultStore(db, readonly=True) as store:
        (row,) = store.rows()
        assert row["model"] == "old" and row["runtime"] == "eager" and row["optimized"] == 0
        assert store.count("evaluations") == 0
    assert db.read_bytes() == before


def test_old_store_is_upgraded_on_open(tmp_path):
    """A version-1 file keeps its rows and gains what later versions added; readonly reads an
    upgraded copy and leaves the file as it is."""
    db = tmp_path / "v1.db"
    con = sqlite3.connect(db)
    con.execute(_V1_SQL)
    con.execute("INSERT INTO measurements (uid, created_at, model, mode, status, median_ms, "
                "samples_ms) VALUES ('a' , '2025-01-01', 'old', 'single', 'ok', 5.0, '[5.0]')")
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()
    _assert_read_only_sees_it_upgraded(db)
    with ResultStore(db) as store:
        assert store.schema_version() == SCHEMA_VERSION
        store.insert(Measurement(model="new", mode="loader", median_ms=2.0,
                                 breakdown_ms={"decode": 1.5, "transform": 0.5}))
        old, new = store.rows()
    assert old["model"] == "old" and old["samples_ms"] == [5.0] and old["breakdown_ms"] is None
    assert new["breakdown_ms"] == {"decode": 1.5, "transform": 0.5}
    cols = [r[1] for r in sqlite3.connect(db).execute("PRAGMA table_info(measurements)")]
    assert set(cols) == {"id", *COLUMN_NAMES}


def test_columns_are_generated_from_the_row_type():
    """One declaration per column: the dataclass fields are the table's columns, typed."""
    names = [f.name for f in dataclasses.fields(Measurement)]
    assert list(COLUMN_NAMES) == names
    decl = {name: d for name, d, _ in sql_columns(Measurement)}
    assert decl["uid"] == "TEXT NOT NULL UNIQUE" and decl["mode"] == "TEXT NOT NULL"
    assert decl["median_ms"] == "REAL" and decl["batch"] == "INTEGER"
    assert decl["channels_last"] == "INTEGER"  # bool, stored 0/1
    assert set(JSON_COLUMNS) == {"settings", "env", "mem_detail", "samples_ms", "breakdown_ms",
                                 "profile", "pass_errors"}
    assert decl["optimized"] == "INTEGER"
    m = Measurement(model="m", mode="single")
    assert Measurement.from_dict(m.to_dict()) == m
    with pytest.raises(ValueError, match="typo_ms"):
        Measurement.from_dict({**m.to_dict(), "typo_ms": 1.0})


def test_store_refuses_newer_schema_and_foreign_files(tmp_path):
    db = tmp_path / "new.db"
    ResultStore(db).close()
    con = sqlite3.connect(db)
    con.execute("PRAGMA user_version = 99")
    con.commit()
    con.close()
    with pytest.raises(ValueError, match="newer"):
        ResultStore(db)
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    with pytest.raises(ValueError, match="not a litevid results database"):
        ResultStore(other)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(ValueError):
        ResultStore(junk)
    with pytest.raises(FileNotFoundError):
        ResultStore(tmp_path / "absent.db", readonly=True)


def test_merge_adds_new_rows_once(tmp_path):
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    with ResultStore(a) as sa:
        sa.insert(_row(device="GPU-A"))
    with ResultStore(b) as sb:
        sb.insert(_row(device="GPU-B", median=5.0))
        sb.insert(_row(model="m2", device="GPU-B", median=7.5))
    with ResultStore(a) as sa:
        assert sa.merge(b) == (2, 0)
        assert sa.merge(b) == (0, 2)  # same uids: nothing duplicated
        rows = list(sa.rows())
        with pytest.raises(ValueError):
            sa.merge(a)
    assert [(r["device_name"], r["model"]) for r in rows] == [
        ("GPU-A", "m1"), ("GPU-B", "m1"), ("GPU-B", "m2")]
    assert rows[2]["samples_ms"] == [7.5] * 3  # raw samples travel with the row


WRITER = textwrap.dedent('''
    import os, sys, time
    from litevid.results.store import ResultStore
    db, tag, n, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    with ResultStore(db) as store:
        print("ready", flush=True)
        while not os.path.exists(go):
            time.sleep(0.002)
        for i in range(n):
            store.insert(dict(model=f"{tag}-{i}", mode="single", status="ok",
                              created_at="2025-01-01T00:00:00+00:00", samples_ms=[1.0, 2.0]))
            time.sleep(0.001)  # keep both writers busy over the same period
''')


def test_two_processes_write_concurrently_without_losing_rows(tmp_path):
    db, go = tmp_path / "c.db", tmp_path / "go"
    ResultStore(db).close()
    n = 200
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(db), tag, str(n), str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for tag in ("a", "b")]
    for p in procs:  # both imported and waiting: start them together
        assert p.stdout.readline().strip() == "ready"
    go.touch()
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    with ResultStore(db, readonly=True) as store:
        models = [r["model"] for r in store.rows()]
    assert len(models) == 2 * n
    assert set(models) == {f"{t}-{i}" for t in "ab" for i in range(n)}
    first_b = models.index("b-0")
    assert any(m.startswith("a-") for m in models[first_b:])  # they really interleaved


# ---- relative latency ---------------------------------------------------------------------------

def test_relative_latency_arithmetic():
    rows = [
        _row("m1", device="A", median=10.0), _row("m2", device="A", median=20.0),
        _row("m3", device="A", median=35.0),
        _row("m1", device="B", median=8.0), _row("m2", device="B", median=4.0),
        _row("m3", device="A", median=1.0, status="oom"),  # failures never rank
        _row("m1", device="A", median=99.0, batch=32),  # other batch: its own group
    ]
    rel = relative_latency(rows)
    got = {(e["device_name"], e["model"], e["batch"]): e["relative"] for e in rel}
    assert got == {("A", "m1", 1): 1.0, ("A", "m2", 1): 2.0, ("A", "m3", 1): 3.5,
                   ("B", "m2", 1): 1.0, ("B", "m1", 1): 2.0, ("A", "m1", 32): 1.0}
    avg = {(e["model"], e["batch"]): (e["relative"], e["n_devices"])
           for e in cross_device_average(rel)}
    assert avg[("m1", 1)] == (pytest.approx(1.5), 2)
    assert avg[("m2", 1)] == (pytest.approx(1.5), 2)
    assert avg[("m3", 1)] == (pytest.approx(3.5), 1)
    by_mean = {e["model"]: e["relative"] for e in relative_latency(rows[:3], metric="mean_ms")}
    assert by_mean["m3"] == pytest.approx(3.5)
    with pytest.raises(ValueError):
        relative_latency(rows, metric="fastest")


def test_newest_measurement_wins():
    old = _row("m1", median=50.0, created_at="2025-01-01T00:00:00+00:00")
    new = _row("m1", median=10.0, created_at="2025-02-01T00:00:00+00:00")
    other = _row("m2", median=20.0)
    assert [r["median_ms"] for r in latest_ok([new, old, other])] == [10.0, 20.0]
    rel = {e["model"]: e["relative"] for e in relative_latency([old, new, other])}
    assert rel == {"m1": 1.0, "m2": 2.0}


# ---- export -------------------------------------------------------------------------------------

def test_export_csv_and_json(tmp_path):
    rows = [_row("m1", median=10.0, uid="u1"), _row("m2", median=25.0, uid="u2"),
            _row("m3", status="oom", median_ms=None, uid="u3")]
    out = tmp_path / "r.csv"
    out.write_text("old content")
    assert export_rows(rows, out, "csv") == 3
    with open(out, newline="") as f:
        got = list(csv.DictReader(f))
    assert [g["model"] for g in got] == ["m1", "m2", "m3"]
    assert [g["relative_latency"] for g in got] == ["1.0", "2.5", ""]
    assert json.loads(got[0]["samples_ms"]) == [10.0] * 3
    js = tmp_path / "r.json"
    export_rows(rows, js, "json")
    doc = json.loads(js.read_text())
    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["rows"][1]["relative_latency"] == 2.5 and doc["rows"][1]["samples_ms"] == [25.0] * 3
    assert not list(tmp_path.glob(".*.tmp"))  # temporary files renamed away
    with pytest.raises(FileNotFoundError):
        export_rows(rows, tmp_path / "no" / "x.csv", "csv")
    with pytest.raises(ValueError):
        export_rows(rows, tmp_path / "x.xml", "xml")


# ---- CLI ----------------------------------------------------------------------------------------

def test_results_cli_show_export_merge(tmp_path, capsys):
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    with ResultStore(a) as s:
        s.insert(_row("m1", device="GPU-A", median=10.0))
        s.insert(_row("m2", device="GPU-A", median=30.0))
    with ResultStore(b) as s:
        s.insert(_row("m1", device="GPU-B", median=10.0))
        s.insert(_row("m2", device="GPU-B", median=10.0))
    assert main(["results", "merge", str(b), "--db", str(a)]) == 0
    assert "2 row(s) added" in capsys.readouterr().out
    assert main(["results", "show", "--db", str(a)]) == 0
    out = capsys.readouterr().out
    assert "GPU-A" in out and "GPU-B" in out and "3.00" in out
    assert "averaged over devices" in out and "2.00" in out  # m2: (3.0 + 1.0) / 2
    out_csv = tmp_path / "all.csv"
    assert main(["results", "export", "--db", str(a), "--format", "csv", "--out",
                 str(out_csv), "--mode", "single"]) == 0
    assert len(out_csv.read_text().strip().splitlines()) == 5
    assert main(["results", "show", "--db", str(tmp_path / "nope.db")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nope.db" in err


def test_results_package_does_not_import_torch():
    """Reports read the store anywhere: no module of litevid.results may import torch."""
    folder = Path(results_pkg.__file__).parent
    for path in folder.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
                assert node.level == 0 or not (node.module or "").startswith(("bench", "models")), \
                    f"{path.name} imports litevid.{node.module}"
            assert not any(n.split(".")[0] in ("torch", "numpy") for n in names), \
                f"{path.name} imports {names}"


# ---- runtime (schema v4) ------------------------------------------------------------------------

def _v3_file(path: Path) -> None:
    """A file as schema version 3 made it: today's tables without measurements.runtime."""
    from litevid.results.store import _table_sql

    cols = ", ".join(f"{name} {decl}" for name, decl, _ in sql_columns(Measurement)
                     if name != "runtime")
    con = sqlite3.connect(path)
    con.execute(f"CREATE TABLE measurements (id INTEGER PRIMARY KEY, {cols})")
    for sql in _table_sql("evaluations"):
        con.execute(sql)
    con.execute("INSERT INTO measurements (uid, created_at, model, mode, status, median_ms, "
                "device_name) VALUES ('v3', '2025-01-01', 'old', 'single', 'ok', 5.0, 'GPU-A')")
    con.execute("PRAGMA user_version = 3")
    con.commit()
    con.close()


def test_v3_store_gains_runtime_and_old_rows_are_eager(tmp_path):
    db = tmp_path / "v3.db"
    _v3_file(db)
    _assert_read_only_sees_it_upgraded(db)
    with ResultStore(db) as store:
        assert store.schema_version() == SCHEMA_VERSION == 7
        store.insert(Measurement(model="new", mode="single", runtime="onnxruntime", median_ms=2.0,
                                 optimized=True, profile=[{"op": "aten::mm", "self_ms": 1.0}],
                                 pass_errors={"memory": "oom"}))
        old, new = store.rows()
    assert (old["uid"], old["median_ms"], old["runtime"]) == ("v3", 5.0, "eager")
    assert old["optimized"] == 0 and old["profile"] is None  # v5: the plain model, no profile
    assert old["pass_errors"] is None and new["pass_errors"] == {"memory": "oom"}  # v6
    assert new["runtime"] == "onnxruntime" and new["optimized"] == 1
    assert new["profile"] == [{"op": "aten::mm", "self_ms": 1.0}]
    con = sqlite3.connect(db)  # stored as 'eager' / 0 in the file, not decoded from NULL
    assert con.execute("SELECT COUNT(*) FROM measurements WHERE runtime IS NULL").fetchone() == (0,)
    assert con.execute("SELECT COUNT(*) FROM measurements WHERE optimized IS NULL").fetchone() \
        == (0,)
    con.close()
    with ResultStore(db, readonly=True) as ro:
        assert [r["model"] for r in ro.rows(runtime="eager")] == ["old"]


def test_runtime_round_trip_and_default(tmp_path):
    db = tmp_path / "r.db"
    with ResultStore(db) as store:
        store.insert(Measurement(model="m1", mode="single", runtime="onnxruntime", median_ms=3.0))
        store.insert(Measurement(model="m1", mode="single", median_ms=4.0))
        store.insert(_row())  # a dict without runtime: eager
        got = [r["runtime"] for r in store.rows()]
    assert got == ["onnxruntime", "eager", "eager"]
    assert Measurement(model="m", mode="single").runtime == "eager"
    assert "runtime" in COLUMN_NAMES


def test_dict_rows_get_field_defaults_and_missing_required_fields_raise(tmp_path):
    """A dict row gets the dataclass defaults; INSERT OR IGNORE never drops it silently."""
    with ResultStore(tmp_path / "d.db") as store:
        assert store.insert({"model": "m", "mode": "single", "median_ms": 1.0})
        (row,) = store.rows()
        assert row["status"] == "ok" and row["runtime"] == "eager" and row["created_at"]
        with pytest.raises(ValueError, match="without mode"):
            store.insert({"model": "m"})
        with pytest.raises(ValueError, match="without model"):
            store.insert({"model": None, "mode": "single"})
        assert store.count() == 1


def test_insert_many_atomic_writes_all_or_nothing(tmp_path):
    with ResultStore(tmp_path / "a.db") as store:
        good = [Measurement(model=f"m{i}", mode="single") for i in range(3)]
        with pytest.raises(ValueError):
            store.insert_many([*good, {"model": "bad"}], atomic=True)
        assert store.count() == 0
        assert store.insert_many(good, atomic=True) == 3
        assert store.insert_many(good, atomic=True) == 0  # same uids: skipped
        assert store.count() == 3


def test_runtimes_are_ranked_separately_and_newest_per_runtime_is_kept():
    rows = [
        _row("m1", median=10.0, uid="e1", precision="fp32"),
        _row("m2", median=20.0, uid="e2", precision="fp32"),
        _row("m1", median=50.0, uid="o1", runtime="onnxruntime", precision="fp32"),
        _row("m2", median=5.0, uid="o2", runtime="onnxruntime", precision="fp32"),
    ]
    kept = {r["uid"] for r in latest_ok(rows)}
    assert kept == {"e1", "e2", "o1", "o2"}  # an onnxruntime row does not hide the eager row
    rel = {(e["runtime"], e["model"]): e["relative"] for e in relative_latency(rows)}
    assert rel == {("eager", "m1"): 1.0, ("eager", "m2"): 2.0,
                   ("onnxruntime", "m2"): 1.0, ("onnxruntime", "m1"): 10.0}
    from litevid.results.query import vs_eager

    assert vs_eager(rows) == {"o1": pytest.approx(5.0), "o2": pytest.approx(0.25)}
    avg = {(e["runtime"], e["model"]) for e in cross_device_average(relative_latency(rows))}
    assert avg == {("eager", "m1"), ("eager", "m2"), ("onnxruntime", "m1"), ("onnxruntime", "m2")}


def test_measurement_table_shows_runtime_only_when_needed():
    from litevid.results.table import measurement_table

    eager = [_row("m1", uid="e1"), _row("m2", median=20.0, uid="e2")]
    plain = measurement_table(eager, "t")
    headers = [c.header for c in plain.columns]
    assert "runtime" not in headers and "vs eager" not in headers  # eager tables as before
    assert headers[:3] == ["model", "mode", "settings"]
    mixed = measurement_table([*eager, _row("m1", median=5.0, uid="o1", runtime="onnxruntime")],
                              "t")
    cols = {c.header: list(c.cells) for c in mixed.columns}
    assert cols["runtime"] == ["eager", "eager", "onnxruntime"]
    assert cols["relative"] == ["1.00", "2.00", "1.00"]
    assert cols["vs eager"] == ["-", "-", "0.50"]


def test_results_show_lists_each_runtime(tmp_path, capsys):
    db = tmp_path / "a.db"
    with ResultStore(db) as s:
        s.insert(_row("m1", median=10.0))
        s.insert(_row("m1", median=4.0, runtime="onnxruntime", created_at="2025-02-01T00:00:00"))
    assert main(["results", "show", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "onnxruntime" in out and "vs eager" in out and "0.40" in out
    assert "10.0" in out and "4.0" in out  # both lines shown
    assert main(["results", "show", "--db", str(db), "--runtime", "eager"]) == 0
    out = capsys.readouterr().out
    assert "onnxruntime" not in out and "1 row(s)" in out
