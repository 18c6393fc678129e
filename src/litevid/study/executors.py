"""Where study jobs run: this machine (``LocalExecutor``) or a cluster through submitit.

**Local.** Each job is ``python -m litevid.study.worker STUDY JOB`` in its own process (a fresh
allocator and CUDA context per job, as ``litevid bench`` isolates each measurement), started as
resources free up, in plan order:

- a GPU job takes its GPUs (``CUDA_VISIBLE_DEVICES`` set to them; a training on several GPUs runs
  ``torchrun`` inside its worker); GPU jobs run one per GPU at once;
- a CPU job takes one of ``jobs`` CPU slots and ``cores // jobs`` threads;
- a CPU *benchmark* runs alone: nothing else runs beside it (another job's load would be in its
  latency), and nothing else starts while it waits;
- an evaluation starts once its training is done; if the training failed it is left pending.

Workers die with the executor (``PR_SET_PDEATHSIG`` on Linux), so a killed study leaves nothing
running; the next ``litevid study run`` continues where it stopped.

**SLURM** (``submitit``): the plan's *chains* (a training and its evaluation; a benchmark) are
submitted as job arrays, one array per resource shape, one array task per chain; each task runs
the chain's workers one after the other on its node. ``cluster="local"`` runs the same path with
submitit's local executor (what the tests do). With ``wait`` the command follows the jobs until
they end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..results.measurement import now_utc
from .jobs import CPUS_ENV, EXIT_BUSY
from .plan import Plan, StudyJob
from .state import StudyDir

__all__ = ["LocalExecutor", "run_chain", "submit", "worker_command"]

POLL_S = 0.2


def worker_command(study: StudyDir, job: StudyJob) -> list[str]:
    return [sys.executable, "-m", "litevid.study.worker", str(study.path), job.id]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _record_death(study: StudyDir, job: StudyJob, rc: int, log: Path) -> None:
    """A worker that ended without writing its result or error (killed, crashed)."""
    if study.result(job) is not None or (study.job_dir(job) / "failed.json").exists():
        return
    why = f"killed by signal {-rc}" if rc < 0 else f"exited with code {rc}"
    tail = ""
    try:
        lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
        tail = lines[-1][:300] if lines else ""
    except OSError:
        pass
    error = f"worker {why}" + (f": {tail}" if tail else "")
    study.mark_failed(job, {"error": error, "finished": now_utc(), "log": str(log)})
    study.event("failed", job=job.id, kind=job.kind, model=job.model, what=job.what, error=error)


def launch(study: StudyDir, job: StudyJob, env: dict[str, str]) -> tuple[subprocess.Popen, Path]:
    log = study.job_dir(job) / "log.txt"
    with open(log, "ab") as out:
        proc = subprocess.Popen(worker_command(study, job), stdout=out, stderr=subprocess.STDOUT,
                                env=env, preexec_fn=_die_with_parent
                                if sys.platform.startswith("linux") else None)
    return proc, log


@dataclass
class _Running:
    job: StudyJob
    proc: subprocess.Popen
    log: Path
    gpus: list[int]
    cpu_slot: bool
    t0: float = field(default_factory=time.monotonic)


class LocalExecutor:
    """Runs jobs on this machine (see the module docstring).

    Args:
        study: the study folder (its plan already written).
        jobs: CPU jobs at once.
        gpus: GPU indices jobs may use (default: none).
        monitor: a ``progress.StudyMonitor`` (or anything with ``started``/``finished``/
            ``tick``).
    """

    def __init__(self, study: StudyDir, *, jobs: int = 1, gpus: list[int] | None = None,
                 monitor: Any = None) -> None:
        if jobs < 1:
            raise ValueError(f"--jobs {jobs}: must be >= 1")
        self.study, self.cpu_slots, self.gpus = study, jobs, list(gpus or [])
        self.cores = os.cpu_count() or 1
        self.monitor = monitor

    def _env(self, job: StudyJob, gpus: list[int]) -> dict[str, str]:
        env = dict(os.environ)
        if gpus:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in gpus)
            cpus = max(1, self.cores // max(len(self.gpus), 1))
        elif job.exclusive:
            cpus = self.cores
        else:
            cpus = max(1, self.cores // self.cpu_slots)
        env[CPUS_ENV] = str(cpus)
        env["OMP_NUM_THREADS"] = str(cpus)
        return env

    def run(self, todo: list[StudyJob]) -> dict[str, int]:
        """Run ``todo`` (in order, as resources allow); returns counts of done / failed /
        skipped (busy elsewhere, or waiting on a training that did not finish)."""
        pending = list(todo)
        running: dict[str, _Running] = {}
        counts = {"done": 0, "failed": 0, "skipped": 0}
        need_gpu = [j for j in pending if j.gpus > len(self.gpus)]
        if need_gpu:
            j = need_gpu[0]
            raise ValueError(f"{j.label()} needs {j.gpus} GPU(s), this run has "
                             f"{len(self.gpus)} (--gpus)")
        try:
            while pending or running:
                for jid, r in list(running.items()):
                    rc = r.proc.poll()
                    if rc is None:
                        continue
                    del running[jid]
                    if rc == EXIT_BUSY:
                        counts["skipped"] += 1
                    else:
                        if rc != 0:
                            _record_death(self.study, r.job, rc, r.log)
                        st = self.study.state(r.job)
                        counts["done" if st.state == "done" else "failed"] += 1
                        if self.monitor is not None:
                            self.monitor.finished(st)
                self._start(pending, running, counts)
                if self.monitor is not None:
                    self.monitor.tick()
                time.sleep(POLL_S)
        except KeyboardInterrupt:
            for r in running.values():
                r.proc.terminate()
            for r in running.values():
                r.proc.wait()
            raise
        return counts

    def _start(self, pending: list[StudyJob], running: dict[str, _Running],
               counts: dict[str, int]) -> None:
        free_gpus = [g for g in self.gpus if all(g not in r.gpus for r in running.values())]
        cpu_used = sum(r.cpu_slot for r in running.values())
        exclusive_running = any(r.job.exclusive for r in running.values())
        for job in list(pending):
            if exclusive_running:
                return
            if job.after is not None:
                if job.after in running or any(p.id == job.after for p in pending):
                    continue  # its training has not finished yet
                if self.study.result(job.after) is None:
                    pending.remove(job)
                    counts["skipped"] += 1
                    if self.monitor is not None:
                        self.monitor.skipped(job, "its training did not finish")
                    continue
            if job.exclusive:
                if running:
                    return  # wait for the machine to be idle; start nothing else meanwhile
                gpus, slot = [], False
            elif job.gpus:
                if len(free_gpus) < job.gpus:
                    continue
                gpus, slot = free_gpus[:job.gpus], False
            else:
                if cpu_used >= self.cpu_slots:
                    continue
                gpus, slot = [], True
            proc, log = launch(self.study, job, self._env(job, gpus))
            running[job.id] = _Running(job, proc, log, gpus, slot)
            pending.remove(job)
            free_gpus = [g for g in free_gpus if g not in gpus]
            cpu_used += slot
            exclusive_running = job.exclusive
            if self.monitor is not None:
                self.monitor.started(job)


# ---- submitit ------------------------------------------------------------------------------------

def run_chain(path: str, chain: list[str]) -> dict[str, str]:
    """One array task: the chain's jobs one after the other in workers on this node; a job that
    did not finish stops the chain (an evaluation needs its training). Returns job -> state."""
    study = StudyDir(path)
    plan = study.read_plan()
    env = dict(os.environ)
    cpus = os.environ.get("SLURM_CPUS_PER_TASK")
    if cpus:
        env[CPUS_ENV] = env["OMP_NUM_THREADS"] = cpus
    out = {}
    for jid in chain:
        job = plan.by_id[jid]
        proc, log = launch(study, job, env)
        rc = proc.wait()
        if rc not in (0, EXIT_BUSY):
            _record_death(study, job, rc, log)
        out[jid] = study.state(job).state
        if out[jid] != "done":
            break
    return out


def _shape(plan: Plan, chain: list[str]) -> tuple[int, bool]:
    jobs = [plan.by_id[j] for j in chain]
    return max(j.gpus for j in jobs), any(j.exclusive for j in jobs)


def submit(study: StudyDir, plan: Plan, todo: list[StudyJob], *, cluster: str | None,
           slurm: dict[str, Any]) -> list[Any]:
    """Submit the chains holding ``todo`` as job arrays; returns the submitit jobs.

    ``slurm`` keys (``[slurm]`` of the study file): partition, account, qos, constraint,
    time_min (default 240), cpus_per_task (default 8), mem_gb, array_parallelism,
    exclusive_cpu_bench (default true: a CPU benchmark gets a whole node), additional (a table
    passed to ``#SBATCH`` as is). A task asks for the GPUs of its jobs: one for a GPU benchmark
    or evaluation, ``[run] gpus_per_train`` for a training.
    """
    try:
        import submitit
    except ImportError:
        raise ValueError("--executor slurm needs submitit: pip install 'litevid[study]'") from None
    wanted = {j.id for j in todo}
    chains = [c for c in plan.tasks() if wanted & set(c)]
    groups: dict[tuple[int, bool], list[list[str]]] = {}
    for c in chains:
        groups.setdefault(_shape(plan, c), []).append(c)
    submitted = []
    for (gpus, exclusive), group in sorted(groups.items()):
        ex = submitit.AutoExecutor(folder=study.path / "slurm" / "%j", cluster=cluster)
        params: dict[str, Any] = {
            "name": f"litevid-{plan.name}", "timeout_min": int(slurm.get("time_min", 240)),
            "cpus_per_task": int(slurm.get("cpus_per_task", 8)), "gpus_per_node": gpus,
            "tasks_per_node": 1, "nodes": 1}
        if slurm.get("mem_gb"):
            params["mem_gb"] = slurm["mem_gb"]
        for key in ("partition", "account", "qos", "constraint"):
            if slurm.get(key):
                params[f"slurm_{key}"] = slurm[key]
        if slurm.get("array_parallelism"):
            params["slurm_array_parallelism"] = int(slurm["array_parallelism"])
        extra = dict(slurm.get("additional") or {})
        if exclusive and slurm.get("exclusive_cpu_bench", True):
            extra["exclusive"] = True
        if extra:
            params["slurm_additional_parameters"] = extra
        ex.update_parameters(**params)
        with ex.batch():
            jobs = [ex.submit(run_chain, str(study.path), c) for c in group]
        for c, j in zip(group, jobs):
            study.event("submitted", chain=c, slurm_job=str(j.job_id), cluster=cluster or "auto",
                        gpus=gpus)
        submitted += list(zip(group, jobs))
    return submitted


def follow(study: StudyDir, plan: Plan, submitted: list[Any],
           monitor: Any = None) -> dict[str, int]:
    """Wait for submitted chains; a task that ended without its jobs' records (time limit,
    node failure) gets them written as failures naming the task's state."""
    plan_jobs = {j.id: j for j in plan.jobs}
    reported: set[str] = set()
    counts = {"done": 0, "failed": 0, "skipped": 0}
    while True:
        all_done = True
        for chain, sj in submitted:
            finished = sj.done()
            for jid in chain:
                if jid in reported:
                    continue
                st = study.state(plan_jobs[jid])
                if st.state in ("done", "failed"):
                    reported.add(jid)
                    counts[st.state] += 1
                    if monitor is not None:
                        monitor.finished(st)
                elif finished:
                    if st.state == "pending" and not any(
                            study.state(plan_jobs[c]).state == "failed" for c in chain):
                        job = plan_jobs[jid]
                        error = (f"SLURM task {sj.job_id} ended ({sj.state}) before this job "
                                 "finished")
                        study.mark_failed(job, {"error": error, "finished": now_utc()})
                        study.event("failed", job=jid, kind=job.kind, model=job.model,
                                    error=error)
                        continue
                    reported.add(jid)
                    counts["skipped"] += 1
                else:
                    all_done = False
        if monitor is not None:
            monitor.tick()
        if all_done:
            return counts
        time.sleep(1.0)
