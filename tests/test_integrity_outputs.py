"""Issue 23, requirements 5 and 6: stored strings are data, and every artefact is complete or
absent.

- Terminal tables show rich markup from the store literally; Markdown and CSV outputs neutralise
  HTML and spreadsheet formulas (numbers stay numbers); the phone-CSV importer refuses unknown
  precisions and short lines before the database is touched.
- An export commits artefact and sidecar together and the loader refuses a pair that disagrees;
  a report folder is swapped in whole; both survive a SIGKILL mid-write, and the next run
  removes what the killed one left; a resumed training logs every step once.

Kills are real (``SIGKILL`` from inside a patched ``os.replace`` of a child process, so no
``finally`` runs); the models and stores are tiny (a few seconds in all).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from litevid.cli import main
from litevid.results import Evaluation, Measurement, ResultStore

TESTS = Path(__file__).resolve().parent
TINY = "_tiny_train_net"  # tests/_litevid_tiny_train.py: exports in a fraction of a second


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), str(TESTS.parent / "src"),
                                         env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    return env


def _killed_child(code: str, *args: str) -> None:
    """Run ``code`` in a child process that SIGKILLs itself (see the patched ``os.replace``)."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], env=_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr


def _m(model: str = "x3d_xs", device: str = "Pixel 8", median: float = 10.0, **kw) -> Measurement:
    fields = dict(model=model, mode="single", batch=1, requested_batch=1, frames=16, size=224,
                  precision="fp32", device_type="cpu", device_name=device, hostname="h",
                  created_at="2026-01-01T00:00:00+00:00", median_ms=median, mean_ms=median,
                  samples_ms=[median] * 5, n=5, cv=0.01)
    fields.update(kw)
    return Measurement(**fields)


def _store(path: Path, rows: list) -> Path:
    with ResultStore(path) as store:
        for r in rows:
            store.insert(r)
    return path


# ---- requirement 5: stored strings are data -----------------------------------------------------

def test_results_show_and_profile_print_stored_markup_literally(tmp_path, capsys):
    dev = "[link=https://evil.example]Pixel[/link]"
    profile = [{"op": "aten::[red]conv[/red]", "calls": 2, "self_ms": 1.0, "self_pct": 50.0,
                "total_ms": 2.0, "clock": "cpu"}]
    db = _store(tmp_path / "r.db", [
        _m(device=dev, hostname="h[/i]"),
        _m(device=dev, runtime="rt[/bold]", median=5.0, profile=profile),
        Evaluation(model="x3d_xs", dataset="[bold]ssv2", split="val", top1=0.5, top5=0.7,
                   device_name="gpu\\")])
    assert main(["results", "show", "--db", str(db)]) == 0  # rt[/bold] used to crash rich
    out = capsys.readouterr().out
    assert "rt[/bold]" in out and dev in out and "(host h, h[/i])" in out
    assert "[bold]ssv2" in out and "gpu\\ " in out  # a final backslash is shown once
    assert main(["results", "profile", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "aten::[red]conv[/red]" in out and f"{dev}: top operators" in out


def test_csv_and_markdown_neutralise_formulas_and_html(tmp_path):
    from litevid.report.tables import Table

    db = _store(tmp_path / "r.db", [
        _m(model='=HYPERLINK("http://evil.example","x")', device="@SUM(A1)", runtime="+rt",
           hostname="-1.5"),
        _m(model="x3d_xs", device="-cmd", median=20.0)])
    out = tmp_path / "rows.csv"
    assert main(["results", "export", "--db", str(db), "--format", "csv", "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open(newline="")))
    assert rows[0]["model"] == '\'=HYPERLINK("http://evil.example","x")'
    assert (rows[0]["device_name"], rows[0]["runtime"]) == ("'@SUM(A1)", "'+rt")
    assert rows[1]["device_name"] == "'-cmd"
    assert rows[0]["hostname"] == "-1.5" and rows[0]["median_ms"] == "10.0"  # numbers unchanged

    t = Table(name="t", title="<script>alert(1)</script>", columns=["model", "=dev", "v"],
              rows=[["=1+2", "a|b `c` & d", -1.5], ["[x](javascript:y)", "+3", None]],
              formats={"v": ".2f"}, caption="on <b>dev</b>")
    md = t.to_markdown()
    assert "<" not in md and "&lt;script&gt;alert(1)&lt;/script&gt;" in md
    assert "a\\|b \\`c\\` &amp; d" in md and "\\[x\\](javascript:y)" in md
    assert "| -1.50 |" in md
    assert list(csv.reader(io.StringIO(t.to_csv()))) == [
        ["model", "'=dev", "v"], ["'=1+2", "a|b `c` & d", "-1.5"], ["[x](javascript:y)", "+3", ""]]


@pytest.mark.parametrize("line, problem", [
    ("x3d_xs,onnx,Pixel 8,4,fp99", "precision 'fp99' is not one of fp32, fp16"),
    ("x3d_xs,onnx,Pixel 8", "3 cells but the header has 5 columns"),
])
def test_import_refuses_unknown_precision_and_short_lines(tmp_path, capsys, line, problem):
    path = tmp_path / "phones.csv"
    path.write_text("model,runtime,device_name,median_ms,precision\n"
                    "x3d_xs,onnx,Pixel 8,5,fp16\n" + line + "\n")
    db = tmp_path / "r.db"
    assert main(["results", "import", str(path), "--db", str(db)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"phones.csv:3: {problem}" in err, err
    assert "nothing imported" in err
    assert not db.exists()  # refused before the database was opened


# ---- requirement 6: complete or absent ----------------------------------------------------------

def test_export_sidecar_must_match_its_artefact(tiny, tmp_path):
    from litevid.export.api import export_model, load_exported, verify_exported
    from litevid.export.formats import ExportError

    r = export_model(TINY, "torchscript-lite", out_dir=tmp_path, frames=4, size=32)
    side = json.loads(r.sidecar.read_text())
    assert side["size_bytes"] == r.artefact.stat().st_size
    runner, record = load_exported(r.artefact)
    assert record["sha256"] == side["sha256"] and callable(runner)
    assert sorted(p.name for p in tmp_path.iterdir()) == [r.artefact.name, r.sidecar.name]

    data = bytearray(r.artefact.read_bytes())
    data[-1] ^= 1  # same size, one bit changed
    r.artefact.write_bytes(bytes(data))
    with pytest.raises(ExportError, match=rf"{r.artefact.name}: sha256 .* differs from its "
                                          rf"sidecar {r.sidecar.name}"):
        load_exported(r.artefact)
    r.artefact.write_bytes(bytes(data[:-10]))  # cut short
    with pytest.raises(ExportError, match=r"bytes but its sidecar .* says"):
        verify_exported(r.artefact)
    r.sidecar.unlink()
    with pytest.raises(ExportError, match=rf"its sidecar {r.sidecar.name} is missing"):
        load_exported(r.artefact)


_EXPORT_CHILD = f"""
    import os, signal, sys
    from pathlib import Path
    import _litevid_tiny_train
    from litevid.export.api import export_model

    out, when = Path(sys.argv[1]), sys.argv[2]
    sidecar = out / "{TINY}_4x32.ptl.json"
    real = os.replace

    def replace(src, dst):
        staging = Path(dst).parent != out  # the sidecar written in the temporary folder
        if Path(dst).name == sidecar.name and (staging if when == "staging" else not staging):
            os.kill(os.getpid(), signal.SIGKILL)
        return real(src, dst)

    os.replace = replace
    export_model("{TINY}", "torchscript-lite", out_dir=out, frames=4, size=32)
"""


@pytest.mark.parametrize("when", ["staging", "commit"])
def test_export_killed_mid_write_is_old_or_refused_and_cleaned(tiny, tmp_path, when):
    """Killed while writing the temporary sidecar: the previous export stays valid. Killed
    between the artefact's and the sidecar's renames: the artefact is refused (no sidecar).
    Either way the next export removes the temporary folder and commits a valid pair."""
    from litevid.export.api import export_model, verify_exported
    from litevid.export.formats import ExportError

    first = export_model(TINY, "torchscript-lite", out_dir=tmp_path, frames=4, size=32)
    old = verify_exported(first.artefact)
    _killed_child(_EXPORT_CHILD, str(tmp_path), when)
    left = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(left) == 1 and left[0].is_dir()  # the killed export's temporary folder
    if when == "staging":
        assert verify_exported(first.artefact) == old
    else:
        assert not first.sidecar.exists()
        with pytest.raises(ExportError, match="sidecar .* is missing"):
            verify_exported(first.artefact)
    again = export_model(TINY, "torchscript-lite", out_dir=tmp_path, frames=4, size=32)
    verify_exported(again.artefact)
    assert sorted(p.name for p in tmp_path.iterdir()) == [again.artefact.name,
                                                         again.sidecar.name]


def _report_rows(devices: list[str]) -> list[Measurement]:
    return [_m(model, device=dev, median=ms * (i + 1))
            for i, dev in enumerate(devices)
            for model, ms in (("x3d_xs", 10.0), ("movinet_a0", 7.0), ("vtn_eff", 20.0))]


_REPORT_CHILD = """
    import os, signal, sys
    from litevid.report import build_report

    db, out = sys.argv[1], sys.argv[2]
    real = os.replace

    def replace(src, dst):
        if os.path.realpath(dst) == os.path.realpath(out) and str(src).endswith(".tmp"):
            os.kill(os.getpid(), signal.SIGKILL)  # the old report renamed away, the new not in
        return real(src, dst)

    os.replace = replace
    build_report([db], out, figures=False)
"""


def test_report_is_swapped_whole_survives_a_kill_and_escapes(tmp_path):
    from litevid.report import build_report

    two = _store(tmp_path / "two.db", _report_rows(["<script>alert(1)</script>", "=cmd()"]))
    one = _store(tmp_path / "one.db", _report_rows(["<script>alert(1)</script>"]))
    out = tmp_path / "report"
    first = build_report([two], out, figures=False)
    kendall = [t.name for t in first.tables if t.name.startswith("kendall")]
    assert kendall and (out / "tables" / f"{kendall[0]}.csv").is_file()
    md = (out / "report.md").read_text()
    assert "<script>" not in md and "&lt;script&gt;alert(1)&lt;/script&gt;" in md
    assert "<script>alert" not in (out / "index.html").read_text()
    head = (out / "tables" / f"{kendall[0]}.csv").read_text().splitlines()[0]
    assert "'=cmd()" in head  # a device name in a header is neutralised too

    _killed_child(_REPORT_CHILD, str(one), str(out))
    assert not out.exists()  # killed between the two renames: the old report is set aside
    with pytest.raises(FileNotFoundError):  # the next run puts it back first, even if it fails
        build_report([tmp_path / "missing.db"], out, figures=False)
    assert (out / "tables" / f"{kendall[0]}.csv").is_file() and (out / "index.html").is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".report.")]  # its staging

    second = build_report([one], out, figures=False)
    assert not any(t.name.startswith("kendall") for t in second.tables)
    assert not list((out / "tables").glob("kendall*"))  # older runs' tables are gone
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # all cleaned

    (out / "notes.txt").write_text("mine")  # a folder with other files is not replaced
    with pytest.raises(ValueError, match="holds notes.txt, which are not part of a litevid"):
        build_report([one], out, figures=False)
    assert (out / "notes.txt").read_text() == "mine"


def test_stale_temporaries_are_removed_at_the_next_write(tmp_path):
    from litevid.utils.io import write_json

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    ago = time.time() - 2 * 3600
    stale = [tmp_path / f".x.json.{dead.pid}.abcd1234.tmp", tmp_path / ".x.json.abc_1234.tmp"]
    kept = [tmp_path / f".x.json.{os.getppid()}.abcd1234.tmp",  # a live writer's
            tmp_path / ".x.json.efg_5678.tmp",  # no pid and young: maybe an old writer, running
            tmp_path / f".x.json.bak.{dead.pid}.abcd1234.tmp"]  # another target's
    for p in stale + kept:
        p.write_text("partial")
    os.utime(stale[1], (ago, ago))
    folder = tmp_path / f".x.json.{dead.pid}.zz_9.tmp"  # a multi-file write's folder
    (folder / "sub").mkdir(parents=True)
    write_json(tmp_path / "x.json", {"a": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [p.name for p in kept] + ["x.json"])


def test_resumed_training_logs_each_step_once(tiny, tmp_path, monkeypatch):
    from litevid.train.config import TrainConfig
    from litevid.train.loop import Trainer

    real = Trainer._checkpoint

    def keep_step_2(self, path, **kwargs):
        real(self, path, **kwargs)
        if path.name == "last.pt" and self.state.step == 2:
            shutil.copy(path, path.with_name("step2.pt"))

    monkeypatch.setattr(Trainer, "_checkpoint", keep_step_2)
    out = tmp_path / "run"
    cfg = TrainConfig(model=TINY, dataset="synthetic", num_clips=32, frames=4, size=32,
                      batch_size=4, effective_batch=4, epochs=1, max_steps=4, workers=0,
                      checkpoint_every=2, log_every=1, out=str(out), db=str(tmp_path / "r.db"))
    Trainer(cfg).fit()
    with open(out / "log.jsonl", "a") as f:
        f.write('{"time": 9.9, "event": "st')  # a record torn by the kill
    # The run "killed" after step 4 continues from its step-2 checkpoint.
    Trainer(dataclasses.replace(cfg, resume=str(out / "step2.pt"))).fit()
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in log if r["event"] == "step"]
    assert steps == [1, 2, 3, 4]
    assert [r["step"] for r in log if r["event"] == "epoch"] == [4]
    assert [r["event"] for r in log].count("resumed") == 1
