"""``litevid train``, ``litevid eval`` and ``litevid predict``: thin verbs over ``litevid.train``.

``train`` flags are generated from ``TrainConfig``, ``eval`` flags from ``EvalConfig`` (the
evaluation itself is ``eval_run.run_evaluation``, callable from Python). Several GPUs or
machines: start the same command with PyTorch's launcher, ``torchrun --nproc_per_node=N -m
litevid train ...``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..utils.config import add_arguments, check_paths, from_args, int_at_least
from ..utils.paths import check_results_db
from .config import KEEP_HEAD_HELP, EvalConfig, TrainConfig

__all__ = ["add_parser"]

_SHOW_CLIPS = 10  # clips listed on the terminal per kind of problem (all in clip_problems.csv)


def _cmd_train(args: argparse.Namespace) -> int:
    from .loop import NonFiniteLoss, Trainer

    import dataclasses

    cfg = from_args(TrainConfig, args)
    check_paths(cfg)  # --out, --db: before the model is built
    explicit = {f.name for f in dataclasses.fields(TrainConfig)
                if getattr(args, f.name, None) is not None}
    trainer = Trainer(cfg, explicit=explicit)
    try:
        trainer.fit()
    except NonFiniteLoss as exc:
        print(f"litevid train: error: {exc}", file=sys.stderr)
        return 3
    finally:
        trainer.dist.close()
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from .eval_run import run_evaluation

    cfg = from_args(EvalConfig, args)
    outcome = run_evaluation(cfg)
    if outcome is None:  # not rank 0 of a torchrun launch: rank 0 reports
        return 0
    ev = outcome.evaluator
    summary = ev.summary()
    print(f"{cfg.model} on {cfg.dataset} {cfg.split}: {ev.evaluated} of {outcome.dataset_size} "
          f"clips evaluated, single view, single crop, {outcome.frames}x{outcome.size}px, "
          f"{outcome.wall_s:.1f} s")
    for head in [*ev.heads, *(["action"] if ev.epic else [])]:
        m = summary[head]
        mca = f", mean class accuracy {m['mean_class_acc']:.4f}" if "mean_class_acc" in m else ""
        print(f"  {head}: top-1 {m['top1']:.4f}, top-5 {m['top5']:.4f}{mca} ({m['clips']} clips)")
    for kind, items in (("not evaluated", ev.failed), ("evaluated with a warning", ev.warned)):
        if items:
            print(f"  {len(items)} clip(s) {kind}:")
            for item in items[:_SHOW_CLIPS]:
                print(f"    {item['clip']}: {item['reason']}")
            if len(items) > _SHOW_CLIPS:
                print(f"    ... {len(items) - _SHOW_CLIPS} more in clip_problems.csv")
    print(f"  wrote {', '.join(str(p) for p in outcome.written)}; row added to {cfg.db}")
    return 1 if outcome.failed else 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from ..devices import get_backend
    from ..results import Measurement, ResultStore
    from ..results.stats import summarize
    from .predict import load_for_inference, predict_files, read_label_file

    if args.db:
        check_results_db(args.db, "--db")
    device = get_backend(args.device)
    device.set_current()  # cuda:N: N's streams, and synchronize() waits for N
    loaded = load_for_inference(args.model, args.checkpoint, device=device.device,
                                num_classes=args.num_classes, frames=args.frames, size=args.size,
                                keep_head=args.keep_head)
    classes = None
    if args.labels:
        names = read_label_file(args.labels)
        heads = loaded.num_classes
        width = heads if isinstance(heads, int) else None
        if width is not None and width != len(names):
            raise ValueError(f"{args.labels}: {len(names)} class names, the model has {width} "
                             "classes")
        classes = {"label": names}
    results = predict_files(loaded, args.videos, device=device, classes=classes, top=args.top)
    ok = [r for r in results if "error" not in r]
    for r in results:
        if "error" in r:
            print(f"{r['video']}: error: {r['error']}")
            continue
        ms = r["ms"]
        print(f"{r['video']}: decode {ms['decode']:.1f} ms, preprocess {ms['preprocess']:.1f} ms, "
              f"model {ms['model']:.1f} ms, total {ms['total']:.1f} ms")
        for head, top in r["top"].items():
            label = "" if head == "label" else f"{head} "
            print("  " + label + "; ".join(f"{t['name']} {t['score']:.3f}" for t in top))
    if ok and args.db:
        totals = [r["ms"]["total"] for r in ok]
        row = Measurement(
            model=args.model, mode="end-to-end", batch=1, requested_batch=1,
            frames=loaded.frames, size=loaded.size,
            input_shape=f"3x{loaded.frames}x{loaded.size}x{loaded.size}", precision="fp32",
            settings={"videos": [r["video"] for r in ok], "checkpoint": str(args.checkpoint),
                      "stages": "decode (open, sample, decode+resize), preprocess (crop, "
                                "normalise, to device), model (forward)"})
        row.set_environment(device.environment())
        row.set_latency(summarize(totals), totals)
        row.timer = device.host_timer().kind
        row.breakdown_ms = {k: sum(r["ms"][k] for r in ok) / len(ok)
                            for k in ("decode", "preprocess", "model")}
        with ResultStore(args.db) as store:
            store.insert(row)
        print(f"end-to-end row added to {args.db} ({len(ok)} file(s), median "
              f"{row.median_ms:.1f} ms)")
    return 1 if len(ok) < len(results) else 0


def add_parser(subparsers: Any) -> None:
    t = subparsers.add_parser(
        "train", help="train a model under the study's uniform recipe",
        description="Train under the study's recipe (section 4.1): local initial weights, mixed "
                    "precision on CUDA, effective batch 32, lr 1e-4..3e-4 by category, weight "
                    "decay 1e-5, x0.1 on a 2-epoch plateau of validation top-1, up to 35 epochs. "
                    "With no arguments: a small model on the built-in synthetic dataset, a few "
                    "minutes on a CPU. Several GPUs: torchrun --nproc_per_node=N -m litevid "
                    "train ...")
    add_arguments(t, TrainConfig)
    t.set_defaults(func=_cmd_train)

    e = subparsers.add_parser(
        "eval", help="evaluate a checkpoint on a dataset split (single view, single crop)",
        description="Top-1/top-5 and mean class accuracy (EK100: verb, noun and action) with the "
                    "study's protocol: one clip of segment centres, one centre crop. Writes "
                    "predictions.csv and confusion_<head>.csv and a row in the results store.")
    add_arguments(e, EvalConfig)  # MODEL positional; --checkpoint, --dataset required
    e.set_defaults(func=_cmd_eval)

    p = subparsers.add_parser(
        "predict", help="top-5 classes of video files, with decode / preprocess / model times",
        description="End-to-end inference on video files or frame folders: the top classes of "
                    "each, and the time split into decode, preprocess and model.")
    p.add_argument("videos", nargs="+", help="video files or frame folders")
    p.add_argument("--model", required=True, help="registry name")
    p.add_argument("--checkpoint", required=True, help="litevid checkpoint (or a state dict)")
    p.add_argument("--keep-head", action="store_true", help=KEEP_HEAD_HELP)
    p.add_argument("--labels", help="class names, one a line (default: the checkpoint's)")
    p.add_argument("--num-classes", type=int_at_least(1),
                   help="classifier width of a plain state dict")
    p.add_argument("--frames", type=int_at_least(1), help="clip length (default: the "
                   "checkpoint's, else the model's)")
    p.add_argument("--size", type=int_at_least(1), help="crop size (default: the checkpoint's, "
                   "else the model's)")
    p.add_argument("--top", type=int_at_least(1), default=5,
                   help="classes shown per video (default 5)")
    p.add_argument("--device", default="auto")
    p.add_argument("--db", default="litevid-results.db",
                   help="results store for the end-to-end row ('' to skip)")
    p.set_defaults(func=_cmd_predict)
