"""Evaluation as the study did it: one centre clip, one centre crop per video; the outputs to keep.

``evaluate`` runs a model over a loader (every rank its shard), reduces the counts over ranks and
returns the ``Evaluator`` (metrics, and on rank 0 every clip's top-5). ``write_outputs`` writes
the predictions file and one confusion matrix per head as CSV, atomically.
"""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

import torch
import torch.nn as nn
from torch.utils.data import DataLoader

from ..utils.io import atomic_write
from .data import clip_ids
from .distributed import DistContext
from .metrics import Evaluator

if TYPE_CHECKING:
    from ..devices import DeviceBackend

__all__ = ["ClipError", "evaluate", "store_evaluation", "to_device", "write_outputs"]


def to_device(target: Any, device: torch.device) -> Any:
    """Targets (a tensor, or a dict of them for named heads) on ``device``."""
    if isinstance(target, Mapping):
        return {k: v.to(device, non_blocking=True) for k, v in target.items()}
    return target.to(device, non_blocking=True)


class ClipError(ValueError):
    """A clip of the evaluated split could not be read (``on_error="raise"``)."""


@torch.no_grad()
def evaluate(model: nn.Module, loader: DataLoader, *, heads: int | Mapping[str, int],
             dist: DistContext, precision: str = "fp32",
             batch_transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
             keep_predictions: bool = True, on_error: str = "skip") -> tuple[Evaluator, float]:
    """Evaluate ``model`` on ``loader`` (built by ``data.eval_loader``).

    Only clips that decoded are scored; the others are listed in ``ev.failed`` (clip, reason)
    and clips read from files cut short in ``ev.warned``; ``ev.expected`` is the split's size.
    ``on_error="raise"`` stops at the first clip that cannot be read (``ClipError`` naming the
    file). Returns the evaluator (counts summed over ranks; predictions and lists gathered on
    rank 0) and the wall time in seconds.
    """
    if on_error not in ("skip", "raise"):
        raise ValueError(f"on_error must be 'skip' or 'raise', got {on_error!r}")
    t0 = time.perf_counter()
    was_training = model.training
    model.eval()
    ev = Evaluator(heads, keep_predictions=keep_predictions)
    dataset = getattr(loader.dataset, "dataset", loader.dataset)  # EvalClips wraps it
    ev.expected = len(dataset)  # type: ignore[arg-type]
    device = dist.device
    for batch in loader:
        if batch.failed and on_error == "raise":
            raise ClipError(batch.failed[0][1])
        ev.failed += [{"clip": c, "reason": why} for c, why in
                      zip(clip_ids(dataset, [i for i, _ in batch.failed]),
                          (why for _, why in batch.failed))]
        ev.warned += [{"clip": c, "reason": why} for c, why in
                      zip(clip_ids(dataset, [i for i, _ in batch.warned]),
                          (why for _, why in batch.warned))]
        if batch.clips is None:
            continue
        clips = batch.clips.to(device, non_blocking=True)
        if batch_transform is not None:
            clips = batch_transform(clips)
        with dist.backend.autocast(precision):
            out = model(clips)
        ev.add(out, to_device(batch.target, device), clip_ids(dataset, batch.indices))
    ev.reduce(dist.all_reduce_sum)
    if dist.enabled:
        kept = (ev.predictions, ev.failed, ev.warned)
        parts = dist.gather_objects(kept)
        if dist.is_main:
            ev.predictions, ev.failed, ev.warned = ([x for part in parts for x in part[k]]
                                                    for k in range(3))
        else:
            ev.predictions, ev.failed, ev.warned = [], [], []
    model.train(was_training)
    return ev, time.perf_counter() - t0


def write_outputs(ev: Evaluator, out_dir: str | Path, classes: Mapping[str, list[str]] | None,
                  prefix: str = "") -> list[Path]:
    """``{prefix}predictions.csv`` (clip, head, target, top-5 classes and softmax scores),
    ``{prefix}clip_problems.csv`` (clips not scored because they could not be read, and clips
    scored from a file cut short, with the reason; only the header when there were none) and
    ``{prefix}confusion_{head}.csv`` (rows: true class, columns: predicted class)."""
    out_dir = Path(out_dir)
    classes = classes or {}
    written = []

    def name(head: str, idx: int) -> str:
        names = classes.get(head)
        return names[idx] if names and 0 <= idx < len(names) else str(idx)

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["clip", "head", "target", "target_name"]
               + [f"{k}{i}" for i in range(1, 6) for k in ("top", "score")])
    for row in ev.predictions:
        for head in ev.heads:
            p = row[head]
            cells: list[Any] = [row["clip"], head, p["target"],
                                name(head, p["target"]) if p["target"] >= 0 else ""]
            for idx, score in zip(p["top5"], p["scores"]):
                cells += [name(head, idx), score]
            w.writerow(cells)
    path = out_dir / f"{prefix}predictions.csv"
    atomic_write(path, buf.getvalue())
    written.append(path)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["clip", "scored", "reason"])
    for status, items in (("no", ev.failed), ("yes", ev.warned)):
        for item in items:
            w.writerow([item["clip"], status, item["reason"]])
    path = out_dir / f"{prefix}clip_problems.csv"
    atomic_write(path, buf.getvalue())
    written.append(path)
    for head, counts in ev.counts.items():
        buf = io.StringIO()
        w = csv.writer(buf)
        labels = [name(head, i) for i in range(counts.num_classes)]
        w.writerow(["true \\ predicted", *labels])
        for i, row in enumerate(counts.confusion.tolist()):
            w.writerow([labels[i], *row])
        path = out_dir / f"{prefix}confusion_{head}.csv"
        atomic_write(path, buf.getvalue())
        written.append(path)
    return written


def store_evaluation(ev: Evaluator, db: str | Path, *, model: str, dataset: str, split: str,
                     frames: int, size: int, precision: str, eval_wall_s: float,
                     checkpoint: str | Path, annotations: str | None, device: DeviceBackend,
                     training: Mapping[str, Any], settings: dict[str, Any]) -> Any:
    """Write one ``Evaluation`` row (metrics, training cost, hashes, environment) to ``db``.

    ``training`` holds the checkpoint's history: ``epoch``, ``best_epoch``, ``elapsed_s``,
    ``time_to_best_s``, ``world_size`` and ``device_type`` (missing keys stay empty, as for a
    plain state dict).
    """
    from ..results import Evaluation, ResultStore
    from ..utils.hashing import file_sha256

    summary = ev.summary()
    wall, world = training.get("elapsed_s"), training.get("world_size")
    row = Evaluation(
        model=model, dataset=dataset, split=split,
        clips=summary["action" if ev.epic else next(iter(ev.heads))]["clips"],
        clips_total=ev.expected, failed_clips=list(ev.failed), clip_warnings=list(ev.warned),
        frames=frames, size=size, precision=precision, top1=summary["top1"],
        top5=summary["top5"], mean_class_acc=summary["mean_class_acc"], metrics=summary,
        epochs=training.get("epoch"), best_epoch=training.get("best_epoch"), train_wall_s=wall,
        time_to_best_s=training.get("time_to_best_s"),
        gpu_hours=(wall * (world or 1) / 3600
                   if training.get("device_type") == "cuda" and wall is not None else None),
        world_size=world, eval_wall_s=eval_wall_s, checkpoint=str(checkpoint),
        checkpoint_sha256=file_sha256(checkpoint), annotations=annotations,
        annotations_sha256=file_sha256(annotations) if annotations else None,
        settings={**settings, "num_classes": dict(ev.heads)})  # the chance level of the scores
    row.set_environment(device.environment())
    with ResultStore(db) as store:
        store.insert(row)
    return row
