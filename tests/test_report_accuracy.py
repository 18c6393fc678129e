"""Tests of the report's accuracy side (``litevid.report.accuracy``): Table 4 per dataset with
the same store's latency, Fig. 6 and the per-mode Pareto fronts against hand computations, the
provenance of every number, and ``recommend`` choosing from measured accuracy (a study's
``synthetic`` dataset) or falling back to the paper, labelled. Small stores built here; no
models, no torch."""

from __future__ import annotations

from pathlib import Path

import pytest

import litevid.cli as litevid_cli
from litevid.report import build_report, load, recommend_from
from litevid.report.accuracy import (
    normalised_accuracy,
    pareto_tables,
    provenance_table,
    study_summary,
    table4_tables,
)
from litevid.report.figures import fig6_points
from litevid.results import Evaluation, Measurement, ResultStore

DEV = "Intel(R) Xeon(R) CPU test"
A, B, C, D, E, F = "movinet_a0", "x3d_xs", "tsm_r50", "timesformer", "vtn_eff", "movinet_a2"
BATCH = {"train": 8, "batch": 32, "single": 1}
# Median ms per mode; relative latency (fastest = 1): train A1 B2 C4 D10, batch A1 B1.5 C3 D8,
# single B1 A1.25 C2.5 D7.5 (B fastest), so the mean over modes is A 13/12, B 1.5, C 19/6, D 8.5.
MS = {"train": {A: 10, B: 20, C: 40, D: 100, E: 30, F: 50},
      "batch": {A: 10, B: 15, C: 30, D: 80, E: 40, F: 50},
      "single": {A: 10, B: 8, C: 20, D: 60, E: 30, F: 50}}
SHA = "f" * 64


def _study(job: str, kind: str, **kw) -> dict:
    return {"study": {"name": "smoke", "job": job, "kind": kind, "study_sha256": SHA, **kw}}


def _m(model: str, mode: str, median: float, device: str = DEV, **kw) -> Measurement:
    fields = dict(model=model, mode=mode, batch=BATCH[mode], frames=16, size=224,
                  precision="fp32", device_type="cpu", device_name=device, median_ms=median,
                  created_at="2026-01-01T00:00:00+00:00", git_rev="abc1234")
    return Measurement(**(fields | kw))


def _ev(model: str, dataset: str, top1: float, split: str = "val", **kw) -> Evaluation:
    fields = dict(model=model, dataset=dataset, split=split, top1=top1, device_name=DEV,
                  created_at="2026-01-02T00:00:00+00:00", git_rev="def5678")
    return Evaluation(**(fields | kw))


def _store(path: Path, rows: list) -> Path:
    with ResultStore(path) as store:
        for r in rows:
            store.insert(r)
    return path


def _rows() -> list:
    # Training latency rows come from a study; batch and single from plain `litevid bench`.
    lat = [_m(m, mode, ms, settings=_study(f"b-{m}", "bench") if mode == "train" else None)
           for mode, by in MS.items() for m, ms in by.items()]
    ssv2 = {A: 0.50, B: 0.60, C: 0.70, D: 0.80, F: 0.95}  # F: not on EK100, left out of Fig. 6
    ek = {A: 0.30, B: 0.20, C: 0.25, D: 0.40}  # action top-1
    k400 = {A: 0.90, B: 0.10, C: 0.50, D: 0.60}  # left out of Fig. 6: two other datasets
    evals = [_ev(m, "ssv2", a, top5=a + 0.2, epochs=5, train_wall_s=7200.0, clips=100,
                 settings=_study(f"j-{m}", "eval", run=f"runs/{m}", train_job=f"t-{m}"))
             for m, a in ssv2.items()]
    evals += [_ev(m, "ek100", a, clips=40, checkpoint=f"/ckpt/{m}/best.pt",
                  metrics={"verb": {"top1": a + 0.3}, "noun": {"top1": a + 0.1},
                           "action": {"top1": a}, "top1": a})
              for m, a in ek.items()]
    evals += [_ev(m, "k400", a, top5=0.99) for m, a in k400.items()]
    return lat + evals


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return load([_store(tmp_path_factory.mktemp("acc") / "r.db", _rows())])


def _by_model(table) -> dict[str, dict]:
    return {r[0]: dict(zip(table.columns, r)) for r in table.rows}


# ---- Table 4 ------------------------------------------------------------------------------------

def test_table4_per_dataset_with_latency_and_sources(data):
    tables = {t.name: t for t in table4_tables(data)}
    assert sorted(tables) == ["table4_ek100", "table4_k400", "table4_ssv2"]
    ssv2 = tables["table4_ssv2"]
    assert ssv2.columns == ["model", "category", "top-1 %", "top-5 %", "epochs", "train h",
                            "train rel", "batch rel", "single rel", "paper train rel", "device",
                            "source"]
    assert [r[0] for r in ssv2.rows] == [F, D, C, B, A]  # top-1, best first
    d = _by_model(ssv2)[D]
    assert d["top-1 %"] == pytest.approx(80.0) and d["top-5 %"] == pytest.approx(100.0)
    assert (d["train rel"], d["batch rel"], d["single rel"]) == pytest.approx((10.0, 8.0, 7.5))
    assert d["paper train rel"] == 10.20 and d["train h"] == pytest.approx(2.0)
    assert d["device"] == DEV and d["source"] == "study smoke job j-timesformer"
    assert "ssv2 val: 100 clips evaluated per model" in ssv2.caption
    assert "chance level 0.6 % (1 of 174 classes)" in ssv2.caption
    assert "accuracy from study smoke" in ssv2.caption
    assert "train rel = measured relative train latency" in ssv2.caption
    ek = tables["table4_ek100"]
    assert ek.columns[2:5] == ["action top-1 %", "verb top-1 %", "noun top-1 %"]
    assert "top-5 %" not in ek.columns and "chance" not in ek.caption
    assert [r[0] for r in ek.rows] == [D, A, C, B]
    a = _by_model(ek)[A]
    assert [a["action top-1 %"], a["verb top-1 %"], a["noun top-1 %"]] == \
        pytest.approx([30.0, 60.0, 40.0])
    assert a["source"] == "best.pt" and a["single rel"] == pytest.approx(1.25)
    assert "ek100 val: 40 clips" in ek.caption and "action = verb and noun both right" in \
        ek.caption
    k400 = _by_model(tables["table4_k400"])
    assert k400[B]["source"] is None and tables["table4_k400"].text(3, 0) == B  # worst last
    assert "clips evaluated: not recorded" in tables["table4_k400"].caption


def test_table4_falls_back_to_the_paper_labelled(tmp_path):
    lat = [_m(m, "single", v) for m, v in MS["single"].items()]
    data = load([_store(tmp_path / "lat.db", lat)])
    (t,) = table4_tables(data)
    assert t.name == "table4" and "the paper's numbers" in t.title
    assert "no evaluations stored: accuracy is the paper's Table 4" in t.caption
    row = [dict(zip(t.columns, r)) for r in t.rows if r[0] == "ssv2" and r[2] == A][0]
    assert row["top-1 %"] == 57.2 and row["source"] == "paper Table 4"
    assert row["single rel"] == pytest.approx(1.25) and row["train rel"] is None


# ---- Fig. 6 and the Pareto fronts ---------------------------------------------------------------

def test_fig6_points_match_a_hand_computation(data):
    # Min-max over the models evaluated on both ssv2 and ek100 (A-D; F lacks ek100):
    # ssv2 A0 B1/3 C2/3 D1; ek100 (action) A.5 B0 C.25 D1; mean A.25 B1/6 C11/24 D1.
    points, how = fig6_points(data)
    assert list(points) == [A, D, C, B]  # sorted by name
    expect = {A: (13 / 12, 0.25), B: (1.5, 1 / 6), C: (19 / 6, 11 / 24), D: (8.5, 1.0)}
    for m, (x, y) in expect.items():
        assert points[m] == pytest.approx((x, y)), m
    assert "latency = mean of the train, batch and single relative latencies" in how
    assert "measured: study smoke + stored evaluations (datasets ek100, ssv2)" in how
    assert "k400 left out" in how and "left out: movinet_a2" in how
    acc = normalised_accuracy(data)
    assert acc.datasets == ["ek100", "ssv2"] and acc.measured


def test_fig6_datasets_keep_k400_and_one_dataset(tmp_path):
    lat = [_m(m, "single", v) for m, v in MS["single"].items()]
    two = load([_store(tmp_path / "two.db", lat + [
        _ev(A, "k400", 0.7), _ev(B, "k400", 0.5), _ev(A, "synthetic", 0.25, split="test"),
        _ev(B, "synthetic", 0.75, split="test")])])
    acc = normalised_accuracy(two)
    assert acc.datasets == ["k400", "synthetic"] and acc.normalised == {A: 0.5, B: 0.5}
    assert any("k400 kept" in n for n in acc.notes)
    one = load([_store(tmp_path / "one.db", lat + [
        _ev(m, "synthetic", a, split="test") for m, a in {A: 0.5, B: 0.25, C: 1.0}.items()])])
    points, how = fig6_points(one)
    assert points == {A: (1.25, pytest.approx(1 / 3)), B: (1.0, 0.0), C: (2.5, 1.0)}
    assert "single only (the store measured one mode" in how
    assert "one dataset: min-max over it maps the best model to 1 and the worst to 0" in how
    assert "measured: stored evaluations (datasets synthetic)" in how


def test_pareto_tables_per_mode(data):
    tables = {t.name: t for t in pareto_tables(data)}
    assert list(tables) == ["pareto_train", "pareto_batch", "pareto_single"]
    train = tables["pareto_train"]
    assert train.columns == ["model", "category", "train rel", f"{DEV} ms", "norm. accuracy",
                             "ek100 top-1 %", "ssv2 top-1 %", "on front"]
    assert [(r[0], r[2], r[-1]) for r in train.rows] == [
        (A, 1.0, "yes"), (B, 2.0, "no"), (C, 4.0, "yes"), (D, 10.0, "yes")]
    c = _by_model(train)[C]
    assert c[f"{DEV} ms"] == 40 and c["norm. accuracy"] == pytest.approx(11 / 24)
    assert c["ek100 top-1 %"] == pytest.approx(25.0) and c["ssv2 top-1 %"] == pytest.approx(70.0)
    assert "from study smoke" in train.caption  # the training rows came from a study
    single = tables["pareto_single"]  # B is fastest here, so nothing is dominated
    assert [(r[0], r[-1]) for r in single.rows] == [(B, "yes"), (A, "yes"), (C, "yes"),
                                                    (D, "yes")]
    assert "from litevid bench rows" in single.caption


# ---- provenance ---------------------------------------------------------------------------------

def test_provenance_table_and_summary(data):
    t = provenance_table(data)
    rows = [dict(zip(t.columns, r)) for r in t.rows]
    train = [r for r in rows if r["kind"] == "latency" and r["model"] == C
             and r["dataset or mode"].startswith("train")][0]
    assert (train["study"], train["job"], train["device"]) == ("smoke", "b-tsm_r50", DEV)
    assert train["dataset or mode"] == "train B=8 16x224 fp32 eager"
    assert train["git rev"] == "abc1234" and train["run folder"] is None
    i = next(i for i, r in enumerate(rows) if r["kind"] == "latency"
             and r["dataset or mode"].startswith("single"))
    assert t.text(i, t.columns.index("study")) == "-" and t.text(i, t.columns.index("job")) == "-"
    ssv2 = [r for r in rows if r["kind"] == "evaluation" and r["dataset or mode"] == "ssv2 val"
            and r["model"] == D][0]
    assert (ssv2["study"], ssv2["job"], ssv2["run folder"]) == ("smoke", "j-timesformer",
                                                                "runs/timesformer")
    assert ssv2["created"] == "2026-01-02T00:00:00+00:00"
    ek = [r for r in rows if r["dataset or mode"] == "ek100 val" and r["model"] == A][0]
    assert ek["study"] is None and ek["run folder"] == "/ckpt/movinet_a0/best.pt"
    assert len(rows) == 18 + 13
    assert study_summary(data) == ("studies: smoke (sha256 ffffffffffff): 6 latency row(s), 5 "
                                   "evaluation(s); not from a study: 12 latency row(s), 8 "
                                   "evaluation(s)")


def test_report_has_the_new_tables_and_figures(tmp_path):
    pytest.importorskip("matplotlib", reason="figures need the report extra (matplotlib)")
    db = _store(tmp_path / "r.db", _rows())
    report = build_report([db], tmp_path / "out")
    names = [t.name for t in report.tables]
    assert {"table4_ek100", "table4_ssv2", "pareto_single", "provenance"} <= set(names)
    assert "table4" not in names
    figs = {f.name: f for f in report.figures}
    assert "Pareto front (movinet_a0, tsm_r50, timesformer)" in \
        figs["fig6_latency_accuracy"].caption
    assert "single: x3d_xs, movinet_a0, tsm_r50, timesformer" in figs["pareto_modes"].caption
    page = report.index.read_text()
    assert "Provenance: where every number came from" in page
    assert "studies: smoke (sha256 ffffffffffff)" in page
    assert (tmp_path / "out" / "tables" / "pareto_train.csv").is_file()


# ---- recommend ----------------------------------------------------------------------------------

def _synthetic_store(path: Path) -> Path:
    """A smoke study's store: single-mode latency on the CPU and accuracy on ``synthetic``."""
    lat = [_m(m, "single", v, settings=_study(f"b-{m}", "bench"))
           for m, v in {A: 10, B: 8, C: 20}.items()]
    acc = {A: 0.50, B: 0.25, C: 0.375}
    evals = [_ev(m, "synthetic", a, split="test", clips=128,
                 settings={**_study(f"e-{m}", "eval", run=f"runs/{m}"), "num_classes": 8})
             for m, a in acc.items()]
    return _store(path, lat + evals)


def test_recommend_picks_the_studys_only_dataset(tmp_path):
    data = load([_synthetic_store(tmp_path / "s.db")])
    rec = recommend_from(data, device="cpu", mode="single")
    assert rec.dataset == "synthetic"
    assert rec.accuracy_source == ("measured: study smoke jobs e-movinet_a0, e-tsm_r50, "
                                   "e-x3d_xs (synthetic test top-1)")
    assert [(c.model, c.accuracy) for c in rec.front] == [(B, 25.0), (A, 50.0)]  # C dominated
    assert [c.accuracy_from for c in rec.front] == ["study smoke job e-x3d_xs",
                                                    "study smoke job e-movinet_a0"]
    assert rec.notes == ["--dataset not given: using synthetic, the only dataset with stored "
                         "evaluations"]
    text = rec.to_text()
    assert "accuracy: measured: study smoke jobs" in text and "accuracy from" in text
    (t4,) = table4_tables(data)
    assert "chance level 12.5 % (1 of 8 classes)" in t4.caption


def test_recommend_falls_back_to_the_paper_and_rejects_unknown(tmp_path, capsys):
    db = _synthetic_store(tmp_path / "s.db")
    data = load([db])
    rec = recommend_from(data, device="cpu", mode="single", dataset="k400")
    assert rec.accuracy_source == ("the paper's Table 4 (k400 top-1) (fallback: no stored "
                                   "evaluation on k400)")
    # Paper K400: x3d_xs 68.6 at 8 ms, movinet_a0 65.8 at 10 ms, tsm_r50 70.0 at 20 ms.
    assert [c.model for c in rec.front] == [B, C] and rec.notes == []
    with pytest.raises(ValueError, match=r"no accuracy on dataset 'synthtic' \(did you mean "
                                         r"'synthetic'\?\): stored evaluations on synthetic; "
                                         r"the paper's Table 4 has k400, ssv2, ek100"):
        recommend_from(data, device="cpu", mode="single", dataset="synthtic")
    bare = load([_store(tmp_path / "b.db", [_m(A, "single", 10.0), _m(B, "single", 8.0)])])
    assert recommend_from(bare, device="cpu", mode="single").dataset == "k400"
    mods = litevid_cli._SUBCOMMAND_MODULES
    if "litevid.report.cli" not in mods:
        litevid_cli._SUBCOMMAND_MODULES = (*mods, "litevid.report.cli")
    try:
        assert litevid_cli.main(["recommend", "--db", str(db), "--device", "cpu", "--mode",
                                 "single", "--dataset", "ucf101"]) == 2
        err = capsys.readouterr().err
        assert "no accuracy on dataset 'ucf101'" in err and err.count("\n") == 1
        assert litevid_cli.main(["recommend", "--db", str(db), "--device", "cpu", "--mode",
                                 "single", "--dataset", "synthetic"]) == 0
        assert "accuracy: measured: study smoke" in capsys.readouterr().out
    finally:
        litevid_cli._SUBCOMMAND_MODULES = mods


def test_wilson_interval_of_a_top1():
    from litevid.report.stats import wilson_interval

    # by hand: centre (0.125 + 1.96^2/128) / (1 + 1.96^2/64) = 0.14624, half-width
    # 1.96 sqrt(0.125 * 0.875 / 64 + 1.96^2 / (4 * 64^2)) / 1.060025 = 0.08151
    lo, hi = wilson_interval(0.125, 64)
    assert (round(100 * lo, 2), round(100 * hi, 2)) == (6.47, 22.77)
    assert wilson_interval(0.0, 10)[0] == pytest.approx(0.0, abs=1e-12)
    assert wilson_interval(1.0, 10)[1] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        wilson_interval(0.5, 0)
