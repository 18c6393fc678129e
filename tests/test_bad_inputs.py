"""Bad input to every verb: one error line naming the input and the problem, and nothing written.

Each case runs ``litevid ...`` in-process, in an empty working folder, on inputs built once
(corrupt, missing, foreign, malicious, non-UTF-8 and out-of-range). It asserts:

- the exit status (2 for a usage or input error; 1 where the command reports per-item failures),
- one error line on stderr (argparse's usage lines aside) naming the input (flag or path) and
  the problem, and no traceback anywhere,
- that nothing was written or changed: the working folder and the inputs folder (file sizes,
  modification times, database rows) are exactly as before.

Add a case by adding a row to ``CASES``: ``{i}`` is the inputs folder, ``{t}`` the test's own
working folder (it holds a regular file ``afile`` and a folder ``adir``).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from litevid.cli import main

av = pytest.importorskip("av", reason="PyAV writes the test video")

ROOT = Path(__file__).resolve().parents[1]

# (id, argv, exit status, texts the error line must contain)
CASES: list[tuple[str, str, int, tuple[str, ...]]] = [
    # ---- models
    ("models-pattern", "models --pattern nope* --no-flops", 2, ("--pattern", "nope*", "no regis")),
    ("models-flag", "models --bogus", 2, ("unrecognized arguments", "--bogus")),
    # ---- bench
    ("bench-model", "bench --models nosuch --db {t}/r.db", 2, ("nosuch",)),
    ("bench-mode", "bench --models x3d_xs --modes fly --db {t}/r.db", 2, ("fly",)),
    ("bench-device", "bench --models x3d_xs --device tpu --db {t}/r.db", 2, ("tpu",)),
    ("bench-frames0", "bench --frames 0", 2, ("--frames", ">= 1", "0")),
    ("bench-size-neg", "bench --size -8", 2, ("--size", "-8")),
    ("bench-batch0", "bench --batch-size 0", 2, ("--batch-size", "0")),
    ("bench-warmup-neg", "bench --warmup -1", 2, ("--warmup", "-1")),
    ("bench-iters0", "bench --iters 0", 2, ("--iters", "0")),
    ("bench-min-seconds", "bench --min-seconds -2", 2, ("--min-seconds", "-2")),
    ("bench-threads0", "bench --threads 0", 2, ("--threads", "0")),
    ("bench-nan", "bench --min-seconds nan", 2, ("--min-seconds", "nan")),
    ("bench-precision", "bench --precision fp8", 2, ("--precision", "fp8")),
    ("bench-db-dir", "bench --models x3d_xs --db {t}/missing/r.db", 2, ("{t}/missing/r.db",)),
    ("bench-db-is-dir", "bench --models x3d_xs --db {t}/adir", 2, ("{t}/adir",)),
    ("bench-json-dir", "bench --models x3d_xs --json {t}/missing/r.json", 2,
     ("{t}/missing/r.json",)),
    ("bench-import", "bench --import no_such_module_xyz --db {t}/r.db", 2,
     ("no_such_module_xyz",)),
    ("bench-runtime", "bench --models x3d_xs --runtime tvm --db {t}/r.db", 2, ("tvm",)),
    # ---- results
    ("show-missing", "results show --db {t}/nope.db", 2, ("{t}/nope.db", "no such")),
    ("show-not-db", "results show --db {i}/notadb.db", 2, ("{i}/notadb.db",)),
    ("show-newer", "results show --db {i}/newer.db", 2, ("{i}/newer.db", "newer")),
    ("show-mode", "results show --db {i}/results.db --mode fly", 2, ("--mode", "fly")),
    ("show-metric", "results show --db {i}/results.db --metric max", 2, ("--metric", "max")),
    ("export-out-dir", "results export --db {i}/results.db --format csv --out {t}/missing/x.csv", 2,
     ("{t}/missing/x.csv",)),
    ("export-out-is-dir", "results export --db {i}/results.db --format csv --out {t}/adir", 2, ("{t}/adir",)),
    ("export-format", "results export --db {i}/results.db --format xml --out {t}/x", 2,
     ("--format", "xml")),
    ("export-db-missing", "results export --db {t}/nope.db --format csv --out {t}/x.csv", 2, ("{t}/nope.db",)),
    ("merge-missing", "results merge {t}/nope.db --db {t}/target.db", 2, ("{t}/nope.db",)),
    ("merge-not-db", "results merge {i}/notadb.db --db {t}/target.db", 2, ("{i}/notadb.db",)),
    ("merge-newer", "results merge {i}/newer.db --db {t}/target.db", 2, ("{i}/newer.db",)),
    ("merge-into-not-db", "results merge {i}/results.db --db {i}/notadb.db", 2,
     ("{i}/notadb.db",)),
    ("import-missing", "results import {t}/nope.csv --db {t}/r.db", 2, ("{t}/nope.csv",)),
    ("import-empty", "results import {i}/empty.csv --db {t}/r.db", 2, ("{i}/empty.csv",)),
    ("import-fp99", "results import {i}/phone_fp99.csv --db {t}/r.db", 2,
     ("{i}/phone_fp99.csv", "fp99")),
    ("import-short-row", "results import {i}/phone_short.csv --db {t}/r.db", 2,
     ("{i}/phone_short.csv", ":3")),
    ("import-non-utf8", "results import {i}/phone_latin1.csv --db {t}/r.db", 2,
     ("{i}/phone_latin1.csv", "UTF-8")),
    ("import-model", "results import {i}/phone_model.csv --db {t}/r.db", 2,
     ("{i}/phone_model.csv", "no_such_net")),
    ("import-negative", "results import {i}/phone_negative.csv --db {t}/r.db", 2,
     ("{i}/phone_negative.csv", "median_ms")),
    ("import-into-not-db", "results import {i}/phone_ok.csv --db {i}/notadb.db", 2,
     ("{i}/notadb.db",)),
    ("profile-top0", "results profile --db {i}/results.db --top 0", 2, ("--top", "0")),
    ("profile-missing", "results profile --db {t}/nope.db", 2, ("{t}/nope.db",)),
    # ---- data check
    ("check-format", "data check --format avi --annotations {i}/empty.csv", 2, ("avi",)),
    ("check-missing", "data check --format k400 --annotations {t}/nope.csv", 2,
     ("{t}/nope.csv", "not found")),
    ("check-empty", "data check --format k400 --annotations {i}/empty.csv", 2,
     ("{i}/empty.csv",)),
    ("check-non-utf8", "data check --format k400 --annotations {i}/k400_latin1.csv", 2,
     ("{i}/k400_latin1.csv:3", "UTF-8")),
    ("check-labels-non-utf8", "data check --format k400 --annotations {i}/k400_ok.csv "
     "--labels {i}/labels_latin1.txt", 2, ("{i}/labels_latin1.txt:2", "UTF-8")),
    ("check-column", "data check --format k400 --annotations {i}/k400_nocol.csv", 2,
     ("{i}/k400_nocol.csv", "youtube_id")),
    ("check-int", "data check --format k400 --annotations {i}/k400_badint.csv", 2,
     ("{i}/k400_badint.csv:2", "time_start")),
    ("check-short-row", "data check --format k400 --annotations {i}/k400_short.csv", 2,
     ("{i}/k400_short.csv:2", "columns")),
    ("check-list-range", "data check --format list --annotations {i}/list_range.txt", 2,
     ("{i}/list_range.txt:1", "end_frame")),
    ("check-ssv2-json", "data check --format ssv2 --annotations {i}/ssv2.json --labels "
     "{i}/ssv2_labels.json", 2, ("{i}/ssv2_labels.json", "JSON")),
    ("check-limit-neg", "data check --format k400 --annotations {i}/k400_ok.csv --limit -1", 2,
     ("--limit", "-1")),
    ("check-workers0", "data check --format k400 --annotations {i}/k400_ok.csv --workers 0", 2,
     ("--workers", "0")),
    ("check-show-bad", "data check --format k400 --annotations {i}/k400_ok.csv --show-bad -3", 2,
     ("--show-bad", "-3")),
    ("check-fps0", "data check --format list --annotations {i}/list_ok.txt --fps 0", 2,
     ("--fps", "0")),
    ("check-json-dir", "data check --format k400 --annotations {i}/k400_ok.csv --json "
     "{t}/missing/c.json", 2, ("{t}/missing/c.json",)),
    ("check-root-missing", "data check --format k400 --annotations {i}/k400_ok.csv --root "
     "{t}/nope", 2, ("{t}/nope",)),
    # ---- data bench
    ("dbench-missing", "data bench --video {t}/nope.mp4 --db {t}/r.db", 2, ("{t}/nope.mp4",)),
    ("dbench-corrupt", "data bench --video {i}/corrupt.mp4 --db {t}/r.db", 2,
     ("{i}/corrupt.mp4",)),
    ("dbench-frames0", "data bench --video {i}/clip.mp4 --frames 0", 2, ("--frames", "0")),
    ("dbench-size-neg", "data bench --video {i}/clip.mp4 --size -5", 2, ("--size", "-5")),
    ("dbench-clips0", "data bench --video {i}/clip.mp4 --clips 0", 2, ("--clips", "0")),
    ("dbench-warmup", "data bench --video {i}/clip.mp4 --warmup -1", 2, ("--warmup", "-1")),
    ("dbench-model", "data bench --video {i}/clip.mp4 --model nosuch --db {t}/r.db", 2,
     ("nosuch",)),
    ("dbench-db-dir", "data bench --video {i}/clip.mp4 --db {t}/missing/r.db", 2,
     ("{t}/missing/r.db",)),
    ("dbench-json-dir", "data bench --video {i}/clip.mp4 --db {t}/r.db --json {t}/adir", 2,
     ("{t}/adir",)),
    # ---- train
    ("train-model", "train --model nosuch --out {t}/run --db {t}/r.db", 2, ("nosuch",)),
    ("train-dataset", "train --dataset imagenet --out {t}/run --db {t}/r.db", 2, ("imagenet",)),
    ("train-epochs0", "train --epochs 0", 2, ("--epochs", "0")),
    ("train-epochs-neg", "train --epochs -1", 2, ("--epochs", "-1")),
    ("train-batch0", "train --batch-size 0", 2, ("--batch-size", "0")),
    ("train-lr0", "train --lr 0", 2, ("--lr", "0")),
    ("train-wd-neg", "train --weight-decay -0.1", 2, ("--weight-decay", "-0.1")),
    ("train-share", "train --pretrained-min-share 1.5", 2, ("--pretrained-min-share", "1.5")),
    ("train-accum", "train --model _tiny_train_net --batch-size 8 --effective-batch 30 "
     "--out {t}/run --db {t}/r.db", 2, ("effective batch 30",)),
    ("train-annotations", "train --model _tiny_train_net --dataset k400 --out {t}/run "
     "--db {t}/r.db", 2, ("annotations",)),
    ("train-non-utf8", "train --model _tiny_train_net --dataset k400 --annotations "
     "{i}/k400_latin1.csv --val-annotations {i}/k400_ok.csv --out {t}/run --db {t}/r.db", 2,
     ("{i}/k400_latin1.csv:3", "UTF-8")),
    ("train-pretrained-missing", "train --model _tiny_train_net --pretrained {t}/nope.pt "
     "--out {t}/run --db {t}/r.db", 2, ("{t}/nope.pt",)),
    ("train-pretrained-evil", "train --model _tiny_train_net --pretrained {i}/evil.pt "
     "--out {t}/run --db {t}/r.db", 2, ("{i}/evil.pt", "weights_only", "system")),
    ("train-pretrained-foreign", "train --model _tiny_train_net --pretrained {i}/other.pt "
     "--frames 4 --size 32 --num-clips 16 --out {t}/run --db {t}/r.db", 2,
     ("{i}/other.pt", "loaded 0 of")),
    ("train-resume-trunc", "train --model _tiny_train_net --resume {i}/trunc.pt --out {t}/run "
     "--db {t}/r.db", 2, ("{i}/trunc.pt",)),
    ("train-db-dir", "train --model _tiny_train_net --out {t}/run --db {t}/missing/r.db", 2,
     ("{t}/missing/r.db",)),
    ("train-out-file", "train --model _tiny_train_net --out {t}/afile --db {t}/r.db", 2,
     ("{t}/afile",)),
    # ---- weights
    ("weights-missing", "weights inspect {t}/nope.pth", 2, ("{t}/nope.pth", "not found")),
    ("weights-evil", "weights inspect {i}/evil.pt", 2, ("{i}/evil.pt", "weights_only")),
    ("weights-trunc", "weights inspect {i}/trunc.pt", 2, ("{i}/trunc.pt",)),
    ("weights-no-layout", "weights inspect {i}/other.pt", 2,
     ("{i}/other.pt", "fits no known checkpoint layout")),
    ("weights-model", "weights inspect {i}/tiny.pt --model nosuch", 2, ("--model", "nosuch")),
    ("weights-args", "weights inspect {i}/tiny.pt --model-args [1]", 2,
     ("--model-args", "JSON object")),
    ("weights-args-json", "weights inspect {i}/tiny.pt --model-args {{frames", 2,
     ("--model-args", "not JSON")),
    ("eval-published-no-keep-head", "eval _tiny_train_net --checkpoint {i}/other.pt "
     "--dataset synthetic --out {t}/e --db {t}/r.db", 2, ("{i}/other.pt",)),
    # ---- eval
    ("eval-model", "eval nosuch --checkpoint {i}/tiny.pt --dataset synthetic --out {t}/e "
     "--db {t}/r.db", 2, ("nosuch",)),
    ("eval-ckpt-missing", "eval _tiny_train_net --checkpoint {t}/nope.pt --dataset synthetic "
     "--out {t}/e --db {t}/r.db", 2, ("{t}/nope.pt",)),
    ("eval-ckpt-evil", "eval _tiny_train_net --checkpoint {i}/evil.pt --dataset synthetic "
     "--out {t}/e --db {t}/r.db", 2, ("{i}/evil.pt", "weights_only", "system")),
    ("eval-ckpt-trunc", "eval _tiny_train_net --checkpoint {i}/trunc.pt --dataset synthetic "
     "--out {t}/e --db {t}/r.db", 2, ("{i}/trunc.pt",)),
    ("eval-num-clips0", "eval _tiny_train_net --checkpoint {i}/tiny.pt --dataset synthetic "
     "--num-clips 0", 2, ("--num-clips", "0")),
    ("eval-batch0", "eval _tiny_train_net --checkpoint {i}/tiny.pt --dataset synthetic "
     "--batch-size 0", 2, ("--batch-size", "0")),
    ("eval-frames-neg", "eval _tiny_train_net --checkpoint {i}/tiny.pt --dataset synthetic "
     "--frames -4", 2, ("--frames", "-4")),
    ("eval-annotations", "eval _tiny_train_net --checkpoint {i}/tiny.pt --dataset k400 "
     "--out {t}/e --db {t}/r.db", 2, ("--annotations",)),
    ("eval-db-dir", "eval _tiny_train_net --checkpoint {i}/tiny.pt --dataset synthetic "
     "--out {t}/e --db {t}/missing/r.db", 2, ("{t}/missing/r.db",)),
    ("eval-out-file", "eval _tiny_train_net --checkpoint {i}/tiny.pt --dataset synthetic "
     "--out {t}/afile --db {t}/r.db", 2, ("{t}/afile",)),
    ("eval-on-error", "eval _tiny_train_net --checkpoint {i}/tiny.pt --dataset synthetic "
     "--on-error ignore", 2, ("--on-error", "ignore")),
    # ---- predict
    ("predict-frames0", "predict {i}/clip.mp4 --model _tiny_train_net --checkpoint {i}/tiny.pt "
     "--frames 0", 2, ("--frames", "0")),
    ("predict-size0", "predict {i}/clip.mp4 --model _tiny_train_net --checkpoint {i}/tiny.pt "
     "--size 0", 2, ("--size", "0")),
    ("predict-frames-neg", "predict {i}/clip.mp4 --model _tiny_train_net --checkpoint "
     "{i}/tiny.pt --frames -3", 2, ("--frames", "-3")),
    ("predict-top0", "predict {i}/clip.mp4 --model _tiny_train_net --checkpoint {i}/tiny.pt "
     "--top 0", 2, ("--top", "0")),
    ("predict-model", "predict {i}/clip.mp4 --model nosuch --checkpoint {i}/tiny.pt --db "
     "{t}/r.db", 2, ("nosuch",)),
    ("predict-ckpt-missing", "predict {i}/clip.mp4 --model _tiny_train_net --checkpoint "
     "{t}/nope.pt --db {t}/r.db", 2, ("{t}/nope.pt",)),
    ("predict-ckpt-evil", "predict {i}/clip.mp4 --model _tiny_train_net --checkpoint "
     "{i}/evil.pt --db {t}/r.db", 2, ("{i}/evil.pt", "weights_only", "system")),
    ("predict-labels-non-utf8", "predict {i}/clip.mp4 --model _tiny_train_net --checkpoint "
     "{i}/tiny.pt --labels {i}/labels_latin1.txt --db {t}/r.db", 2,
     ("{i}/labels_latin1.txt:2", "UTF-8")),
    ("predict-labels-count", "predict {i}/clip.mp4 --model _tiny_train_net --checkpoint "
     "{i}/tiny.pt --labels {i}/labels_three.txt --db {t}/r.db", 2,
     ("{i}/labels_three.txt", "3 class names")),
    ("predict-db-dir", "predict {i}/clip.mp4 --model _tiny_train_net --checkpoint {i}/tiny.pt "
     "--db {t}/missing/r.db", 2, ("{t}/missing/r.db",)),
    ("predict-video-missing", "predict {t}/nope.mp4 --model _tiny_train_net --checkpoint "
     "{i}/tiny.pt --db {t}/r.db", 1, ("{t}/nope.mp4", "not found")),
    ("predict-video-corrupt", "predict {i}/corrupt.mp4 --model _tiny_train_net --checkpoint "
     "{i}/tiny.pt --db {t}/r.db", 1, ("{i}/corrupt.mp4", "cannot open video")),
    # ---- export
    ("export-model", "export nosuch --format onnx --out {t}/x", 2, ("nosuch",)),
    ("export-format", "export x3d_xs --format tflite --out {t}/x", 2, ("tflite",)),
    ("export-frames-neg", "export x3d_xs --format onnx --frames -1 --out {t}/x", 2,
     ("--frames", "-1")),
    ("export-size0", "export x3d_xs --format onnx --size 0 --out {t}/x", 2, ("--size", "0")),
    ("export-batch0", "export x3d_xs --format onnx --batch-size 0 --out {t}/x", 2,
     ("--batch-size", "0")),
    ("export-threads0", "export x3d_xs --format onnx --threads 0 --out {t}/x", 2,
     ("--threads", "0")),
    ("export-ckpt-evil", "export _tiny_train_net --format onnx --checkpoint {i}/evil.pt "
     "--out {t}/x", 2, ("{i}/evil.pt", "weights_only")),
    ("export-out-file", "export _tiny_train_net --format onnx --out {t}/afile", 2,
     ("{t}/afile",)),
    # ---- report and recommend
    ("report-missing", "report --db {t}/nope.db --out {t}/rep --no-figures", 2, ("{t}/nope.db",)),
    ("report-not-db", "report --db {i}/notadb.db --out {t}/rep --no-figures", 2,
     ("{i}/notadb.db",)),
    ("report-out-file", "report --db {i}/results.db --out {t}/afile --no-figures", 2,
     ("{t}/afile",)),
    ("recommend-latency", "recommend --device cpu --mode single --max-latency-ms -5 --db "
     "{i}/results.db", 2, ("--max-latency-ms", "-5")),
    ("recommend-memory", "recommend --device cpu --mode single --max-memory-gb 0 --db "
     "{i}/results.db", 2, ("--max-memory-gb", "0")),
    ("recommend-db", "recommend --device cpu --mode single --db {t}/nope.db", 2,
     ("{t}/nope.db",)),
    ("recommend-mode", "recommend --device cpu --mode fly --db {i}/results.db", 2,
     ("--mode", "fly")),
]


# ----------------------------------------------------------------------------- inputs


def _measurement(model: str, runtime: str = "eager") -> dict:
    return dict(model=model, mode="single", batch=1, requested_batch=1, frames=16, size=224,
                input_shape="3x16x224x224", precision="fp32", device_type="cpu",
                device_name="Test CPU", hostname="h", torch_version="2.13.0", status="ok", n=3,
                median_ms=10.0, mean_ms=11.0, p90_ms=12.0, runtime=runtime,
                created_at="2026-01-01T00:00:00+00:00", samples_ms=[10.0, 10.0, 10.0])


def _video(path: Path) -> None:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 48, 40, "yuv420p"
        for i in range(12):
            frame = av.VideoFrame.from_ndarray(np.full((40, 48, 3), 20 * i, np.uint8),
                                               format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo this should never run",))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, tiny):
    from litevid import create_model
    from litevid.results import ResultStore

    d = tmp_path_factory.mktemp("inputs")
    with ResultStore(d / "results.db") as store:
        for name in ("x3d_xs", "movinet_a0"):
            store.insert(_measurement(name))
    (d / "notadb.db").write_bytes(b"this is not an SQLite database\n" * 8)
    con = sqlite3.connect(d / "newer.db")
    con.execute("PRAGMA user_version = 99")
    con.execute("CREATE TABLE measurements (x)")
    con.commit()
    con.close()
    (d / "empty.csv").write_text("")
    k400 = "label,youtube_id,time_start,time_end,split\n"
    (d / "k400_ok.csv").write_text(k400 + "a,clip,0,10,val\nb,clip2,0,10,val\n")
    (d / "k400_latin1.csv").write_bytes((k400 + "a,clip,0,10,val\n").encode()
                                        + "caf\u00e9,clip2,0,10,val\n".encode("latin-1"))
    (d / "k400_nocol.csv").write_text("label,time_start,time_end\na,0,10\n")
    (d / "k400_badint.csv").write_text(k400 + "a,clip,abc,10,val\n")
    (d / "k400_short.csv").write_text(k400 + "a,clip,0\n")
    (d / "labels_latin1.txt").write_bytes(b"a\nb\xe9\n")
    (d / "labels_three.txt").write_text("x\ny\nz\n")
    (d / "list_range.txt").write_text("folder 10 5 0\n")
    (d / "list_ok.txt").write_text("folder 1 10 0\n")
    (d / "ssv2.json").write_text('[{"id": "1", "template": "Holding [something]"}]')
    (d / "ssv2_labels.json").write_text("{not json")
    phone = "model,runtime,device_name,median_ms,precision\n"
    (d / "phone_ok.csv").write_text(phone + "x3d_xs,executorch-xnnpack,Pixel 8,41.5,fp32\n")
    (d / "phone_fp99.csv").write_text(phone + "x3d_xs,executorch-xnnpack,Pixel 8,41.5,fp99\n")
    (d / "phone_short.csv").write_text(phone + "x3d_xs,executorch-xnnpack,Pixel 8,41.5,fp32\n"
                                       "x3d_xs,executorch-xnnpack\n")
    (d / "phone_latin1.csv").write_bytes(
        (phone + "x3d_xs,executorch-xnnpack,").encode() + "T\u00e9l\u00e9phone".encode("latin-1")
        + b",41.5,fp32\n")
    (d / "phone_model.csv").write_text(phone + "no_such_net,executorch-xnnpack,Pixel,41.5,fp32\n")
    (d / "phone_negative.csv").write_text(phone + "x3d_xs,executorch-xnnpack,Pixel,-3,fp32\n")
    torch.save({"model": _Evil()}, d / "evil.pt")
    torch.save(create_model("_tiny_train_net", num_classes=2).state_dict(), d / "tiny.pt")
    (d / "trunc.pt").write_bytes((d / "tiny.pt").read_bytes()[:200])
    other = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 2))
    torch.save(other.state_dict(), d / "other.pt")
    _video(d / "clip.mp4")
    (d / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\xde\xad" * 200)
    return d


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``folder``: (size, mtime) of files, (-1, 0) of folders.
    SQLite's ``-wal``/``-shm`` companions of a database are bookkeeping of readers too; a
    database's content is compared by its rows (``_rows``)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.name.endswith(("-wal", "-shm")):
            continue
        st = path.stat()
        out[str(path.relative_to(folder))] = (-1, 0) if path.is_dir() else (st.st_size,
                                                                           st.st_mtime_ns)
    return out


def _rows(db: Path) -> tuple[int, ...]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return tuple(con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                     for t in ("measurements", "evaluations"))
    finally:
        con.close()


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_writes_nothing(case, inputs, tmp_path, monkeypatch, capsys):
    _, argv, status, needles = case
    work = tmp_path / "work"
    (work / "adir").mkdir(parents=True)
    (work / "afile").write_text("a regular file\n")
    monkeypatch.chdir(work)
    fill = {"i": str(inputs), "t": str(work)}
    args = [a.format(**fill) for a in argv.split()]
    before, inputs_before, rows_before = _snapshot(work), _snapshot(inputs), _rows(
        inputs / "results.db")

    try:
        rc = main(args)
    except SystemExit as exc:  # argparse: usage + one error line
        rc = exc.code
    out, err = capsys.readouterr()

    assert "Traceback" not in out + err
    assert rc == status, f"exit status {rc}\nstdout: {out}\nstderr: {err}"
    lines = [ln for ln in err.strip().splitlines()
             if not ln.startswith(("usage:", " ")) and ln.strip()]
    if status == 1:  # per-item failures are reported on stdout, one line each
        lines = [ln for ln in out.strip().splitlines() if "error" in ln]
    assert len(lines) == 1, f"expected one error line, got:\n{err}{out}"
    for needle in needles:
        assert needle.format(**fill) in lines[0], f"{needle!r} not in {lines[0]!r}"
    assert _snapshot(work) == before, "the failed command wrote or changed files"
    assert _snapshot(inputs) == inputs_before and _rows(inputs / "results.db") == rows_before


def test_the_suite_covers_every_verb():
    verbs = {c[1].split()[0] + (" " + c[1].split()[1] if c[1].split()[0] in ("results", "data",
                                                                         "weights")
                                else "") for c in CASES}
    assert verbs >= {"models", "bench", "results show", "results export", "results merge",
                     "results import", "results profile", "data check", "data bench", "train",
                     "eval", "predict", "export", "report", "recommend", "weights inspect"}
    assert len(CASES) >= 80


# ----------------------------------------------------------------------------- concurrency


_WRITER = """
import sys, time
from pathlib import Path
from litevid.results import ResultStore
db, tag, n, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
print("ready", flush=True)
while not go.exists():
    time.sleep(0.005)
for k in range(n):
    with ResultStore(db) as store:
        store.insert(dict(model=f"{tag}-{k}", mode="single", batch=1, requested_batch=1, frames=16,
                          size=224, input_shape="3x16x224x224", precision="fp32",
                          device_type="cpu", device_name=tag, hostname="h", torch_version="x",
                          status="ok", n=1, median_ms=1.0, mean_ms=1.0, p90_ms=1.0,
                          samples_ms=[1.0]))
"""


def test_several_writers_and_a_merger_lose_no_row(tmp_path):
    """Four processes insert into one store while a fifth merges another store into it."""
    from litevid.results import ResultStore

    db, other, go = tmp_path / "shared.db", tmp_path / "other.db", tmp_path / "go"
    ResultStore(db).close()
    with ResultStore(other) as store:
        for k in range(50):
            store.insert(_measurement(f"merged-{k}"))
    n, tags = 60, ("a", "b", "c", "d")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(db), tag, str(n), str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for tag in tags]
    merger = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom pathlib import Path\n"
         "from litevid.cli import main\nprint('ready', flush=True)\n"
         "while not Path(sys.argv[3]).exists(): time.sleep(0.005)\n"
         "sys.exit(main(['results', 'merge', sys.argv[1], '--db', sys.argv[2]]))",
         str(other), str(db), str(go)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    for p in (*procs, merger):
        assert p.stdout.readline().strip() == "ready"
    go.touch()
    for p in (*procs, merger):
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    with ResultStore(db, readonly=True) as store:
        models = [r["model"] for r in store.rows()]
    assert len(models) == len(set(models)) == len(tags) * n + 50
    assert set(models) == ({f"{t}-{k}" for t in tags for k in range(n)}
                           | {f"merged-{k}" for k in range(50)})
