"""The plan of a study: one content-hashed job per benchmark, training and evaluation.

- ``bench``: one (model, mode, device) measurement, ``litevid bench``'s resolved configuration;
- ``train``: one (model, dataset) run of the recipe, ``litevid train``'s resolved configuration
  (the dataset's training defaults filled in);
- ``eval``: the training job's best checkpoint on the dataset's evaluation split, single view,
  single crop (``litevid eval``), after its training job.

A job's id is the start of the sha256 of everything that decides its result: the resolved
configuration (run folders, the results file, loader processes and logging left out), the sha256
of each file it reads (annotations, labels, initial weights) and, for an evaluation, its training
job's hash. Change any of them and it is another job, with its own folder; a finished job is never
reused for a different configuration.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .spec import DatasetEntry, StudySpec, config_hash, file_digest

__all__ = ["KINDS", "Plan", "StudyJob", "plan_study"]

KINDS = ("bench", "train", "eval")
ID_LEN = 12
# Settings that do not change a job's result (where it writes, how fast it loads, what it logs).
_NOT_HASHED = {"bench": ("db", "json", "models", "modes", "device", "in_process"),
               "train": ("out", "db", "resume", "force", "workers", "tensorboard", "log_every",
                         "checkpoint_every"),
               "eval": ("checkpoint", "out", "db", "workers")}


@dataclass
class StudyJob:
    """One unit of work of a study; ``config`` is what its runner is built from."""

    id: str
    hash: str
    kind: str  # bench | train | eval
    model: str
    dataset: str | None = None
    mode: str | None = None
    device: str = "cpu"  # bench: the measured device; train/eval: where they run
    config: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str | None] = field(default_factory=dict)  # path -> sha256 it was planned with
    after: str | None = None  # the job that must finish first (an evaluation's training)
    gpus: int = 0  # GPUs it takes; 0 = CPU only
    exclusive: bool = False  # runs alone on the machine (a CPU benchmark: no other load)

    @property
    def what(self) -> str:
        """``single`` for a benchmark, the dataset for training and evaluation."""
        return self.mode if self.kind == "bench" else (self.dataset or "")

    def label(self) -> str:
        """``bench movinet_a0 single cpu`` / ``train x3d_xs synthetic``."""
        return f"{self.kind} {self.model} {self.what}" + (f" {self.device}"
                                                          if self.kind == "bench" else "")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Plan:
    """The jobs of a study, in the order they are started (benchmarks, trainings, evaluations)."""

    name: str
    study_sha256: str
    source: str
    jobs: list[StudyJob]
    run: dict[str, Any] = field(default_factory=dict)
    slurm: dict[str, Any] = field(default_factory=dict)
    imports: list[str] = field(default_factory=list)  # modules every worker imports first

    def __post_init__(self) -> None:
        self.by_id = {j.id: j for j in self.jobs}

    def tasks(self) -> list[list[str]]:
        """Chains of job ids that run one after the other in one place: a training and its
        evaluation; a benchmark alone (what a SLURM array task or a local slot runs)."""
        chains = []
        for job in self.jobs:
            if job.after is None:
                chains.append([job.id] + [j.id for j in self.jobs if j.after == job.id])
        return chains

    def counts(self) -> dict[str, int]:
        return {k: sum(j.kind == k for j in self.jobs) for k in KINDS}

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "study_sha256": self.study_sha256, "source": self.source,
                "run": self.run, "slurm": self.slurm, "imports": self.imports,
                "jobs": [j.to_dict() for j in self.jobs]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Plan:
        return cls(name=d["name"], study_sha256=d["study_sha256"], source=d["source"],
                   run=d.get("run", {}), slurm=d.get("slurm", {}), imports=d.get("imports", []),
                   jobs=[StudyJob(**j) for j in d["jobs"]])


def _job(kind: str, *, config: dict[str, Any], files: dict[str, str | None],
         extra: dict[str, Any] | None = None, **fields: Any) -> StudyJob:
    hashed = {"kind": kind, "model": fields["model"], "device": fields.get("device"),
              "mode": fields.get("mode"), "dataset": fields.get("dataset"),
              "config": {k: v for k, v in config.items() if k not in _NOT_HASHED[kind]},
              "files": files, **(extra or {})}
    digest = config_hash(hashed)
    return StudyJob(id=digest[:ID_LEN], hash=digest, kind=kind, config=config, files=files,
                    **fields)


def _gpus(device: str, per_job: int = 1) -> int:
    return per_job if device.split(":")[0] == "cuda" else 0


def _bench_job(spec: StudySpec, model: str, mode: str, device: str) -> StudyJob:
    from ..bench.config import BenchConfig

    values = {"frames": spec.frames, "size": spec.size, **spec.bench}
    cfg = BenchConfig(models=model, modes=mode, device=device, db="",
                      import_modules=",".join(spec.imports), **values)
    cfg = cfg.resolved(device.split(":")[0])
    return _job("bench", model=model, mode=mode, device=device, config=cfg.to_dict(), files={},
                gpus=_gpus(device), exclusive=device == "cpu" or device.startswith("cpu:"))


def _train_job(spec: StudySpec, model: str, entry: DatasetEntry) -> StudyJob:
    from ..train.config import TrainConfig, apply_dataset_defaults

    values = {**spec.recipe, **entry.recipe, **spec.per_model.get(model, {})}
    for key in ("frames", "size"):
        if getattr(spec, key) is not None:
            values.setdefault(key, getattr(spec, key))
    owned = dict(model=model, dataset=entry.name, annotations=entry.annotations,
                 val_annotations=entry.val_annotations, root=entry.root,
                 val_root=entry.val_root, labels=entry.labels, num_clips=entry.num_clips,
                 device=spec.train_device, import_modules=",".join(spec.imports),
                 tensorboard=spec.tensorboard)
    cfg = TrainConfig(**owned, **values)
    cfg, _ = apply_dataset_defaults(cfg, explicit=set(values) | set(owned))
    files = {k: file_digest(getattr(cfg, k)) for k in ("annotations", "val_annotations",
                                                       "labels", "pretrained")
             if getattr(cfg, k) is not None}
    gpus = _gpus(spec.train_device, int(spec.run.get("gpus_per_train", 1)))
    return _job("train", model=model, dataset=entry.name, device=spec.train_device,
                config=cfg.to_dict(), files=files, gpus=gpus)


def _eval_job(spec: StudySpec, train: StudyJob, entry: DatasetEntry) -> StudyJob:
    config = {"model": train.model, "dataset": entry.name, "split": entry.eval_split,
              "annotations": entry.eval_annotations or entry.val_annotations,
              "root": entry.val_root or entry.root, "labels": entry.labels,
              "train_annotations": entry.annotations, "num_clips": entry.eval_num_clips,
              "device": spec.train_device, **spec.eval}
    files = {k: file_digest(config[k]) for k in ("annotations", "labels", "train_annotations")
             if config[k] is not None}
    return _job("eval", model=train.model, dataset=entry.name, device=spec.train_device,
                config=config, files=files, after=train.id, gpus=_gpus(spec.train_device),
                extra={"train_job": train.hash})


def plan_study(spec: StudySpec) -> Plan:
    """Every job of ``spec``: benchmarks first (model-major), then trainings (largest model
    first), then evaluations.

    Raises:
        ValueError: a job's configuration is refused by its runner's config (named).
    """
    jobs: list[StudyJob] = []
    for model in spec.models:
        for mode in spec.modes:
            for device in spec.devices:
                jobs.append(_bench_job(spec, model, mode, device))
    from ..models import model_spec

    trains = []
    # The largest models first, so the longest trainings do not start last (one straggler).
    by_size = sorted(spec.models, key=lambda m: -(model_spec(m).paper_params_m or 0.0))
    for entry in spec.datasets.values():
        for model in by_size:
            try:
                trains.append((_train_job(spec, model, entry), entry))
            except ValueError as exc:
                raise ValueError(f"{spec.source}: training {model} on {entry.name}: {exc}") \
                    from None
    jobs += [t for t, _ in trains]
    jobs += [_eval_job(spec, t, entry) for t, entry in trains]
    ids = [j.id for j in jobs]
    if len(set(ids)) != len(ids):  # the same job twice (e.g. cuda and cuda:0 resolve alike)
        seen = {i for i in ids if ids.count(i) > 1}
        raise ValueError(f"{spec.source}: two entries make the same job "
                         f"({', '.join(j.label() for j in jobs if j.id in seen)})")
    return Plan(name=spec.name, study_sha256=spec.sha256, source=spec.source, jobs=jobs,
                run=spec.run, slurm=spec.slurm, imports=spec.imports)


def study_dir(spec: StudySpec) -> Path:
    """Where the study's jobs, runs, log and report go: ``out``, else ``studies/<name>``."""
    return Path(spec.out) if spec.out else Path("studies") / spec.name
