"""Tests of ``litevid.report``: tables from a store built here, rank statistics against
hand-computed values, the Pareto front, figures and the HTML page, bad input as one line, and
that neither ``import litevid.report`` nor building a report imports torch."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import litevid.cli as litevid_cli
from litevid.report import build_report, load, pareto_front, recommend_from
from litevid.report import paper as P
from litevid.report.accuracy import table4_tables
from litevid.report.data import DEFAULT_DB, default_dbs
from litevid.report.recommend import device_class
from litevid.report.stats import (
    average_ranks,
    bootstrap_median_ci,
    kendall_tau,
    linear_fit,
    minmax,
    spearman_rho,
)
from litevid.report.tables import (
    kendall_tables,
    latency_ci_table,
    paper_tables,
    table2_tables,
)
from litevid.results import Evaluation, Measurement, ResultStore
from litevid.results.stats import summarize

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

GPU, CPU, PHONE = "GPU-A", "Intel(R) Xeon(R) CPU @ 2.20GHz", "Pixel 8"
# Median ms of single-clip inference per model; other modes scale it.
GPU_MS = {"movinet_a0": 10.0, "x3d_xs": 16.0, "vtn_eff": 18.0, "tsm_r50": 26.0,
          "timesformer": 100.0}
CPU_MS = {"movinet_a0": 100.0, "x3d_xs": 150.0, "vtn_eff": 200.0, "tsm_r50": 400.0,
          "timesformer": 1500.0}
GFLOPS = {"movinet_a0": 2.7, "x3d_xs": 5.0, "vtn_eff": 9.0, "tsm_r50": 66.0, "timesformer": 190.0,
          "movinet_a2": 10.0}
MODES = {"train": (8, 8.0), "batch": (32, 20.0), "single": (1, 1.0)}  # batch, latency factor


def _samples(median: float, n: int = 21) -> list[float]:
    return [median * (1 + 0.01 * ((i * 7) % 11 - 5)) for i in range(n)]


def _m(model: str, mode: str, device: str, median: float, **kw) -> Measurement:
    batch = MODES[mode][0]
    fields = dict(model=model, mode=mode, batch=batch, requested_batch=batch, frames=16,
                  size=224, precision="fp32", device_type="cuda", device_name=device,
                  created_at="2026-01-01T00:00:00+00:00", median_ms=median, mean_ms=median,
                  samples_ms=_samples(median), n=21, gflops=GFLOPS[model] * batch,
                  peak_mem_bytes=int(GFLOPS[model] * batch * 1e7), mem_kind="cuda: peak reserved",
                  cv=0.03)
    fields.update(kw)
    return Measurement(**fields)


def _rows() -> list:
    rows = [_m(m, mode, GPU, ms * f) for mode, (_, f) in MODES.items() for m, ms in GPU_MS.items()]
    rows += [_m(m, "single", CPU, ms, device_type="cpu", mem_kind="cpu: peak RSS")
             for m, ms in CPU_MS.items()]
    # Different settings: must get their own table, never enter the averages above.
    rows.append(_m("tsm_r50", "single", GPU, 5.0, channels_last=True))
    rows += [_m(m, "single", CPU, ms * 0.7, device_type="cpu", runtime="onnxruntime",
                mem_kind="cpu: peak RSS") for m, ms in list(CPU_MS.items())[:4]]
    rows += [_m(m, "single", PHONE, ms * 0.3, device_type="phone", runtime="executorch-xnnpack",
                samples_ms=None, peak_mem_bytes=None, mem_kind=None, gflops=None)
             for m, ms in CPU_MS.items()]
    rows.append(_m("x3d_xs", "single", GPU, 1.0, status="error: RuntimeError: boom",
                   median_ms=None, created_at="2026-02-01T00:00:00+00:00"))
    return rows


def _evals() -> list[Evaluation]:
    acc = {"tsm_r50": 0.60, "x3d_xs": 0.58, "movinet_a0": 0.57, "timesformer": 0.63}
    return [Evaluation(model=m, dataset="ssv2", split="val", top1=a, top5=a + 0.25,
                       train_wall_s=3600.0 * (i + 1), epochs=3, device_name=GPU)
            for i, (m, a) in enumerate(acc.items())]


def _store(path: Path, rows: list, evals: list = ()) -> Path:
    with ResultStore(path) as store:
        for r in [*rows, *evals]:
            store.insert(r)
    return path


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    return _store(tmp_path_factory.mktemp("db") / "r.db", _rows(), _evals())


@pytest.fixture(scope="module")
def report(db, tmp_path_factory):
    pytest.importorskip("matplotlib", reason="figures need the report extra (matplotlib)")
    return build_report([db], tmp_path_factory.mktemp("report") / "out", compare_paper=True)


def _main(argv: list[str]) -> int:
    """``litevid`` with the report verbs registered (whether or not cli.py lists them yet)."""
    mods = litevid_cli._SUBCOMMAND_MODULES
    if "litevid.report.cli" not in mods:
        litevid_cli._SUBCOMMAND_MODULES = (*mods, "litevid.report.cli")
    try:
        return litevid_cli.main(argv)
    finally:
        litevid_cli._SUBCOMMAND_MODULES = mods


# ---- statistics ---------------------------------------------------------------------------------

def test_rank_correlations_hand_computed():
    assert average_ranks([10, 20, 20, 30]) == [1.0, 2.5, 2.5, 4.0]
    # No ties: rho = 1 - 6 sum d^2 / (n (n^2 - 1)) = 1 - 6*4/120; tau = (8 - 2) / 10.
    assert spearman_rho([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) == pytest.approx(0.8)
    assert kendall_tau([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) == pytest.approx(0.6)
    # A tie in y: ranks (1, 2, 3.5, 5, 3.5); rho = 8 / sqrt(10 * 9.5); tau-b = (8 - 1) / sqrt(10*9).
    assert spearman_rho([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) == pytest.approx(8 / 95 ** 0.5)
    assert kendall_tau([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) == pytest.approx(7 / 90 ** 0.5)
    assert spearman_rho([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert kendall_tau([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman_rho([1], [2]) is None and kendall_tau([1, 1], [1, 2]) is None


def test_bootstrap_fit_and_minmax():
    xs = _samples(50.0)
    ci = bootstrap_median_ci(xs, seed=3)
    assert ci == bootstrap_median_ci(xs, seed=3)  # seeded: reproducible
    assert ci[0] <= summarize(xs).median <= ci[1] and ci[0] < ci[1]
    assert bootstrap_median_ci([1.0]) is None
    slope, intercept, r2 = linear_fit([1, 2, 3, 4], [3, 5, 7, 9])
    assert (slope, intercept, r2) == pytest.approx((2.0, 1.0, 1.0))
    assert minmax({"a": 50.0, "b": 60.0, "c": 55.0}) == {"a": 0.0, "b": 1.0, "c": 0.5}


# ---- tables -------------------------------------------------------------------------------------

def test_table2_per_device_average_and_settings_apart(db):
    data = load([db])
    tables = {t.name: t for t in table2_tables(data)}
    gpu = tables["table2_gpu-a_16x224-fp32-eager"]
    col = gpu.columns.index("single B=1 rel")
    rel = {r[0]: r[col] for r in gpu.rows}
    assert rel["movinet_a0"] == 1.0 and rel["tsm_r50"] == pytest.approx(2.6)
    assert gpu.columns[2:5] == ["train B=8 rel", "train B=8 ms", "train B=8 mem GB"]
    # The channels-last row has its own table and never enters the eager fp32 ranking.
    cl = [t for n, t in tables.items() if n.endswith("-cl")]
    assert len(cl) == 2 and all(len(t.rows) == 1 for t in cl)  # per device and average
    avg = tables["table2_average_16x224-fp32-eager"]
    c = avg.columns.index("single B=1 rel")
    mean = {r[0]: r[c] for r in avg.rows}
    assert mean["x3d_xs"] == pytest.approx((1.6 + 1.5) / 2)
    assert mean["timesformer"] == pytest.approx((10 + 15) / 2)
    assert {r[0]: r[c + 1] for r in avg.rows}["tsm_r50"] == 2  # devices
    # Runtimes are ranked within themselves: ONNX Runtime and the phone have their own tables.
    assert any("onnxruntime" in n for n in tables) and any("pixel-8" in n for n in tables)
    # Renderers: Markdown, CSV (raw values), LaTeX with booktabs.
    md, tex = avg.to_markdown(), avg.to_latex()
    assert "| x3d_xs | baseline | " in md and "---:" in md
    assert all(k in tex for k in (r"\toprule", r"\midrule", r"\bottomrule", r"x3d\_xs"))
    rows = list(csv.reader(io.StringIO(avg.to_csv())))
    assert rows[0] == avg.columns and len(rows) == len(avg.rows) + 1


def test_table4_joins_training_latency_and_falls_back_to_paper(db, tmp_path):
    (t,) = table4_tables(load([db]))  # one table per evaluated dataset: ssv2
    rows = {r[0]: dict(zip(t.columns, r)) for r in t.rows}
    assert rows["tsm_r50"]["top-1 %"] == pytest.approx(60.0)
    assert rows["tsm_r50"]["train rel"] == pytest.approx(2.6)  # GPU-A train, the only device
    assert rows["tsm_r50"]["train h"] == pytest.approx(1.0)
    assert rows["tsm_r50"]["paper train rel"] == 2.64
    assert "stored evaluations" in t.caption and t.name == "table4_ssv2"
    (bare,) = table4_tables(load([_store(tmp_path / "b.db", _rows())]))
    assert "paper's Table 4" in bare.caption
    ek = [r for r in bare.rows if r[0] == "ek100" and r[2] == "movinet_a2"][0]
    assert ek[4:8] == [34.4, None, 64.2, 44.8]


def test_paper_comparison_on_a_known_ranking(tmp_path):
    # Paper single order: movinet_a0 1.00 < x3d_xs 1.72 < movinet_a2 1.93 < tsm_r50 2.36 <
    # timesformer 8.77. Measured: x3d_xs and movinet_a2 swapped -> rho = 1 - 6*2/120, tau = 8/10.
    ms = {"movinet_a0": 10.0, "x3d_xs": 20.0, "movinet_a2": 15.0, "tsm_r50": 30.0,
          "timesformer": 80.0}
    data = load([_store(tmp_path / "p.db", [_m(m, "single", GPU, v) for m, v in ms.items()])])
    side, corr = paper_tables(data)
    row = [r for r in corr.rows if r[0].startswith("average") and r[2] == "single"][0]
    assert row[3:] == [5, pytest.approx(0.9), pytest.approx(0.8)]
    dev = [r for r in corr.rows if r[0] == GPU][0]
    assert dev[4:] == [pytest.approx(0.9), pytest.approx(0.8)]
    i = side.columns.index("single measured")
    assert {r[0]: r[i] for r in side.rows}["timesformer"] == pytest.approx(8.0)
    assert not [r for r in corr.rows if r[2] == "train"]  # nothing measured, nothing claimed


def test_kendall_matrix_and_bootstrap_table(db):
    data = load([db])
    (kt,) = [t for t in kendall_tables(data) if "single" in t.name and "eager" in t.name
             and "cl" not in t.name.split("-")]
    assert kt.columns[1:] == sorted([GPU, CPU])
    assert kt.rows[0][1] == 1.0 and kt.rows[0][2] == pytest.approx(1.0)  # same order
    ci = latency_ci_table(data)
    phone = [r for r in ci.rows if r[0] == PHONE]
    assert phone and all(r[7] is None for r in phone)  # imported: no samples, no interval
    gpu = [r for r in ci.rows if r[0] == GPU and r[4] == "timesformer" and r[2] == "single"]
    assert gpu[0][7] <= 100.0 <= gpu[0][8]


# ---- recommender --------------------------------------------------------------------------------

def test_pareto_front_hand_made():
    pts = {"a": (10, 60), "b": (20, 70), "c": (15, 55), "d": (30, 65), "e": (40, 80),
           "f": (40, 80)}
    assert pareto_front(pts) == ["a", "b", "e", "f"]  # c beaten by a, d by b; e, f identical
    assert pareto_front({}) == []


def test_recommend_device_class_budget_and_sources(db):
    data = load([db])
    rec = recommend_from(data, device="cpu", mode="single", max_latency_ms=500, dataset="ek100")
    assert rec.device == CPU and "paper's Table 4" in rec.accuracy_source
    assert "timesformer" in rec.excluded  # 1500 ms
    assert [c.model for c in rec.front] == ["movinet_a0", "x3d_xs", "tsm_r50"]  # 31.3, 32.6, 32.7
    assert rec.settings == "single B=1 16x224 fp32 eager"  # eager preferred over onnxruntime
    assert rec.notes == ["1 other settings measured on this device; using the one with the most "
                         "models (rows of different settings are never mixed)"]
    ssv2 = recommend_from(data, device="gpu-a", mode="train", dataset="ssv2")
    assert ssv2.accuracy_source.startswith("stored evaluations")
    assert [c.model for c in ssv2.front] == ["movinet_a0", "x3d_xs", "tsm_r50", "timesformer"]
    near = recommend_from(data, device="RTX 4090", mode="single", max_memory_gb=1.0,
                          dataset="k400")
    assert near.device == GPU and "nearest device class (cuda)" in near.notes[0]
    assert near.excluded == {"timesformer": "1.90 GB > 1 GB"}  # tsm_r50: 0.66 GB fits
    assert "paper's Table 4 (k400 top-1)" in near.accuracy_source
    assert device_class("iPhone 15") == "phone" and device_class("AMD EPYC 7B13") == "cpu"


def test_recommend_cli_json_and_errors(db, capsys):
    assert _main(["recommend", "--db", str(db), "--device", "xeon", "--mode", "single",
                  "--max-latency-ms", "500", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["device"] == CPU and out["front"][0]["model"] == "movinet_a0"
    assert _main(["recommend", "--db", str(db), "--device", "cpu", "--mode", "single"]) == 0
    assert "Pareto front on" in capsys.readouterr().out
    for argv, msg in (
            (["--device", "cpu", "--mode", "single", "--max-latency-ms", "1"], "no model fits"),
            (["--device", "pixel 9 pro", "--mode", "train"], "no train rows for device"),
            (["--device", "tpu", "--mode", "single"], "nor for its device class")):
        assert _main(["recommend", "--db", str(db), *argv]) == 2
        err = capsys.readouterr().err
        assert msg in err and err.count("\n") == 1 and "Traceback" not in err


def test_bad_databases_are_one_line(tmp_path, capsys):
    empty = _store(tmp_path / "empty.db", [])
    foreign = tmp_path / "foreign.db"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE t (x)")
    con.close()
    text = tmp_path / "notes.db"
    text.write_text("not a database at all " * 100)
    failed = _store(tmp_path / "failed.db", [_m("x3d_xs", "single", GPU, 1.0, status="oom",
                                                 median_ms=None)])
    cases = ((empty, "no latency rows"), (foreign, "not a litevid results database"),
             (text, "not a litevid results database"), (failed, "none ok"),
             (tmp_path / "missing.db", "no such results database"))
    for path, msg in cases:
        assert _main(["report", "--db", str(path), "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert msg in err and err.startswith("litevid report: error:") and err.count("\n") == 1
    assert not list((tmp_path / "o").glob("**/*.png"))  # never an empty figure


# ---- figures and HTML ---------------------------------------------------------------------------

def test_figures_are_real_images(report):
    names = {f.name for f in report.figures}
    assert {"fig2_train", "fig3_batch", "fig4_single", "fig5_mobile",
            "fig6_latency_accuracy"} <= names
    assert any(n.startswith("flops_gpu-a") for n in names) and not report.notes
    for f in report.figures:
        png, svg = f.paths
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 8000, png
        assert "<svg" in svg.read_text()[:2000]
    fig6 = next(f for f in report.figures if f.name == "fig6_latency_accuracy")
    assert "stored evaluations (datasets ssv2)" in fig6.caption
    flops = next(f for f in report.figures if f.name.startswith("flops_gpu-a"))
    assert "R² =" in flops.caption


def test_report_files_and_html(report):
    out = report.out
    for stem in ("table4_ssv2", "paper_correlation", "latency_ci"):
        for ext in ("md", "csv", "tex"):
            assert (out / "tables" / f"{stem}.{ext}").stat().st_size > 100
    page = report.index.read_text()
    assert page.count("data:image/png;base64,") == len(report.figures)
    for t in report.tables:
        assert f'data-name="{t.name}"' in page
    assert page.count('<table class="sortable"') == len(report.tables) and "<script>" in page
    assert "Spearman rho" in page and "Kendall" in page
    assert "](figures/fig4_single.png)" in (out / "report.md").read_text()
    assert not list(out.glob("**/*.tmp"))  # atomic writes left nothing behind


def test_report_cli(db, tmp_path, capsys):
    out = tmp_path / "cli"
    assert _main(["report", "--db", str(db), "--out", str(out), "--no-figures",
                  "--compare-paper"]) == 0
    text = capsys.readouterr().out
    assert "paper vs average" in text and "Spearman" in text
    assert (out / "index.html").is_file() and not list(out.glob("figures/*.png"))


def test_no_torch_in_import_or_build(db, tmp_path):
    code = textwrap.dedent(f"""
        import sys
        import litevid.report
        from litevid.report.cli import add_parser
        assert "torch" not in sys.modules, "import litevid.report imported torch"
        try:
            import matplotlib
            figures = True
        except ImportError:
            figures = False
        r = litevid.report.build_report([{str(db)!r}], {str(tmp_path / "o")!r},
                                        compare_paper=True, figures=figures)
        litevid.report.recommend([{str(db)!r}], device="cpu", mode="single")
        bad = sorted(m for m in sys.modules if m == "torch" or m.startswith("litevid.models"))
        assert not bad, bad
        print(len(r.figures))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(not (shutil.which("chromium") or shutil.which("chromium-browser")),
                    reason="headless Chromium not installed (Debian package `chromium`); the "
                           "HTML structure is still checked by test_report_files_and_html")
def test_html_renders_in_headless_chromium(report, tmp_path):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    # The background-networking flags keep Chromium from dialling out on a closed network.
    base = [exe, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--virtual-time-budget=5000", f"--user-data-dir={tmp_path / 'profile'}"]
    done = subprocess.run([*base, "--dump-dom", report.index.as_uri()], capture_output=True,
                          text=True, timeout=120)
    dom = done.stdout
    assert f'data-images-loaded="{len(report.figures)}"' in dom, done.stderr[-2000:]
    assert dom.count("<table") == len(report.tables)
    shot = tmp_path / "page.png"
    subprocess.run([*base, f"--screenshot={shot}", "--window-size=1280,2000",
                    report.index.as_uri()], capture_output=True, timeout=120)
    assert shot.is_file() and shot.stat().st_size > 20000


def test_default_databases(tmp_path):
    (tmp_path / "results").mkdir()
    _store(tmp_path / "results" / "cpu-a.db", [])
    assert default_dbs(tmp_path) == [tmp_path / "results" / "cpu-a.db"]
    repo = sorted((Path(__file__).resolve().parents[1] / "results").glob("*.db"))
    assert default_dbs(tmp_path / "results") == (repo or [tmp_path / "results" / DEFAULT_DB])


@pytest.mark.skipif(not list((Path(__file__).resolve().parents[1] / "results").glob("*.db")),
                    reason="no committed results/*.db in this checkout")
def test_committed_results_make_a_report(tmp_path):
    report = build_report(default_dbs(), tmp_path, compare_paper=True, figures=False)
    table2 = [t for t in report.tables if t.name.startswith("table2_average")]
    assert table2 and max(len(t.rows) for t in table2) == 13


# ---- paper data ---------------------------------------------------------------------------------

def test_paper_json_matches_registry_and_transcription():
    from litevid.models import list_models, model_spec

    rows = P.paper()["models"]["rows"]
    assert sorted(rows) == sorted(list_models())
    for name in list_models():
        spec = model_spec(name)
        assert rows[name]["category"] == spec.category, name
        assert rows[name]["paper_name"] == spec.paper_name, name
    assert all(P.paper()[k]["source"] for k in ("models", "table2", "table4"))
    assert P.paper_relative_latency("batch")["timesformer"] == 20.1
    assert P.paper_accuracy("ek100", "verb")["x3d_xs"] == 62.5
    src = SHARED / "paper_tables.json"
    if src.is_file():  # the transcription this file was made from
        ref = json.loads(src.read_text())
        assert P.paper()["table2"]["rows"] == ref["table2"]
        for m, r in ref["table4"].items():
            assert [P.paper_accuracy(d).get(m) for d in P.DATASETS] == \
                [r["k400"][0], r["ssv2"][0], r["ek100"][0]]
