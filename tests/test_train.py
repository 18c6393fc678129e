"""Training and evaluation: recipe arithmetic, metrics, a real short run, exact resume after
SIGKILL, DDP (gloo, 2 processes) against one process, evaluation outputs, predict, bad input.

Tiny models without batch norm or dropout (``tests/_litevid_tiny_train.py``) keep the runs to
seconds; subprocesses import them with ``--import``.
"""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from litevid.cli import main
from litevid.train.config import TrainConfig, accumulation_steps, apply_dataset_defaults
from litevid.train.metrics import Evaluator, topk_hits

TESTS = Path(__file__).resolve().parent
SHARED = TESTS.parent.parent / "shared" / "data"
TINY = "_litevid_tiny_train"
# Seconds-long runs: 64 synthetic clips of 4 frames at 32 px, 4 clips a forward, 8 a step.
SMALL = ["--dataset", "synthetic", "--num-clips", "64", "--frames", "4", "--size", "32",
         "--batch-size", "4", "--effective-batch", "8", "--workers", "0", "--import", TINY]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    src = str(TESTS.parent / "src")
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), src, env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    return env


def _train_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "litevid", "train", *SMALL, *args]


def _weights(path: Path) -> dict[str, torch.Tensor]:
    from litevid.train.checkpoint import load_checkpoint

    return load_checkpoint(path)["model"]


# ---- recipe arithmetic ----------------------------------------------------------------------

def test_accumulation_makes_the_effective_batch_or_refuses():
    assert accumulation_steps(32, 8, 1) == 4
    assert accumulation_steps(32, 8, 4) == 1
    assert accumulation_steps(32, 4, 2) == 4
    with pytest.raises(ValueError, match="not a multiple"):
        accumulation_steps(32, 6, 1)
    with pytest.raises(ValueError, match="not a multiple"):
        accumulation_steps(32, 8, 3)
    with pytest.raises(ValueError):
        accumulation_steps(32, 0, 1)


def test_recipe_defaults_are_the_study_and_datasets_only_fill_unset_fields():
    cfg = TrainConfig()
    assert (cfg.epochs, cfg.effective_batch, cfg.weight_decay, cfg.plateau_factor,
            cfg.plateau_patience, cfg.optimizer) == (35, 32, 1e-5, 0.1, 2, "adamw")
    from litevid import model_spec

    for name in ("tsm_r50", "x3d_xs", "vivit_fe", "vtn_r50", "mvit_s"):
        assert 1e-4 <= model_spec(name).lr <= 3e-4
    assert model_spec("mvit_s").init.from_scratch and not model_spec("x3d_xs").init.from_scratch
    k400, taken = apply_dataset_defaults(TrainConfig(dataset="k400"))
    assert taken == {} and k400.epochs == 35
    syn, taken = apply_dataset_defaults(TrainConfig(epochs=3), explicit={"epochs"})
    assert syn.epochs == 3 and "epochs" not in taken and syn.size == taken["size"]


def test_plateau_schedule_reduces_and_stops_below_the_floor():
    from litevid.train.loop import lr_exhausted, plateau_scheduler

    cfg = TrainConfig(lr_floor=1e-6)
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=3e-4)
    sched = plateau_scheduler(opt, cfg)
    lrs, stop_at = [], None
    for epoch, top1 in enumerate([0.1, 0.2, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3], 1):
        sched.step(top1)
        lrs.append(opt.param_groups[0]["lr"])
        if stop_at is None and lr_exhausted(opt, cfg):
            stop_at = epoch
    # best at epoch 3; no improvement at 4 and 5 -> x0.1 after epoch 5, then after every 2 more
    # epochs without improvement: 3e-6 after epoch 7, 3e-7 < floor after epoch 9 -> stop
    assert lrs[:4] == [3e-4] * 4
    assert math.isclose(lrs[4], 3e-5)
    assert [math.isclose(lrs[i], v) for i, v in ((6, 3e-6), (7, 3e-6), (8, 3e-7))] == [True] * 3
    assert stop_at == 9  # the first epoch whose learning rate is below the floor


# ---- metrics --------------------------------------------------------------------------------

def test_topk_mean_class_accuracy_and_ignored_targets():
    logits = torch.tensor([[5.0, 1, 0, 0], [0, 5, 1, 0], [0, 1, 5, 0], [5, 0, 0, 1],
                           [0, 0, 1, 5], [1, 0, 0, 0]])
    target = torch.tensor([0, 1, 0, 3, 3, -1])  # last one unknown: ignored
    assert topk_hits(logits, target.clamp(min=0), 1).tolist() == [1, 1, 0, 0, 1, 1]
    ev = Evaluator(4)
    ev.add(logits[:3], target[:3])
    ev.add(logits[3:], target[3:])
    s = ev.summary()["label"]
    assert s["clips"] == 5 and math.isclose(s["top1"], 3 / 5)
    # class 0: 1/2 right, class 1: 1/1, class 3: 1/2 -> mean over present classes
    assert math.isclose(s["mean_class_acc"], (0.5 + 1 + 0.5) / 3)
    assert math.isclose(s["top5"], 1.0)  # 4 classes: every target is in the top 5
    assert ev.counts["label"].confusion[3].tolist() == [1, 0, 0, 1]


def test_ek100_action_is_right_only_when_verb_and_noun_are():
    verb = torch.tensor([[3.0, 0, 0], [3, 0, 0], [0, 3, 0], [0, 0, 3]])
    noun = torch.tensor([[0, 3.0], [3, 0], [0, 3], [0, 3]])
    tv = torch.tensor([0, 0, 1, 2])
    tn = torch.tensor([1, 1, 0, 1])
    ev = Evaluator({"verb": 3, "noun": 2})
    ev.add({"verb": verb, "noun": noun}, {"verb": tv, "noun": tn, "action": tv * 0},
           ["a", "b", "c", "d"])
    s = ev.summary()
    assert math.isclose(s["verb"]["top1"], 1.0) and math.isclose(s["noun"]["top1"], 0.5)
    assert math.isclose(s["action"]["top1"], 0.5)  # clips a and d: verb and noun both right
    assert s["top1"] == s["action"]["top1"]
    assert ev.predictions[1]["noun"]["top5"][0] == 0 and ev.predictions[1]["clip"] == "b"
    ev2 = Evaluator({"verb": 3, "noun": 2})  # an unknown noun drops the clip from the action
    ev2.add({"verb": verb, "noun": noun}, {"verb": tv, "noun": torch.tensor([1, -1, -1, 1])})
    assert ev2.summary()["action"]["clips"] == 2 and ev2.summary()["noun"]["clips"] == 2


# ---- a real run -----------------------------------------------------------------------------

def test_short_run_lowers_the_loss_and_writes_everything(tiny, tmp_path):
    from litevid.results import ResultStore
    from litevid.train.loop import Trainer

    out, db = tmp_path / "run", tmp_path / "r.db"
    cfg = TrainConfig(model="_tiny_train_net", dataset="synthetic", num_clips=128, frames=4,
                      size=32, batch_size=8, effective_batch=8, epochs=12, lr=3e-3, workers=0,
                      plateau_patience=100,
                      out=str(out), db=str(db), log_every=1)
    row = Trainer(cfg).fit()
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    steps = [r["loss"] for r in log if r["event"] == "step"]
    assert len(steps) == 12 * 16
    assert sum(steps[-16:]) / 16 < 0.93 * sum(steps[:16]) / 16  # the loss went down
    epochs = [r for r in log if r["event"] == "epoch"]
    assert len(epochs) == 12 and all(r["data_wait_s"] >= 0 and r["compute_s"] > 0 for r in epochs)
    assert {"last.pt", "best.pt", "best_predictions.csv", "best_confusion_label.csv"} <= {
        p.name for p in out.iterdir()}
    with ResultStore(db, readonly=True) as store:
        (stored,) = store.rows(table="evaluations")
    assert stored["top1"] == row.top1 and stored["epochs"] == 12 and stored["clips"] == 32
    assert len(stored["checkpoint_sha256"]) == 64 and stored["train_wall_s"] > 0
    assert stored["best_epoch"] == max(epochs, key=lambda r: r["val_top1"])["epoch"]
    with pytest.raises(ValueError, match="already holds a run"):  # never overwrite a run
        Trainer(cfg)


def test_results_show_lists_evaluations(tmp_path, capsys):
    from litevid.results import Evaluation, ResultStore

    db = tmp_path / "r.db"
    with ResultStore(db) as store:
        store.insert(Evaluation(model="x3d_xs", dataset="ssv2", split="val", clips=10, top1=0.25,
                                top5=0.5, mean_class_acc=0.2, frames=16, size=224))
    assert main(["results", "show", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "evaluations" in out and "x3d_xs" in out and "0.2500" in out


def test_resume_after_sigkill_gives_the_same_weights(tiny, tmp_path):
    """Kill a run with SIGKILL mid-epoch, resume it: its final weights equal an uninterrupted
    run's, bit for bit (CPU, deterministic)."""
    args = ["--model", "_tiny_train_slow", "--epochs", "2", "--checkpoint-every", "2",
            "--lr", "1e-3", "--db", str(tmp_path / "r.db")]
    full = tmp_path / "full"
    subprocess.run(_train_cmd(*args, "--out", str(full)), check=True, env=_env(),
                   capture_output=True, timeout=300)

    cut = tmp_path / "cut"
    proc = subprocess.Popen(_train_cmd(*args, "--out", str(cut)), env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ckpt = cut / "last.pt"
    seen = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if ckpt.exists():
            from litevid.train.checkpoint import load_checkpoint

            try:
                state = load_checkpoint(ckpt)["state"]
            except ValueError:  # being replaced right now
                continue
            if state["epoch"] == 1 and state["batch_in_epoch"] > 0:  # mid-epoch 2
                proc.send_signal(signal.SIGKILL)
                seen = state
                break
        time.sleep(0.005)
    proc.wait(timeout=30)
    assert seen is not None, "the run ended before a mid-epoch checkpoint could be killed"
    assert proc.returncode == -signal.SIGKILL
    resumed = subprocess.run(_train_cmd(*args, "--resume", str(ckpt)), env=_env(),
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stdout
    a, b = _weights(full / "last.pt"), _weights(cut / "last.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # a changed configuration is refused without --force
    bad = subprocess.run(_train_cmd(*args, "--resume", str(ckpt), "--lr", "5e-4"), env=_env(),
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "configuration differs" in bad.stderr
    assert "lr: 0.001 -> 0.0005" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_two_gloo_processes_match_one_process(tmp_path):
    """DDP with 2 CPU processes (gloo), 2 clips each x 2 accumulation steps, against 1 process
    with 2 clips x 4 steps: same effective batch of 8, same samples per step, so the weights
    agree after 4 steps up to float32 summation order (rtol 1e-5, atol 1e-6)."""
    common = ["--model", "_tiny_train_net", "--batch-size", "2", "--max-steps", "4",
              "--epochs", "1", "--lr", "1e-3", "--db", str(tmp_path / "r.db")]
    one = tmp_path / "one"
    r = subprocess.run(_train_cmd(*common, "--out", str(one)), env=_env(), capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    two = tmp_path / "two"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "litevid", "train", *SMALL, *common, "--out", str(two)]
    r = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "batch 2 x 2 accumulation x 2 = 8" in r.stdout
    a, b = _weights(one / "last.pt"), _weights(two / "last.pt")
    assert all(torch.allclose(a[k], b[k], rtol=1e-5, atol=1e-6) for k in a)
    start = torch.load(one / "last.pt", weights_only=True)["state"]
    assert start["step"] == 4


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    out = tmp_path / "nan"
    env = {**_env(), "LITEVID_TEST_NAN_AFTER": "7"}
    r = subprocess.run(_train_cmd("--model", "_tiny_train_nan", "--epochs", "3",
                                  "--checkpoint-every", "1", "--out", str(out), "--db",
                                  str(tmp_path / "r.db")),
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 3 and "non-finite loss" in r.stderr
    weights = _weights(out / "last.pt")
    assert all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())
    state = torch.load(out / "last.pt", weights_only=True)["state"]
    assert 0 < state["step"] < 4  # 2 forwards a step: NaN at forward 7 = step 4


# ---- evaluation and prediction --------------------------------------------------------------

def _frame_folder(folder: Path, frames: list, start: int = 1) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        Image.fromarray(f).save(folder / f"img_{start + i:05d}.jpg")


@pytest.fixture(scope="module")
def ek100_fixture(tmp_path_factory):
    """The EK100 frame-folder list layout (``P01/rgb_frames/P01_01 start end verb noun``) with
    the real class files, and JPEG folders cut from a synthetic clip."""
    import numpy as np

    from litevid.data.synthetic import render_motion_clip

    root = tmp_path_factory.mktemp("ek100")
    rng = np.random.default_rng(0)
    lines = []
    for k, (verb, noun) in enumerate([(0, 1), (2, 3), (0, 3), (5, 1)]):
        path = f"P0{k + 1}/rgb_frames/P0{k + 1}_01"
        _frame_folder(root / path, list(render_motion_clip(k % 8, frames=12, size=48, rng=rng)))
        lines.append(f"{path} 1 12 {verb} {noun}")
    ann = root / "ek100_list.txt"
    ann.write_text("\n".join(lines) + "\n")
    return root, ann


@pytest.mark.skipif(not (SHARED / "annotations" / "ek100").is_dir(),
                    reason="../shared/data (EK100 class files) is absent")
def test_eval_on_the_ek100_layout_writes_predictions_and_confusion(tiny, tmp_path, ek100_fixture,
                                                                  capsys):
    from litevid import create_model
    from litevid.results import ResultStore

    root, ann = ek100_fixture
    classes = SHARED / "annotations" / "ek100"
    ckpt = tmp_path / "tiny_ek100.pt"
    torch.save(create_model("_tiny_train_net", num_classes={"verb": 97, "noun": 300}).state_dict(),
               ckpt)
    db, out = tmp_path / "r.db", tmp_path / "eval"
    rc = main(["eval", "_tiny_train_net", "--checkpoint", str(ckpt), "--dataset", "ek100",
               "--annotations", str(ann), "--train-annotations", str(ann), "--root", str(root),
               "--labels", str(classes), "--frames", "4", "--size", "32", "--workers", "0",
               "--out", str(out), "--db", str(db)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "verb: top-1" in text and "noun: top-1" in text and "action: top-1" in text
    rows = list(csv.DictReader(open(out / "predictions.csv")))
    assert len(rows) == 8 and {r["head"] for r in rows} == {"verb", "noun"}
    assert rows[0]["clip"] == "P01/rgb_frames/P01_01:1-12" and rows[0]["target_name"]
    conf = list(csv.reader(open(out / "confusion_noun.csv")))
    assert len(conf) == 301 and len(conf[0]) == 301  # header + 300 nouns
    assert sum(int(v) for row in conf[1:] for v in row[1:]) == 4
    with ResultStore(db, readonly=True) as store:
        (row,) = store.rows(table="evaluations")
    assert row["dataset"] == "ek100" and row["clips"] == 4 and row["metrics"]["verb"]["clips"] == 4
    assert row["annotations_sha256"] and row["epochs"] is None  # a plain state dict
    # a checkpoint of another class count or model: one clear error
    torch.save(create_model("_tiny_train_net", num_classes=5).state_dict(), ckpt)
    assert main(["eval", "_tiny_train_net", "--checkpoint", str(ckpt), "--dataset", "ek100",
                 "--annotations", str(ann), "--train-annotations", str(ann), "--root",
                 str(root), "--labels", str(classes), "--workers", "0", "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and str(ckpt) in err


@pytest.mark.skipif(not (SHARED / "annotations" / "ssv2").is_dir(),
                    reason="../shared/data (SSV2 labels) is absent")
def test_eval_of_a_trained_checkpoint_on_the_ssv2_layout(tiny, tmp_path, capsys):
    """Train briefly on the SSV2 frame-folder list layout (``video_id start end class``, the real
    labels JSON), then evaluate the training checkpoint with ``litevid eval``."""
    import numpy as np

    from litevid.data.synthetic import render_motion_clip

    root = tmp_path / "ssv2"
    rng = np.random.default_rng(1)
    lines = []
    for k in range(8):
        _frame_folder(root / str(1000 + k), list(render_motion_clip(k % 2, frames=10, size=40,
                                                                     rng=rng)))
        lines.append(f"{1000 + k} 1 10 {k % 2}")
    ann = tmp_path / "ssv2_list.txt"
    ann.write_text("\n".join(lines) + "\n")
    labels = SHARED / "annotations" / "ssv2" / "something-something-v2-labels.json"
    out = tmp_path / "run"
    cfg = TrainConfig(model="_tiny_train_net", dataset="ssv2", annotations=str(ann),
                      val_annotations=str(ann), root=str(root), labels=str(labels), frames=4,
                      size=32, batch_size=4, effective_batch=8, epochs=1, workers=0,
                      out=str(out), db=str(tmp_path / "r.db"), augment="off")
    from litevid.train.loop import Trainer

    Trainer(cfg).fit()
    rc = main(["eval", "_tiny_train_net", "--checkpoint", str(out / "best.pt"), "--dataset",
               "ssv2", "--annotations", str(ann), "--root", str(root), "--labels", str(labels),
               "--workers", "0", "--db", str(tmp_path / "r.db")])
    assert rc == 0
    text = capsys.readouterr().out
    assert "ssv2 val: 8 of 8 clips evaluated" in text and "4x32px" in text
    assert (out / "eval-ssv2" / "confusion_label.csv").exists()


@pytest.mark.skipif(not (SHARED / "videos" / "demo.mp4").is_file(),
                    reason="../shared/data/videos is absent")
def test_predict_on_real_videos_splits_the_time(tiny, tmp_path, capsys):
    from litevid import create_model

    ckpt = tmp_path / "tiny.pt"
    torch.save(create_model("_tiny_train_net", num_classes=3).state_dict(), ckpt)
    labels = tmp_path / "labels.txt"
    labels.write_text("arm wrestling\nbowling\ncooking\n")
    videos = [str(SHARED / "videos" / n) for n in ("demo.mp4", "test.avi")]
    db = tmp_path / "r.db"
    rc = main(["predict", *videos, "--model", "_tiny_train_net", "--checkpoint", str(ckpt),
               "--num-classes", "3", "--labels", str(labels), "--device", "cpu", "--db", str(db)])
    assert rc == 0
    text = capsys.readouterr().out
    assert text.count("decode ") == 2 and "arm wrestling" in text and "total" in text
    from litevid.results import ResultStore

    with ResultStore(db, readonly=True) as store:
        (row,) = store.rows(mode="end-to-end")
    assert row["n"] == 2 and set(row["breakdown_ms"]) == {"decode", "preprocess", "model"}
    assert main(["predict", videos[0], "--model", "_tiny_train_net", "--checkpoint", str(ckpt),
                 "--num-classes", "3", "--labels", str(tmp_path / "none.txt")]) == 2
    labels.write_text("one\ntwo\n")
    assert main(["predict", videos[0], "--model", "_tiny_train_net", "--checkpoint", str(ckpt),
                 "--num-classes", "3", "--labels", str(labels)]) == 2
    assert "2 class names, the model has 3" in capsys.readouterr().err
    rc = main(["predict", str(tmp_path / "missing.mp4"), "--model", "_tiny_train_net",
               "--checkpoint", str(ckpt), "--num-classes", "3", "--db", ""])
    assert rc == 1 and "missing.mp4" in capsys.readouterr().out


# ---- bad input ------------------------------------------------------------------------------

def test_bad_input_gives_one_line(tiny, tmp_path, capsys):
    def one_line(argv: list[str], *needles: str) -> None:
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, err
        for n in needles:
            assert n in err, err

    base = ["train", "--workers", "0", "--db", str(tmp_path / "r.db")]
    one_line([*base, "--model", "movinet_a00", "--out", str(tmp_path / "a")], "did you mean")
    one_line([*base, "--batch-size", "3", "--out", str(tmp_path / "b")], "not a multiple")
    one_line([*base, "--dataset", "k400", "--out", str(tmp_path / "c")], "--annotations")
    one_line([*base, "--dataset", "k4000"], "unknown dataset")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    one_line([*base, "--resume", str(junk)], "junk.pt")
    one_line([*base, "--resume", str(tmp_path / "none.pt")], "none.pt")
    # a checkpoint of another model
    from litevid.train.checkpoint import save_checkpoint

    other = tmp_path / "other.pt"
    save_checkpoint(other, {"config": {"model": "x3d_xs"}, "state": {}})
    one_line([*base, "--model", "_tiny_train_net", "--import", TINY, "--resume", str(other)],
             "checkpoint of model 'x3d_xs'")
    # an arbitrary pickled object is refused by the weights-only loader
    torch.save({"format": "x", "f": print}, junk)
    one_line(["eval", "x3d_xs", "--checkpoint", str(junk), "--dataset", "synthetic",
              "--db", str(tmp_path / "r.db")], "junk.pt")


def test_best_checkpoint_holds_weights_only_and_refuses_a_resumption(tiny, tmp_path, capsys):
    """best.pt is what eval, predict and export read (no optimizer or RNG state: a third of the
    size with AdamW); resuming from it is one clear error pointing at last.pt."""
    from litevid.train.checkpoint import load_checkpoint

    out, db = tmp_path / "run", tmp_path / "r.db"
    base = ["train", "--model", "_tiny_train_net", "--epochs", "1", "--num-clips", "16",
            "--batch-size", "4", "--effective-batch", "4", "--workers", "0", "--import",
            "_litevid_tiny_train", "--out", str(out), "--db", str(db)]
    assert main(base) == 0
    best, last = load_checkpoint(out / "best.pt"), load_checkpoint(out / "last.pt")
    assert "optimizer" not in best and "rng" not in best and "optimizer" in last
    assert best["model"].keys() == last["model"].keys() and best["num_classes"] == 8
    capsys.readouterr()
    assert main([*base[:-4], "--out", str(tmp_path / "other"), "--db", str(db), "--resume",
                 str(out / "best.pt")]) == 2
    assert "holds the weights only" in capsys.readouterr().err
