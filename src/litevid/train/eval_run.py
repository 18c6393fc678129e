"""One evaluation from an ``EvalConfig``: what ``litevid eval`` does, callable from Python.

``run_evaluation(cfg)`` checks the output paths, builds the split, loads the checkpoint, evaluates
(single view, single crop), writes the predictions and confusion matrices and adds one
``Evaluation`` row to the results store. It prints nothing; it returns an ``EvalOutcome`` that
``litevid eval`` (or a study runner) reports from. Under torchrun every rank evaluates its shard
and only rank 0 writes; the other ranks get ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..utils.paths import check_results_db, check_writable_dir
from .config import EvalConfig

if TYPE_CHECKING:
    from .metrics import Evaluator

__all__ = ["EvalOutcome", "run_evaluation"]

# settings keys the evaluation itself writes; extra_settings may not replace them
_OWN_SETTINGS = ("eval_args", "train_config")


@dataclass
class EvalOutcome:
    """What one evaluation produced (on rank 0).

    Attributes:
        row: the ``Evaluation`` row added to ``cfg.db`` (metrics, hashes, environment).
        evaluator: the ``Evaluator``: per-head counts, predictions, failed and warned clips.
        dataset_size: clips in the evaluated split (``evaluator.evaluated`` of them scored).
        frames: clip length the split was read at.
        size: crop size the split was read at.
        wall_s: seconds the evaluation loop took.
        written: the files written under ``out``.
        out: the folder of ``written``.
        failed: clips that could not be read, ``{"clip", "reason"}`` (not scored).
    """

    row: Any
    evaluator: Evaluator
    dataset_size: int
    frames: int
    size: int
    wall_s: float
    written: list[Path]
    out: Path
    failed: list[dict[str, str]]


def run_evaluation(cfg: EvalConfig, *,
                   extra_settings: dict[str, Any] | None = None) -> EvalOutcome | None:
    """Evaluate ``cfg.checkpoint`` on ``cfg.dataset``'s ``cfg.split`` and store the result.

    Args:
        cfg: the evaluation's settings (``litevid eval``'s flags).
        extra_settings: merged at the top level of the stored row's ``settings`` beside
            ``eval_args`` and ``train_config`` (e.g. ``{"study": {...}}``); it may not replace
            those two.

    Returns:
        The outcome on rank 0 (always, in a single process); ``None`` on the other ranks.

    Raises:
        ValueError / FileNotFoundError: an unusable ``--db`` or ``--out`` (before any work), an
            unknown model or dataset, a checkpoint that does not fit, missing annotations.
        evaluate.ClipError: with ``on_error="raise"``, the first clip that cannot be read.
    """
    extra = dict(extra_settings or {})
    clash = sorted(set(extra) & set(_OWN_SETTINGS))
    if clash:
        raise ValueError(f"extra_settings may not replace {clash}")
    check_results_db(cfg.db, "--db")  # before the evaluation, not after it
    out = cfg.out_dir()
    check_writable_dir(out, "--out" if cfg.out else "--out (default)")
    from ..data import build_dataset, dataset_spec
    from .data import eval_loader, model_heads
    from .distributed import DistContext
    from .evaluate import evaluate, store_evaluation, write_outputs
    from .predict import load_for_inference, read_training_checkpoint

    dist = DistContext.from_env(cfg.device)
    try:
        dspec = dataset_spec(cfg.dataset)
        if dspec.builder is None and cfg.annotations is None:
            raise ValueError(f"dataset {cfg.dataset!r} needs --annotations (the split to "
                             "evaluate)")
        meta = read_training_checkpoint(cfg.checkpoint)  # its clip shape is the default
        ds = build_dataset(cfg.dataset, cfg.split, annotations=cfg.annotations, root=cfg.root,
                           labels=cfg.labels, train_annotations=cfg.train_annotations,
                           model=cfg.model, frames=cfg.frames or meta.get("frames"),
                           size=cfg.size or meta.get("size"), augment="batch",
                           num_clips=cfg.num_clips)
        heads = model_heads(ds, dspec.action_map is not None)
        loaded = load_for_inference(cfg.model, cfg.checkpoint, device=dist.device,
                                    num_classes=heads, frames=ds.frames, size=ds.size,
                                    preloaded=meta, keep_head=cfg.keep_head)
        precision = dist.backend.choose_precision(cfg.precision).precision
        aug = (ds.batch_transform.to(dist.device).eval() if ds.batch_transform is not None
               else None)
        loader = eval_loader(ds, batch_size=cfg.batch_size, workers=cfg.workers, dist=dist)
        ev, wall = evaluate(loaded.model, loader, heads=heads, dist=dist, precision=precision,
                            batch_transform=aug, on_error=cfg.on_error)
        if not dist.is_main:
            return None
        out.mkdir(parents=True, exist_ok=True)
        classes = getattr(ds, "classes", None) or loaded.classes
        written = write_outputs(ev, out, classes)
        ckpt = loaded.checkpoint
        row = store_evaluation(
            ev, cfg.db, model=cfg.model, dataset=cfg.dataset, split=cfg.split, frames=ds.frames,
            size=ds.size, precision=precision, eval_wall_s=wall, checkpoint=cfg.checkpoint,
            annotations=cfg.annotations, device=dist.backend,
            training={**ckpt.get("state", {}), "world_size": ckpt.get("world_size"),
                      "device_type": ckpt.get("device_type")},
            settings={"eval_args": cfg.to_dict(), "train_config": ckpt.get("config"), **extra})
        return EvalOutcome(row=row, evaluator=ev, dataset_size=len(ds), frames=ds.frames,
                           size=ds.size, wall_s=wall, written=written, out=out,
                           failed=list(ev.failed))
    finally:
        dist.close()
