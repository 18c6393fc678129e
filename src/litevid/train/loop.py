"""The training loop of the study's uniform recipe (``TrainConfig``), resumable to the bit.

``Trainer(cfg).fit()`` runs: set up (processes, seeds, data, model, optimizer, scaler, plateau
scheduler; or everything from ``--resume``) -> per epoch: train (gradient accumulation up to the
effective batch, autocast, loss scaling for fp16, a checkpoint every N steps) -> evaluate on the
validation split -> step the plateau scheduler -> keep the best weights, their predictions and
confusion matrices -> checkpoint -> stop at the last epoch, when the learning rate falls below
the floor, or at ``max_steps`` -> one ``Evaluation`` row in the results store.

What is logged: a progress bar per epoch (one plain line per epoch when stdout is not a
terminal), ``log.jsonl`` in the run folder always (step records, one record per epoch with
validation metrics, learning rate, clips/s, data-wait and compute time, skipped clips), and
TensorBoard scalars with ``--tensorboard``. Only rank 0 writes. A resumed run first drops the
records a killed session logged past its checkpoint's step, so each step is logged once.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import __version__
from ..utils.registry import import_modules
from .checkpoint import capture_rng, load_checkpoint, restore_rng, save_checkpoint
from .config import TrainConfig, accumulation_steps, apply_dataset_defaults
from .data import SeededClips, eval_loader, model_heads, train_loader
from .distributed import DistContext
from .evaluate import evaluate, store_evaluation, to_device, write_outputs
from .metrics import IGNORE_INDEX

__all__ = ["NonFiniteLoss", "RunState", "Trainer", "loss_fn", "lr_exhausted",
           "plateau_scheduler"]


class NonFiniteLoss(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass
class RunState:
    """Where a run stands; saved in every checkpoint."""

    epoch: int = 0  # epochs completed
    step: int = 0  # optimizer steps done in all
    batch_in_epoch: int = 0  # micro-batches of the current epoch already trained on
    best_top1: float = -1.0
    best_epoch: int | None = None
    time_to_best_s: float | None = None
    elapsed_s: float = 0.0  # training wall time over all sessions (evaluations included)
    history: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str | None = None


def loss_fn(out: torch.Tensor | Mapping[str, torch.Tensor],
            target: torch.Tensor | Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Cross-entropy, summed over named heads; targets equal to ``IGNORE_INDEX`` (-1: unknown
    labels, e.g. EK100 verb-noun pairs unseen in training) do not count."""
    if isinstance(out, Mapping):
        return sum(F.cross_entropy(o.float(), target[h], ignore_index=IGNORE_INDEX)
                   for h, o in out.items())
    return F.cross_entropy(out.float(), target, ignore_index=IGNORE_INDEX)


def plateau_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig) -> Any:
    """The study's schedule: x ``plateau_factor`` once validation top-1 (``step(top1)``) has not
    improved for ``plateau_patience`` epochs."""
    # torch's ``patience`` counts the epochs it ignores: reducing after N epochs without
    # improvement is patience N - 1.
    return torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="max", factor=cfg.plateau_factor,
        patience=max(cfg.plateau_patience - 1, 0))


def lr_exhausted(optimizer: torch.optim.Optimizer, cfg: TrainConfig) -> bool:
    """True once the plateau schedule has reduced the learning rate below ``lr_floor``."""
    return optimizer.param_groups[0]["lr"] < cfg.lr_floor


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on weights only: biases and norm scales (1-D tensors) are not decayed."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


class Trainer:
    """One training run. ``fit()`` returns the ``Evaluation`` row (rank 0) or ``None``.

    Args:
        cfg: the run configuration; the dataset's ``train_defaults`` fill the fields not set
            (``apply_dataset_defaults``).
        explicit: the fields set on the command line (default: those differing from the
            dataclass defaults).
        progress: a ``utils.console.JobProgress`` (default: live on a terminal, a line per epoch
            otherwise; none on ranks other than 0).
    """

    def __init__(self, cfg: TrainConfig, *, explicit: set[str] | None = None,
                 progress: Any = None) -> None:
        import_modules(cfg.import_modules)
        self.cfg, self.dataset_defaults = apply_dataset_defaults(cfg, explicit)
        self.progress = progress
        self.state = RunState()
        self._session_t0 = time.monotonic()
        self._setup()

    # ---- set-up ------------------------------------------------------------------------------

    def _setup(self) -> None:
        from ..data import build_dataset, dataset_spec
        from ..models import create_model, model_spec

        cfg = self.cfg
        resumed = load_checkpoint(cfg.resume) if cfg.resume else None
        if resumed is not None:
            self._check_resume(resumed)
        self.dist = DistContext.from_env(cfg.device)
        backend, dev = self.dist.backend, self.dist.device
        torch.manual_seed(cfg.seed)
        backend.configure(deterministic=cfg.deterministic)
        if cfg.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
        self.spec = model_spec(cfg.model)
        dspec = dataset_spec(cfg.dataset)
        self.precision_choice = backend.choose_precision(cfg.precision)
        self.precision = self.precision_choice.precision
        self.accum = accumulation_steps(cfg.effective_batch, cfg.batch_size, self.dist.world_size)
        self.out = Path(cfg.out) if cfg.out else (
            Path(cfg.resume).parent if cfg.resume else Path(f"runs/{cfg.model}-{cfg.dataset}"))
        if self.dist.is_main:
            self._prepare_out_dir(resumed)

        generated = dspec.builder is not None
        if not generated and (cfg.annotations is None or cfg.val_annotations is None):
            raise ValueError(f"dataset {cfg.dataset!r} needs --annotations (training split) and "
                             "--val-annotations (validation split: the plateau schedule and the "
                             "best checkpoint follow validation top-1)")
        common = dict(labels=cfg.labels, model=cfg.model, frames=cfg.frames, size=cfg.size,
                      augment=cfg.augment, seed=cfg.seed)
        if generated:
            val_clips = max(cfg.num_clips // 4, 1) if cfg.num_clips else None
            train_ds = build_dataset(cfg.dataset, "train", num_clips=cfg.num_clips, **common)
            self.val_ds = build_dataset(cfg.dataset, "val", num_clips=val_clips, **common)
        else:
            train_ds = build_dataset(cfg.dataset, "train", annotations=cfg.annotations,
                                     root=cfg.root, **common)
            self.val_ds = build_dataset(cfg.dataset, "val", annotations=cfg.val_annotations,
                                        root=cfg.val_root or cfg.root,
                                        train_annotations=cfg.annotations, **common)
        self.train_ds = SeededClips(train_ds, cfg.seed)
        self.heads = model_heads(train_ds, dspec.action_map is not None)
        self.classes = getattr(train_ds, "classes", None)
        self.frames, self.size = train_ds.frames, train_ds.size
        self.workers = cfg.workers if cfg.workers is not None else min(
            8, max(1, (os.cpu_count() or 1) // max(1, _local_world())))
        per_rank = len(train_ds) // self.dist.world_size
        self.steps_per_epoch = per_rank // (cfg.batch_size * self.accum)
        if self.steps_per_epoch < 1:
            raise ValueError(f"{len(train_ds)} training clips make no full optimizer step of "
                             f"{cfg.effective_batch} clips over {self.dist.world_size} process(es)")

        model = create_model(cfg.model, num_classes=self.heads, frames=self.frames,
                             size=self.size, pretrained=cfg.pretrained,
                             pretrained_min_share=cfg.pretrained_min_share,
                             **(resumed or {}).get("model_args", {}))
        if cfg.pretrained is not None:
            report = model.load_report
            self._say(f"weights from {cfg.pretrained}: {report.summary()}"
                      + (f" ({report.details()})" if report.details() else "")
                      + (f"; layout {report.layout}" if report.layout else ""))
            for note in report.notes:
                self._say(f"  {note}")
        if cfg.pretrained is None and not self.spec.init.from_scratch and resumed is None:
            self._say(f"note: {cfg.model} starts from random weights; the study initialised it "
                      f"from {self.spec.init.describe()} (pass --pretrained FILE)")
        self.model = model.to(dev)
        self.ddp: nn.Module = self.model
        if self.dist.enabled:
            self.ddp = nn.parallel.DistributedDataParallel(
                self.model, device_ids=None if dev.index is None else [dev.index])
        self.train_aug = (train_ds.batch_transform.to(dev)
                          if getattr(train_ds, "batch_transform", None) is not None else None)
        self.val_aug = (self.val_ds.batch_transform.to(dev).eval()
                        if getattr(self.val_ds, "batch_transform", None) is not None else None)
        self.lr = cfg.lr if cfg.lr is not None else self.spec.lr
        groups = _param_groups(self.model, cfg.weight_decay)
        if cfg.optimizer == "adamw":
            self.optimizer: torch.optim.Optimizer = torch.optim.AdamW(groups, lr=self.lr)
        else:
            self.optimizer = torch.optim.SGD(groups, lr=self.lr, momentum=cfg.momentum,
                                             nesterov=True)
        self.scheduler = plateau_scheduler(self.optimizer, cfg)
        self.scaler = backend.grad_scaler(self.precision, always=True)  # enabled for fp16 only
        self.val_loader = eval_loader(self.val_ds, batch_size=cfg.batch_size,
                                      workers=self.workers, dist=self.dist)
        if self.dist.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
        self.tb = None
        if cfg.tensorboard and self.dist.is_main:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise ValueError("--tensorboard needs the tensorboard package: "
                                 "pip install 'litevid[tensorboard]'") from None
            self.tb = SummaryWriter(str(self.out / "tensorboard"))
        if resumed is not None:
            self._restore(resumed)

    def _check_resume(self, ckpt: dict[str, Any]) -> None:
        cfg = self.cfg
        saved = ckpt.get("config", {})
        if saved.get("model") != cfg.model:
            raise ValueError(f"{cfg.resume}: checkpoint of model {saved.get('model')!r}, not "
                             f"{cfg.model!r}")
        if "optimizer" not in ckpt:
            raise ValueError(f"{cfg.resume}: holds the weights only (a best.pt, or a plain state "
                             "dict), not the optimizer and data-order state a resumption needs; "
                             "resume from the run's last.pt")
        diff = cfg.differences(saved)
        if diff and not cfg.force:
            text = ", ".join(f"{k}: {a!r} -> {b!r}" for k, a, b in
                             ((k, *v) for k, v in sorted(diff.items())))
            raise ValueError(f"{cfg.resume}: configuration differs from the checkpoint's "
                             f"({text}); resume with the same settings or pass --force")

    def _prepare_out_dir(self, resumed: dict[str, Any] | None) -> None:
        """Refuse an unusable run folder before any work; it is created once the set-up has
        succeeded (``_setup``), so a failed start leaves nothing behind."""
        if self.out.exists() and not self.out.is_dir():
            raise ValueError(f"--out {self.out}: exists and is not a folder")
        last = self.out / "last.pt"
        if resumed is None and last.exists():
            raise ValueError(f"{self.out} already holds a run ({last}); continue it with "
                             f"--resume {last}, or choose another --out")

    def _restore(self, ckpt: dict[str, Any]) -> None:
        want = ckpt.get("num_classes")
        if want != self.heads:
            raise ValueError(f"{self.cfg.resume}: checkpoint has classifier {want}, this run "
                             f"builds {self.heads}")
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        self.scaler.load_state_dict(ckpt["scaler"])
        self.state = RunState(**ckpt["state"])
        restore_rng(self._rng_to_restore(ckpt), self.dist.backend)
        self._log({"event": "resumed", "from": str(self.cfg.resume), "epoch": self.state.epoch,
                   "step": self.state.step, "batch_in_epoch": self.state.batch_in_epoch})
        self._say(f"resumed from {self.cfg.resume}: epoch {self.state.epoch}, step "
                  f"{self.state.step}, {self.state.batch_in_epoch} micro-batches into the epoch")

    def _rng_to_restore(self, ckpt: dict[str, Any]) -> dict[str, Any]:
        """This rank's saved RNG states. A run saved by N processes resumes exactly with N; with
        another number it resumes only from an epoch boundary (the shard each process has
        seen depends on N), with rank 0's streams on every rank, which is said."""
        saved_world = int(ckpt.get("world_size") or 1)
        per_rank = ckpt.get("rng_per_rank") or [ckpt["rng"]]
        world, rank = self.dist.world_size, self.dist.rank
        if saved_world == world and len(per_rank) == world:
            return per_rank[rank]
        if saved_world != world and self.state.batch_in_epoch:
            raise ValueError(
                f"{self.cfg.resume}: saved by {saved_world} process(es) "
                f"{self.state.batch_in_epoch} micro-batches into epoch {self.state.epoch + 1}; "
                f"which clips each process has trained on depends on the number of processes, "
                f"so it resumes exactly only with {saved_world} (torchrun --nproc_per_node="
                f"{saved_world}, one GPU each), or from a checkpoint saved at the end of an epoch")
        if saved_world != world:
            self._say(f"note: {self.cfg.resume} was saved by {saved_world} process(es), resumed "
                      f"with {world}: continuing at the epoch boundary with rank 0's random "
                      f"streams on every rank (not bit-identical to a {saved_world}-process run)")
        return per_rank[0]

    # ---- output ------------------------------------------------------------------------------

    def _say(self, text: str) -> None:
        if getattr(self, "dist", None) is None or self.dist.is_main:
            print(text, flush=True)

    def _log(self, record: dict[str, Any]) -> None:
        if not self.dist.is_main:
            return
        if not getattr(self, "_log_trimmed", False):
            self._trim_log()
        record = {"time": round(self._elapsed(), 3), **record}
        with open(self.out / "log.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(record, default=str) + "\n")
        if self.tb is not None:
            kind = record.get("event", "")
            for k, v in record.items():
                if isinstance(v, (int, float)) and k not in ("time", "step", "epoch"):
                    self.tb.add_scalar(f"{kind}/{k}", v, record.get("step", self.state.step))

    def _trim_log(self) -> None:
        """Before this session's first record: drop from ``log.jsonl`` what an earlier session
        logged past the step this one starts from (a run killed after its last checkpoint, or
        before its first), and a last line torn by the kill, so every step is logged once.
        Rewritten atomically; other lines are kept as they are."""
        from ..utils.io import atomic_write

        self._log_trimmed = True
        path = self.out / "log.jsonl"
        try:
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        except FileNotFoundError:
            return
        keep = []
        for i, line in enumerate(lines):
            try:
                rec = json.loads(line)
            except ValueError:
                if i == len(lines) - 1 and not line.endswith("\n"):
                    continue  # a record cut short by the kill
                keep.append(line)
                continue
            step = rec.get("step") if isinstance(rec, dict) else None
            if isinstance(step, int) and step > self.state.step:
                continue
            keep.append(line if line.endswith("\n") else line + "\n")
        if keep != lines:
            atomic_write(path, "".join(keep))

    def _elapsed(self) -> float:
        return self.state.elapsed_s + time.monotonic() - self._session_t0

    def _checkpoint(self, path: Path, *, resumable: bool = True) -> None:
        """Every rank calls this (its RNG states are gathered); rank 0 writes.

        ``resumable=False`` (``best.pt``): the weights and what evaluation, prediction and
        export read, without the optimizer, schedule and RNG states that only a resumption
        needs (``last.pt`` has them), so the best checkpoint is a third of the size with AdamW.
        """
        rng = self.dist.gather_objects(capture_rng(self.dist.backend)) if resumable else None
        if not self.dist.is_main:
            return
        state = RunState(**{**asdict(self.state), "elapsed_s": self._elapsed()})
        ckpt = {
            "litevid_version": __version__, "model_name": self.cfg.model,
            "num_classes": self.heads, "classes": self.classes, "config": self.cfg.to_dict(),
            "frames": self.frames, "size": self.size, "world_size": self.dist.world_size,
            "device_type": self.dist.backend.type, "model": self.model.state_dict(),
            "model_args": getattr(self.model, "arch_args", dict)(), "state": asdict(state)}
        if resumable:
            ckpt.update({"optimizer": self.optimizer.state_dict(),
                         "scheduler": self.scheduler.state_dict(),
                         "scaler": self.scaler.state_dict(), "rng": rng[0], "rng_per_rank": rng})
        save_checkpoint(path, ckpt)

    # ---- the run -----------------------------------------------------------------------------

    def fit(self) -> Any:
        """Train until a stop condition; returns the ``Evaluation`` row on rank 0."""
        from ..utils.console import JobProgress

        cfg, st = self.cfg, self.state
        self._say(f"litevid train: {cfg.model} on {cfg.dataset} ({len(self.train_ds)} train / "
                  f"{len(self.val_ds)} val clips, {self.frames}x{self.size}px), "
                  f"{self.dist.world_size} x {self.dist.backend.name} {self.precision}, batch "
                  f"{cfg.batch_size} x {self.accum} accumulation x {self.dist.world_size} = "
                  f"{cfg.effective_batch}, {cfg.optimizer} lr {self.lr:g}, "
                  f"{self.steps_per_epoch} steps/epoch, up to {cfg.epochs} epochs -> {self.out}")
        if self.dataset_defaults:
            self._say(f"{cfg.dataset}: using the dataset's training defaults "
                      + ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in
                                  self.dataset_defaults.items())
                      + " (flags override them)")
        self._log({"event": "start", "config": cfg.to_dict(), "accumulation": self.accum,
                   "world_size": self.dist.world_size, "precision": self.precision,
                   "precision_choice": self.precision_choice.reason,
                   "device": self.dist.backend.name, "lr": self.lr, "workers": self.workers})
        progress = self.progress or JobProgress(cfg.epochs, live=None if self.dist.is_main
                                                else False)
        last_eval = None
        with progress:
            while st.stop_reason is None:
                if st.epoch >= cfg.epochs:
                    st.stop_reason = f"reached {cfg.epochs} epochs"
                    break
                epoch = st.epoch
                if self.dist.is_main:
                    progress.start(f"epoch {epoch + 1}/{cfg.epochs}", total=self.steps_per_epoch)
                stats = self._train_epoch(epoch, progress)
                ev, eval_s = evaluate(self.model, self.val_loader, heads=self.heads,
                                      dist=self.dist, precision=self.precision,
                                      batch_transform=self.val_aug)
                summary = ev.summary()
                top1 = summary["top1"]
                self.scheduler.step(top1)
                lr = self.optimizer.param_groups[0]["lr"]
                finished = st.batch_in_epoch >= self.steps_per_epoch * self.accum
                if finished:
                    st.epoch, st.batch_in_epoch = epoch + 1, 0
                improved = top1 > st.best_top1
                if improved:
                    st.best_top1, st.best_epoch = top1, epoch + 1
                    st.time_to_best_s = self._elapsed()
                record = {"event": "epoch", "epoch": epoch + 1, "step": st.step, **stats,
                          "lr": lr, "val_top1": top1, "val_top5": summary["top5"],
                          "val_mean_class_acc": summary["mean_class_acc"], "eval_s": eval_s,
                          "val_clips": ev.evaluated, "val_failed": ev.failed,
                          "val_warned": ev.warned, "val": summary}
                st.history.append({k: v for k, v in record.items()
                                   if k not in ("val", "val_failed", "val_warned")})
                if lr_exhausted(self.optimizer, cfg):
                    st.stop_reason = (f"learning rate {lr:.2g} below the floor {cfg.lr_floor:g} "
                                      "(validation top-1 plateaued)")
                elif cfg.max_steps is not None and st.step >= cfg.max_steps:
                    st.stop_reason = f"reached --max-steps {cfg.max_steps}"
                if improved:
                    last_eval = (ev, eval_s)
                    self._save_best(ev)
                self._checkpoint(self.out / "last.pt")
                self._log(record)
                if self.dist.is_main:
                    progress.finish(
                        f"loss {stats['loss']:.4f}, val top-1 {top1:.3f} top-5 "
                        f"{summary['top5']:.3f}, lr {lr:.2g}, {stats['clips_per_s']:.1f} clips/s "
                        f"(data wait {stats['data_wait_s']:.1f} s, compute "
                        f"{stats['compute_s']:.1f} s), eval {eval_s:.1f} s"
                        + (f", {stats['skipped']} clips skipped" if stats["skipped"] else "")
                        + (f", {stats['warned']} clips from files cut short" if stats["warned"]
                           else "")
                        + (f", val: {ev.evaluated} of {ev.expected} clips evaluated, "
                           f"{len(ev.failed)} unreadable (first: {ev.failed[0]['reason']})"
                           if ev.failed else "")
                        + (" *best*" if improved else ""))
        self._log({"event": "stop", "reason": st.stop_reason, "epoch": st.epoch,
                   "step": st.step, "best_top1": st.best_top1, "best_epoch": st.best_epoch})
        self._say(f"stopped: {st.stop_reason}. Best validation top-1 {st.best_top1:.4f} at "
                  f"epoch {st.best_epoch}; training took {self._elapsed():.0f} s")
        row = self._store(last_eval) if self.dist.is_main and last_eval is not None else None
        if self.tb is not None:
            self.tb.close()
        self.dist.barrier()
        return row

    def _train_epoch(self, epoch: int, progress: Any) -> dict[str, Any]:
        cfg, st, dev = self.cfg, self.state, self.dist.device
        loader, micro_total = train_loader(
            self.train_ds, epoch=epoch, batch_size=cfg.batch_size, workers=self.workers,
            seed=cfg.seed, dist=self.dist, skip_batches=st.batch_in_epoch)
        micro_total = min(micro_total, self.steps_per_epoch * self.accum)
        self.ddp.train()
        skipped0 = getattr(self.train_ds.dataset, "skipped", 0)
        warned0 = getattr(self.train_ds.dataset, "warned", 0)
        data_wait = compute = 0.0
        loss_sum = torch.zeros((), device=dev)
        losses: list[float] = []
        clips_done = 0
        t_epoch = time.perf_counter()
        it = iter(loader)
        for micro in range(st.batch_in_epoch, micro_total):
            t0 = time.perf_counter()
            clips, target = next(it)
            t1 = time.perf_counter()
            clips, target = clips.to(dev, non_blocking=True), to_device(target, dev)
            if self.train_aug is not None:
                clips = self.train_aug(clips)
            boundary = (micro + 1) % self.accum == 0
            sync = boundary or not self.dist.enabled
            ctx = self.ddp.no_sync() if not sync else contextlib.nullcontext()
            with ctx:
                with self.dist.backend.autocast(self.precision):
                    loss = loss_fn(self.ddp(clips), target) / self.accum
                self.scaler.scale(loss).backward()
            loss_sum += loss.detach()
            clips_done += clips.shape[0]
            if boundary:
                self.scaler.step(self.optimizer)
                self.scaler.update()
                self.optimizer.zero_grad(set_to_none=True)
                step_loss = float(self.dist.all_reduce_sum(loss_sum)) / self.dist.world_size
                loss_sum.zero_()
                st.step += 1
                st.batch_in_epoch = micro + 1
                if not math.isfinite(step_loss):
                    raise NonFiniteLoss(
                        f"non-finite loss ({step_loss}) at epoch {epoch + 1}, step {st.step}; "
                        f"stopped, the last good checkpoint is kept in {self.out} (lower --lr, "
                        f"or use --precision fp32 / amp-bf16)")
                losses.append(step_loss)
                if self.dist.is_main:
                    rate = clips_done * self.dist.world_size / max(time.perf_counter() - t_epoch,
                                                                   1e-9)
                    left = (micro_total - micro - 1) * cfg.batch_size * self.dist.world_size
                    progress.update(f"loss {step_loss:.4f} lr "
                                    f"{self.optimizer.param_groups[0]['lr']:.2g} {rate:.1f} "
                                    f"clips/s ETA {left / max(rate, 1e-9):.0f} s",
                                    completed=(micro + 1) // self.accum)
                if st.step % cfg.log_every == 0:
                    self._log({"event": "step", "epoch": epoch + 1, "step": st.step,
                               "loss": step_loss, "lr": self.optimizer.param_groups[0]["lr"]})
                if cfg.checkpoint_every and st.step % cfg.checkpoint_every == 0:
                    self._checkpoint(self.out / "last.pt")
                if cfg.max_steps is not None and st.step >= cfg.max_steps:
                    break
            compute += time.perf_counter() - t1
            data_wait += t1 - t0
        wall = time.perf_counter() - t_epoch
        skipped = getattr(self.train_ds.dataset, "skipped", 0) - skipped0
        return {"loss": sum(losses) / len(losses) if losses else float("nan"),
                "clips": clips_done * self.dist.world_size,
                "clips_per_s": clips_done * self.dist.world_size / max(wall, 1e-9),
                "data_wait_s": data_wait, "compute_s": compute, "wall_s": wall,
                "skipped": skipped,
                "warned": getattr(self.train_ds.dataset, "warned", 0) - warned0}

    def _save_best(self, ev: Any) -> None:
        self._checkpoint(self.out / "best.pt", resumable=False)  # on every rank
        if self.dist.is_main:
            write_outputs(ev, self.out, self.classes, prefix="best_")

    def _store(self, best: tuple[Any, float]) -> Any:
        ev, eval_s = best
        st, cfg, backend = self.state, self.cfg, self.dist.backend
        row = store_evaluation(
            ev, cfg.db, model=cfg.model, dataset=cfg.dataset, split="val", frames=self.frames,
            size=self.size, precision=self.precision, eval_wall_s=eval_s,
            checkpoint=self.out / "best.pt", annotations=cfg.val_annotations, device=backend,
            training={"epoch": st.epoch, "best_epoch": st.best_epoch,
                      "elapsed_s": self._elapsed(), "time_to_best_s": st.time_to_best_s,
                      "world_size": self.dist.world_size, "device_type": backend.type},
            settings={"train_config": cfg.to_dict(), "accumulation": self.accum,
                      "stop_reason": st.stop_reason,
                      "precision_choice": self.precision_choice.reason})
        self._say(f"evaluation row written to {cfg.db}: top-1 {row.top1:.4f}, top-5 "
                  f"{row.top5:.4f}, mean class accuracy {row.mean_class_acc:.4f}")
        return row


def _local_world() -> int:
    return int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
