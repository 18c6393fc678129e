"""Running one study job in this process, through litevid's own bench, train and eval code.

``run_study_job(study_dir, job_id)`` is what every executor ends in (``python -m
litevid.study.worker STUDY JOB`` locally, the same inside a SLURM task). It takes the job's lock
(a job never runs twice at once), skips a finished job, records the attempt, runs the job and
writes ``result.json`` (done) or ``failed.json`` (its error) last:

- ``bench``: ``bench.runner.plan_jobs`` + ``run_job`` (this worker process is the isolation a
  benchmark needs), one ``Measurement`` row per runtime; an out-of-memory row is a result, any
  other error fails the job;
- ``train``: ``train.loop.Trainer``; a run folder holding ``last.pt`` resumes from it (exactly:
  the trainer restores weights, optimizer, schedule, data order and RNG states); more than one
  GPU: ``torchrun --standalone --nproc_per_node=N`` of this worker, as ``litevid train`` runs;
- ``eval``: ``train.eval_run.run_evaluation`` of the training job's ``best.pt``.

Rows go to the job's own ``results.db``, each with ``settings["study"]`` naming the study, job and
run, so a report can say where every number came from.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import traceback
from typing import Any

from ..results.measurement import now_utc
from .plan import Plan, StudyJob
from .state import StudyDir

__all__ = ["EXIT_BUSY", "run_study_job", "torchrun_command"]

EXIT_BUSY = 75  # another process holds the job's lock
CPUS_ENV = "LITEVID_STUDY_CPUS"  # cores this job may use (set by the local executor)
DDP_RANK_FLAG = "--ddp-rank"


def _cpus() -> int | None:
    value = os.environ.get(CPUS_ENV)
    return int(value) if value and value.isdigit() and int(value) > 0 else None


def provenance(plan: Plan, job: StudyJob, **extra: Any) -> dict[str, Any]:
    """``settings["study"]`` of the rows this job writes."""
    return {"name": plan.name, "job": job.id, "kind": job.kind,
            "study_sha256": plan.study_sha256, **extra}


# ---- the three kinds ----------------------------------------------------------------------------

def _bench(study: StudyDir, plan: Plan, job: StudyJob) -> dict[str, Any]:
    from ..bench.config import BenchConfig
    from ..bench.runner import plan_jobs, run_job
    from ..devices import resolve_device
    from ..results.store import ResultStore

    cfg = BenchConfig(**{**job.config, "db": str(study.job_db(job))})
    rows = [run_job(j) for j in plan_jobs(cfg, resolve_device(job.device))]
    errors = [r.status for r in rows if r.status not in ("ok", "oom")]
    if errors:
        raise RuntimeError(f"benchmark failed: {errors[0]}")
    for r in rows:
        r.settings = {**(r.settings or {}), "study": provenance(plan, job)}
    with ResultStore(study.job_db(job)) as store:
        store.insert_many(rows)
    r = rows[0]
    summary = (f"{r.median_ms:.1f} ms median (n={r.n}, {r.device_name})" if r.status == "ok"
               else f"{r.status} at batch {r.batch} ({r.device_name})")
    return {"summary": summary, "rows": [x.uid for x in rows], "device_name": r.device_name,
            "median_ms": r.median_ms, "status": r.status}


def torchrun_command(study: StudyDir, job: StudyJob) -> list[str]:
    """The launch of a training job on ``job.gpus`` GPUs: one process per GPU, this worker."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={job.gpus}", "-m", "litevid.study.worker", str(study.path),
            job.id, DDP_RANK_FLAG]


def train_config(study: StudyDir, job: StudyJob) -> Any:
    """The job's ``TrainConfig``: its run folder and results file, resumed from ``last.pt``."""
    from ..train.config import TrainConfig

    values = dict(job.config)
    values.update(out=str(study.run_dir(job)), db=str(study.job_db(job)))
    if values.get("workers") is None and _cpus() is not None:
        values["workers"] = max(_cpus() - 1, 0)  # loader processes beside the main one
    last = study.run_dir(job) / "last.pt"
    if last.is_file():
        values["resume"] = str(last)
    return TrainConfig(**values)


def train_in_process(study: StudyDir, job: StudyJob) -> Any:
    """Run (or continue) the training; returns the trainer's ``Evaluation`` row or ``None``."""
    import dataclasses

    from ..train.config import TrainConfig
    from ..train.loop import Trainer

    cfg = train_config(study, job)
    trainer = Trainer(cfg, explicit={f.name for f in dataclasses.fields(TrainConfig)})
    try:
        return trainer.fit()
    finally:
        trainer.dist.close()


def _train(study: StudyDir, plan: Plan, job: StudyJob) -> dict[str, Any]:
    from ..train.checkpoint import load_checkpoint

    resumed = (study.run_dir(job) / "last.pt").is_file()
    if job.gpus > 1:
        rc = subprocess.run(torchrun_command(study, job)).returncode
        if rc != 0:
            raise RuntimeError(f"torchrun of {job.gpus} processes exited with code {rc}")
    else:
        train_in_process(study, job)
    best = study.run_dir(job) / "best.pt"
    if not best.is_file():
        raise RuntimeError(f"training ended without a best checkpoint ({best})")
    state = load_checkpoint(study.run_dir(job) / "last.pt").get("state", {})
    return {"summary": f"val top-1 {state.get('best_top1', float('nan')):.3f} at epoch "
                       f"{state.get('best_epoch')} of {state.get('epoch')}"
                       + (" (resumed)" if resumed else ""),
            "rows": [], "run": str(study.run_dir(job)), "best_top1": state.get("best_top1"),
            "epochs": state.get("epoch"), "stop_reason": state.get("stop_reason"),
            "train_s": state.get("elapsed_s"), "resumed": resumed}


def _eval(study: StudyDir, plan: Plan, job: StudyJob) -> dict[str, Any]:
    from ..train.config import EvalConfig
    from ..train.eval_run import run_evaluation

    assert job.after is not None
    run = study.run_dir(job.after)
    values = dict(job.config)
    if values.get("workers") is None and _cpus() is not None:
        values["workers"] = max(_cpus() - 1, 0)
    cfg = EvalConfig(**values, checkpoint=str(run / "best.pt"),
                     out=str(study.job_dir(job) / "eval"),
                     db=str(study.job_db(job)))
    outcome = run_evaluation(cfg, extra_settings={"study": provenance(
        plan, job, run=str(run), train_job=job.after)})
    row = outcome.row
    failed = len(outcome.failed)
    summary = (f"top-1 {row.top1:.3f}, top-5 {row.top5:.3f} on {row.clips} {job.config['split']} "
               f"clips" + (f", {failed} unreadable (listed)" if failed else ""))
    return {"summary": summary, "rows": [row.uid], "device_name": row.device_name,
            "top1": row.top1, "top5": row.top5, "clips": row.clips, "failed_clips": failed}


RUNNERS = {"bench": _bench, "train": _train, "eval": _eval}


# ---- one attempt -------------------------------------------------------------------------------

def run_study_job(path: str, job_id: str) -> int:
    """Run one job of the study at ``path``; the exit status: 0 done (now or before), 1 failed,
    ``EXIT_BUSY`` when another process is running it."""
    from ..utils.registry import import_modules

    study = StudyDir(path)
    plan = study.read_plan()
    import_modules(plan.imports)  # the study's own models, before any job builds one
    job = plan.by_id.get(job_id)
    if job is None:
        raise ValueError(f"{study.plan_file}: no job {job_id!r} in the plan")
    with study.hold(job) as held:
        if not held:
            print(f"{job.label()}: another process is running it", flush=True)
            return EXIT_BUSY
        if study.result(job) is not None:
            print(f"{job.label()}: already done", flush=True)
            return 0
        if job.after is not None and study.result(job.after) is None:
            record = {"error": f"its training job {job.after} has not finished", "wall_s": 0.0,
                      "started": now_utc(), "host": socket.gethostname()}
            study.mark_failed(job, record)
            study.event("failed", job=job.id, kind=job.kind, model=job.model,
                        error=record["error"])
            return 1
        started = study.mark_started(job)
        study.event("start", job=job.id, kind=job.kind, model=job.model, what=job.what,
                    device=job.device, host=started["host"], pid=started["pid"])
        if _cpus() is not None:
            import torch

            torch.set_num_threads(_cpus())
        t0 = time.monotonic()
        print(f"{job.label()}: started on {started['host']} (job {job.id})", flush=True)
        try:
            result = RUNNERS[job.kind](study, plan, job)
        except Exception as exc:  # the job's error, recorded; the study goes on
            record = {"error": f"{type(exc).__name__}: {exc}".strip()[:2000],
                      "traceback": traceback.format_exc()[-8000:],
                      "wall_s": time.monotonic() - t0, "started": started["started"],
                      "finished": now_utc(), "host": started["host"]}
            study.mark_failed(job, record)
            study.event("failed", job=job.id, kind=job.kind, model=job.model, what=job.what,
                        error=record["error"], wall_s=round(record["wall_s"], 3))
            print(f"{job.label()}: failed: {record['error']}", flush=True)
            return 1
        record = {"job": job.id, "kind": job.kind, "model": job.model, "what": job.what,
                  "device": job.device, "host": started["host"], "started": started["started"],
                  "finished": now_utc(), "wall_s": time.monotonic() - t0,
                  "db": str(study.job_db(job).relative_to(study.path)) if job.kind != "train"
                  else None, **result}
        study.mark_done(job, record)
        study.event("done", job=job.id, kind=job.kind, model=job.model, what=job.what,
                    summary=record["summary"], wall_s=round(record["wall_s"], 3))
        print(f"{job.label()}: done: {record['summary']} ({record['wall_s']:.1f} s)", flush=True)
        return 0
