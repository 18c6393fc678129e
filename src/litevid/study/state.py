"""A study's folder: what each job has done, read from files any process (or node) can write.

Layout::

    STUDY/
      study.toml          the study's text as last planned (file, preset, --set overrides)
      plan.json           the plan: every job with its full configuration
      study.jsonl         event log: plan, start, done, failed, submitted, ... (one JSON a line)
      results.db          the finished benchmark and evaluation rows of the plan (the report's)
      report/             litevid report of results.db
      jobs/<id>/
        job.json          the job
        lock              held (flock) by the process running the job
        running.json      host, pid, start time of the attempt in progress (or killed)
        result.json       written last, atomically, when the job finished: the job is done
        failed.json       the error of a failed attempt (kept as failed-<n>.json when retried)
        log.txt           the attempt's output
        results.db        the rows the job wrote
        run/              a training job's run folder (last.pt, best.pt, log.jsonl)
        eval/             an evaluation's predictions and confusion matrices

A job is *done* when ``result.json`` exists, *failed* when ``failed.json`` does, *running* while
some process holds its lock, else *pending* (an attempt that was killed left ``running.json``: a
training continues from its ``last.pt``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ..results.measurement import now_utc
from ..utils.io import atomic_write, write_json
from .plan import Plan, StudyJob

__all__ = ["JobState", "StudyDir"]

STATES = ("done", "running", "failed", "pending")


@dataclass
class JobState:
    """Where one job stands."""

    job: StudyJob
    state: str  # done | running | failed | pending
    detail: str = ""  # done: the result in a few words; failed: the error; pending: why
    wall_s: float | None = None
    started: str | None = None
    record: dict[str, Any] | None = None  # result.json / failed.json / running.json


class StudyDir:
    """The files of one study folder (see the module docstring)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    # ---- paths ----------------------------------------------------------------------------
    @property
    def plan_file(self) -> Path:
        return self.path / "plan.json"

    @property
    def events_file(self) -> Path:
        return self.path / "study.jsonl"

    @property
    def results_db(self) -> Path:
        return self.path / "results.db"

    @property
    def report_dir(self) -> Path:
        return self.path / "report"

    def job_dir(self, job: StudyJob | str) -> Path:
        return self.path / "jobs" / (job if isinstance(job, str) else job.id)

    def run_dir(self, job: StudyJob | str) -> Path:
        """A training job's run folder."""
        return self.job_dir(job) / "run"

    def job_db(self, job: StudyJob | str) -> Path:
        return self.job_dir(job) / "results.db"

    # ---- the plan -------------------------------------------------------------------------
    def write_plan(self, plan: Plan, study_text: str) -> None:
        """Save the plan and each job's ``job.json`` (folders created; results kept)."""
        (self.path / "jobs").mkdir(parents=True, exist_ok=True)
        atomic_write(self.path / "study.toml", study_text)
        write_json(self.plan_file, plan.to_dict(), indent=1)
        for job in plan.jobs:
            d = self.job_dir(job)
            d.mkdir(exist_ok=True)
            if not (d / "job.json").is_file():
                write_json(d / "job.json", job.to_dict(), indent=1)

    def read_plan(self) -> Plan:
        if not self.plan_file.is_file():
            raise FileNotFoundError(f"{self.path}: no study here ({self.plan_file} is missing; "
                                    "litevid study run STUDY.toml creates it)")
        return Plan.from_dict(json.loads(self.plan_file.read_text(encoding="utf-8")))

    # ---- events ---------------------------------------------------------------------------
    def event(self, event: str, **fields: Any) -> None:
        """Append one record to ``study.jsonl`` (one ``write`` with O_APPEND: lines of several
        processes never interleave)."""
        record = {"time": now_utc(), "event": event, **fields}
        line = (json.dumps(record, default=str) + "\n").encode("utf-8")
        fd = os.open(self.events_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def events(self) -> list[dict[str, Any]]:
        try:
            lines = self.events_file.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
        return out

    # ---- one job's records ----------------------------------------------------------------
    @contextlib.contextmanager
    def hold(self, job: StudyJob) -> Iterator[bool]:
        """Hold the job's lock while the block runs; yields ``False`` (and holds nothing) when
        another process holds it."""
        d = self.job_dir(job)
        d.mkdir(parents=True, exist_ok=True)
        fd = os.open(d / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def is_locked(self, job: StudyJob) -> bool:
        lock = self.job_dir(job) / "lock"
        if not lock.exists():
            return False
        fd = os.open(lock, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        finally:
            os.close(fd)

    def _read(self, job: StudyJob | str, name: str) -> dict[str, Any] | None:
        try:
            return json.loads((self.job_dir(job) / name).read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None

    def result(self, job: StudyJob | str) -> dict[str, Any] | None:
        return self._read(job, "result.json")

    def mark_started(self, job: StudyJob) -> dict[str, Any]:
        record = {"host": socket.gethostname(), "pid": os.getpid(), "started": now_utc(),
                  "t0": time.time(), "slurm_job": os.environ.get("SLURM_JOB_ID")}
        write_json(self.job_dir(job) / "running.json", record)
        return record

    def mark_done(self, job: StudyJob, record: dict[str, Any]) -> None:
        write_json(self.job_dir(job) / "result.json", record, indent=1)
        with contextlib.suppress(FileNotFoundError):
            (self.job_dir(job) / "running.json").unlink()

    def mark_failed(self, job: StudyJob, record: dict[str, Any]) -> None:
        write_json(self.job_dir(job) / "failed.json", record, indent=1)
        with contextlib.suppress(FileNotFoundError):
            (self.job_dir(job) / "running.json").unlink()

    def _set_aside(self, path: Path, stem: str) -> None:
        """Rename ``path`` to ``<stem>-<n><suffix>`` (nothing written is lost)."""
        if not path.exists():
            return
        n = 1
        while (target := path.with_name(f"{stem}-{n}{path.suffix}")).exists():
            n += 1
        os.replace(path, target)

    def clear_failure(self, job: StudyJob) -> None:
        """Before a retry: keep the failed attempt as ``failed-<n>.json``."""
        self._set_aside(self.job_dir(job) / "failed.json", "failed")

    def clear_result(self, job: StudyJob) -> None:
        """Before ``--force``: the previous result and run folder are kept beside, renamed."""
        d = self.job_dir(job)
        self._set_aside(d / "result.json", "result")
        self._set_aside(d / "failed.json", "failed")
        self._set_aside(d / "run", "run")

    # ---- states ---------------------------------------------------------------------------
    def state(self, job: StudyJob) -> JobState:
        done = self.result(job)
        if done is not None:
            return JobState(job, "done", done.get("summary", ""), done.get("wall_s"),
                            done.get("started"), done)
        if self.is_locked(job):
            run = self._read(job, "running.json") or {}
            return JobState(job, "running", f"on {run.get('host', '?')} pid {run.get('pid')}",
                            time.time() - run["t0"] if "t0" in run else None,
                            run.get("started"), run)
        failed = self._read(job, "failed.json")
        if failed is not None:
            return JobState(job, "failed", failed.get("error", "?"), failed.get("wall_s"),
                            failed.get("started"), failed)
        run = self._read(job, "running.json")
        if run is not None:
            resume = ""
            if (self.run_dir(job) / "last.pt").is_file():
                resume = ", resumes from its last.pt"
            return JobState(job, "pending", f"interrupted (started {run.get('started')} on "
                            f"{run.get('host')}){resume}", None, run.get("started"), run)
        return JobState(job, "pending", "waiting for its training" if job.after else "")

    def states(self, plan: Plan) -> list[JobState]:
        return [self.state(j) for j in plan.jobs]


def estimate_left_s(states: list[JobState], parallel: int = 1) -> float | None:
    """Seconds left for the unfinished jobs: per job, the median time of the finished jobs of
    the same kind and model (else of the same kind), divided by the jobs run at once. ``None``
    before a job of a kind that is left has finished."""
    done = [s for s in states if s.state == "done" and s.wall_s is not None]
    total = 0.0
    for s in states:
        if s.state == "done":
            continue
        same = [d.wall_s for d in done if d.job.kind == s.job.kind and d.job.model == s.job.model]
        kind = [d.wall_s for d in done if d.job.kind == s.job.kind]
        ref = same or kind
        if not ref:
            return None
        guess = statistics.median(ref)  # type: ignore[type-var]
        if s.state == "running" and s.wall_s is not None:
            guess = max(guess - s.wall_s, 0.0)
        total += guess
    return total / max(parallel, 1)
