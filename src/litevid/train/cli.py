"""``litevid train``, ``litevid eval`` and ``litevid predict``: thin verbs over ``litevid.train``.

``train`` flags are generated from ``TrainConfig``. Several GPUs or machines: start the same
command with PyTorch's launcher, ``torchrun --nproc_per_node=N -m litevid train ...``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..utils.config import add_arguments, check_paths, from_args, int_at_least
from ..utils.paths import check_results_db, check_writable_dir
from .config import TrainConfig

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
    check_results_db(args.db, "--db")  # before the evaluation, not after it
    check_writable_dir(args.out or Path(args.checkpoint).parent / f"eval-{args.dataset}",
                       "--out" if args.out else "--out (default)")
    from ..data import build_dataset, dataset_spec
    from .data import eval_loader, model_heads
    from .distributed import DistContext
    from .evaluate import evaluate, store_evaluation, write_outputs
    from .predict import load_for_inference, read_training_checkpoint

    dist = DistContext.from_env(args.device)
    dspec = dataset_spec(args.dataset)
    if dspec.builder is None and args.annotations is None:
        raise ValueError(f"dataset {args.dataset!r} needs --annotations (the split to evaluate)")
    meta = read_training_checkpoint(args.checkpoint)  # its clip shape is the default
    ds = build_dataset(args.dataset, args.split, annotations=args.annotations, root=args.root,
                       labels=args.labels, train_annotations=args.train_annotations,
                       model=args.model, frames=args.frames or meta.get("frames"),
                       size=args.size or meta.get("size"), augment="batch",
                       num_clips=args.num_clips)
    heads = model_heads(ds, dspec.action_map is not None)
    loaded = load_for_inference(args.model, args.checkpoint, device=dist.device,
                                num_classes=heads, frames=ds.frames, size=ds.size,
                                preloaded=meta, keep_head=args.keep_head)
    precision = dist.backend.choose_precision(args.precision).precision
    aug = ds.batch_transform.to(dist.device).eval() if ds.batch_transform is not None else None
    loader = eval_loader(ds, batch_size=args.batch_size, workers=args.workers, dist=dist)
    ev, wall = evaluate(loaded.model, loader, heads=heads, dist=dist,
                        precision=precision, batch_transform=aug, on_error=args.on_error)
    summary = ev.summary()
    if not dist.is_main:
        dist.close()
        return 0
    out = Path(args.out) if args.out else Path(args.checkpoint).parent / f"eval-{args.dataset}"
    out.mkdir(parents=True, exist_ok=True)
    classes = getattr(ds, "classes", None) or loaded.classes
    written = write_outputs(ev, out, classes)
    ckpt = loaded.checkpoint
    store_evaluation(
        ev, args.db, model=args.model, dataset=args.dataset, split=args.split, frames=ds.frames,
        size=ds.size, precision=precision, eval_wall_s=wall, checkpoint=args.checkpoint,
        annotations=args.annotations, device=dist.backend,
        training={**ckpt.get("state", {}), "world_size": ckpt.get("world_size"),
                  "device_type": ckpt.get("device_type")},
        settings={"eval_args": {k: v for k, v in vars(args).items() if k != "func"},
                  "train_config": ckpt.get("config")})
    print(f"{args.model} on {args.dataset} {args.split}: {ev.evaluated} of {len(ds)} clips "
          f"evaluated, single view, single crop, {ds.frames}x{ds.size}px, {wall:.1f} s")
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
    print(f"  wrote {', '.join(str(p) for p in written)}; row added to {args.db}")
    dist.close()
    return 1 if ev.failed else 0


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


_KEEP_HEAD = ("--checkpoint is a published video checkpoint (torchvision, official release, "
              "Hugging Face; litevid weights inspect names it): use it with its own classifier, "
              "e.g. Kinetics-400's 400 classes")


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
    e.add_argument("model", help="registry name the checkpoint was trained as")
    e.add_argument("--checkpoint", required=True, help="litevid checkpoint (or a state dict)")
    e.add_argument("--keep-head", action="store_true", help=_KEEP_HEAD)
    e.add_argument("--dataset", required=True, help="registered dataset")
    e.add_argument("--annotations", help="annotation file of the split to evaluate")
    e.add_argument("--root", help="folder of the videos / frame folders")
    e.add_argument("--labels", help="the dataset's class file")
    e.add_argument("--train-annotations", help="EK100: the training file that defines action ids")
    e.add_argument("--split", default="val", help="split name (default val)")
    e.add_argument("--frames", type=int_at_least(1), help="clip length (default: the "
                   "checkpoint's)")
    e.add_argument("--size", type=int_at_least(1), help="crop size (default: the checkpoint's)")
    e.add_argument("--batch-size", type=int_at_least(1), default=8)
    e.add_argument("--workers", type=int_at_least(0), default=2,
                   help="data loader processes (0: the main process; default 2)")
    e.add_argument("--device", default="auto")
    e.add_argument("--precision", default="auto", choices=("auto", "fp32", "amp-fp16",
                                                           "amp-bf16"))
    e.add_argument("--on-error", default="skip", choices=("skip", "raise"),
                   help="a clip that cannot be read: leave it out of the scores and list it "
                        "(skip: the exit status is then 1) or stop at the first (raise). A clip "
                        "is never replaced by another")
    e.add_argument("--num-clips", type=int_at_least(1), help="synthetic only: clips to "
                   "evaluate")
    e.add_argument("--out", help="folder for predictions and confusion matrices (default: "
                                 "eval-<dataset> beside the checkpoint)")
    e.add_argument("--db", default="litevid-results.db", help="results store")
    e.set_defaults(func=_cmd_eval)

    p = subparsers.add_parser(
        "predict", help="top-5 classes of video files, with decode / preprocess / model times",
        description="End-to-end inference on video files or frame folders: the top classes of "
                    "each, and the time split into decode, preprocess and model.")
    p.add_argument("videos", nargs="+", help="video files or frame folders")
    p.add_argument("--model", required=True, help="registry name")
    p.add_argument("--checkpoint", required=True, help="litevid checkpoint (or a state dict)")
    p.add_argument("--keep-head", action="store_true", help=_KEEP_HEAD)
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
