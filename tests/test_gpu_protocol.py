"""``tools/gpu_protocol.py --dry-run``: the GPU protocol's whole plan on the CPU, as CI runs it.

The run goes through the fake CUDA backend (every CUDA call of the real orchestration answered on
CPU tensors) and without the packages the lent GPU's image lacks (kornia, PyAV: stubbed here so
that importing them fails), so a protocol that would break on the GPU breaks here first.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOT_ON_THE_GPU_IMAGE = ("kornia", "av")


@pytest.mark.slow
@pytest.mark.fake_cuda
def test_dry_run_runs_every_stage_and_writes_every_file(tmp_path):
    blocked = tmp_path / "blocked"
    for name in NOT_ON_THE_GPU_IMAGE:
        (blocked / name).mkdir(parents=True)
        (blocked / name / "__init__.py").write_text(
            f"raise ImportError('{name} is not installed on the GPU image')\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(blocked), str(ROOT / "src")])
    env.pop("LITEVID_FAKE_CUDA", None)  # the dry run installs its own
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "gpu_protocol.py"), "--dry-run",
                           "--out", str(out)], env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((out / "protocol.json").read_text())
    assert report["stage_errors"] == {}
    assert list(report["stages"]) == ["environment", "peak", "bench", "peers", "train",
                                      "summary"]
    assert report["environment"]["device"] == "cuda:0"
    assert set(report["peak"]) == {"bf16", "fp16"}
    assert all(p["tmac_per_s"] > 0 for p in report["peak"].values())

    rows = report["bench"]["rows"]
    assert report["bench"]["skipped_for_time"] == []
    assert len(rows) == 13 * 3 and all(r["status"] == "ok" for r in rows), \
        [(r["model"], r["mode"], r["status"]) for r in rows if r["status"] != "ok"]
    assert {r["batch"] for r in rows if r["mode"] == "train"} == {2}
    assert all(r["mem_kind"] == "cuda: peak reserved" and r["nvml_process_bytes"] for r in rows)

    peers = report["peers"]
    assert {p["model"] for p in peers} == {"swin_t", "mvit_b", "tsm_r50", "vtn_eff", "vivit_fe"}
    assert all(p["litevid"]["median_ms"] > 0 for p in peers)  # the peer side may be absent
    assert all("median_ms" in p["peer"] or "error" in p["peer"] for p in peers)

    train = {t["precision"]: t for t in report["train"]}
    for precision in ("amp-bf16", "amp-fp16"):
        run = train[precision]
        assert run["returncode"] == 0, run["stderr_tail"]
        assert run["precision_used"] == precision and run["device"] == "cuda:0"
        assert len(run["losses"]) == 1

    summary = report["summary"]
    assert set(summary["ranking_vs_table2"]) == {"train", "batch", "single"}
    assert all(r["models"] == 13 and -1 <= r["spearman"] <= 1
               for r in summary["ranking_vs_table2"].values())
    assert {m["model"] for m in summary["train_memory"]} >= {"timesformer", "nl_r50", "swin_t",
                                                              "tea_r50"}
    assert "| train | 13 |" in (out / "summary.md").read_text()
    assert (out / "results.csv").read_text().count("\n") == 13 * 3 + 1
    con = sqlite3.connect(out / "results.db")
    try:
        assert con.execute("SELECT count(*) FROM measurements").fetchone()[0] == 39
        assert con.execute("SELECT count(*) FROM evaluations").fetchone()[0] == 2
    finally:
        con.close()
    assert "finished in" in (out / "protocol.log").read_text()
