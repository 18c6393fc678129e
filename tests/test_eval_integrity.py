"""Evaluation scores only the clips it decoded: bad clips are listed, never replaced.

A Kinetics-layout split of 7 clips: 4 good videos, a missing file, a file of garbage bytes and a
webm cut short (its header declares 53 frames, a handful decode). ``litevid eval`` must score the
4 good clips and the cut one (with a warning), list the 2 unreadable ones with their reason in
its output and the stored row, and give each good clip exactly the scores it gets when evaluated
alone.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import torch

from litevid.cli import main

av = pytest.importorskip("av", reason="PyAV writes the test videos")

FPS = 10


def _write_video(path: Path, frames: int, value: int, codec: str = "libx264") -> None:
    with av.open(str(path), "w", format="webm" if codec.startswith("libvpx") else "mp4") as out:
        stream = out.add_stream(codec, rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 48, 40, "yuv420p"
        for i in range(frames):
            img = np.full((40, 48, 3), (value + 7 * i) % 256, np.uint8)
            img[:, : 4 + i % 40] = 255 - value
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def _name(yid: str) -> str:
    return f"{yid}_000000_000010.mp4"


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    """(root, csv of all 7 clips, csv of the 4 good ones, the cut file's decodable frames)."""
    root = tmp_path_factory.mktemp("k400")
    good = [("good0", "a"), ("good1", "b"), ("good2", "a"), ("good3", "b")]
    for k, (yid, _) in enumerate(good):
        _write_video(root / _name(yid), 20, 40 * k + 10)
    (root / _name("garbage")).write_bytes(b"\x00\x01not a video at all" * 64)
    full = root / "full.webm"
    _write_video(full, 53, 90, codec="libvpx-vp9")
    data = full.read_bytes()
    (root / _name("cut")).write_bytes(data[: int(len(data) * 0.45)])  # webm bytes, .mp4 name
    from litevid.data.decode import video_info

    cut_info = video_info(root / _name("cut"))
    assert cut_info.declared_frames == 53 and 0 < cut_info.frames < 40

    rows = good[:2] + [("missing", "a"), ("garbage", "b"), ("cut", "a")] + good[2:]
    header = "label,youtube_id,time_start,time_end,split\n"
    all_csv, good_csv = root / "val.csv", root / "val_good.csv"
    all_csv.write_text(header + "".join(f"{lab},{y},0,10,val\n" for y, lab in rows))
    good_csv.write_text(header + "".join(f"{lab},{y},0,10,val\n" for y, lab in good))
    return root, all_csv, good_csv, cut_info.frames


@pytest.fixture(scope="module")
def checkpoint(tiny, tmp_path_factory):
    from litevid import create_model

    torch.manual_seed(3)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    torch.save(create_model("_tiny_train_net", num_classes=2).state_dict(), path)
    return path


def _eval(checkpoint: Path, root: Path, ann: Path, out: Path, db: Path, *extra: str) -> int:
    return main(["eval", "_tiny_train_net", "--checkpoint", str(checkpoint), "--dataset", "k400",
                 "--annotations", str(ann), "--root", str(root), "--workers", "0",
                 "--batch-size", "3", "--frames", "4", "--size", "32", "--out", str(out),
                 "--db", str(db), *extra])


def _predictions(path: Path) -> dict[str, list[str]]:
    with open(path, newline="") as f:
        return {row[0]: row[1:] for row in list(csv.reader(f))[1:]}


def test_eval_scores_only_decoded_clips_and_lists_the_others(split, checkpoint, tmp_path,
                                                             capsys):
    root, all_csv, good_csv, cut_frames = split
    db = tmp_path / "r.db"
    rc = _eval(checkpoint, root, all_csv, tmp_path / "all", db)
    text = capsys.readouterr().out
    assert rc == 1  # clips were left out: say so in the exit status too
    assert "5 of 7 clips evaluated" in text
    assert "2 clip(s) not evaluated" in text and "1 clip(s) evaluated with a warning" in text
    assert f"{_name('missing')}: video file not found" in text
    assert f"{_name('garbage')}: cannot open video" in text
    assert f"cut short: {cut_frames} frames, its header declares 53" in text

    preds = _predictions(tmp_path / "all" / "predictions.csv")
    assert sorted(preds) == sorted(_name(y) for y in ("good0", "good1", "good2", "good3", "cut"))
    with open(tmp_path / "all" / "clip_problems.csv", newline="") as f:
        problems = {r["clip"]: r for r in csv.DictReader(f)}
    assert {c: p["scored"] for c, p in problems.items()} == {
        _name("missing"): "no", _name("garbage"): "no", _name("cut"): "yes"}

    con = sqlite3.connect(db)
    clips, total, failed, warned = con.execute(
        "SELECT clips, clips_total, failed_clips, clip_warnings FROM evaluations").fetchone()
    assert (clips, total) == (5, 7)
    assert sorted(f["clip"] for f in json.loads(failed)) == [_name("garbage"), _name("missing")]
    assert [w["clip"] for w in json.loads(warned)] == [_name("cut")]

    assert main(["results", "show", "--db", str(db)]) == 0
    assert "5 of 7" in capsys.readouterr().out

    # Each good clip keeps its own target and scores: the same as evaluating the good ones alone.
    assert _eval(checkpoint, root, good_csv, tmp_path / "good", tmp_path / "g.db") == 0
    alone = _predictions(tmp_path / "good" / "predictions.csv")
    assert alone == {k: v for k, v in preds.items() if k != _name("cut")}


def test_eval_on_error_raise_stops_at_the_first_bad_clip(split, checkpoint, tmp_path, capsys):
    root, all_csv, _, _ = split
    db = tmp_path / "r.db"
    rc = _eval(checkpoint, root, all_csv, tmp_path / "out", db, "--on-error", "raise")
    err = capsys.readouterr().err
    assert rc == 2
    assert err.strip().splitlines() == [
        f"litevid eval: error: {root / _name('missing')}: video file not found"]
    assert not (tmp_path / "out").exists() and not db.exists()


def test_training_uses_a_cut_file_with_a_counted_warning(split):
    """Training may use a clip from a file cut short, but never silently: it is counted."""
    from litevid.data import build_dataset

    root, all_csv, _, _ = split
    ds = build_dataset("k400", "train", annotations=all_csv, root=root, frames=4, size=32)
    cut = next(i for i, r in enumerate(ds.records) if r.path == _name("cut"))
    clip, target = ds[cut]
    assert clip.shape == (3, 4, 32, 32) and target == 0
    assert (ds.warned, ds.skipped) == (1, 0)
    ds[2]  # the missing file: replaced by the next clip (training), and counted
    assert (ds.warned, ds.skipped) == (2, 2)  # missing and garbage skipped, the cut one used


def test_data_check_reports_the_cut_file(split, capsys):
    root, all_csv, _, cut_frames = split
    rc = main(["data", "check", "--format", "k400", "--annotations", str(all_csv), "--root",
               str(root)])
    out = " ".join(capsys.readouterr().out.split())  # rich wraps long paths
    assert rc == 1 and "checked 7 clips" in out and ": 3 bad" in out
    assert f"cut short: {cut_frames} frames, its header declares 53" in out

