"""The study's results store and report, from the finished jobs of its current plan only.

``results.db`` is rebuilt (to a temporary file, then renamed) from the ``results.db`` of every
finished benchmark and evaluation job of the plan, so a job of an older configuration never mixes
into the report, and the report's accuracy is the study's measured one. Rows carry
``settings["study"]`` (study, job, run), which the report's tables show.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from .plan import Plan
from .state import StudyDir

__all__ = ["build_study_report", "merge_results"]


def merge_results(study: StudyDir, plan: Plan) -> tuple[Path, int]:
    """Rebuild ``STUDY/results.db``; returns it and how many job stores went into it."""
    from ..results.store import ResultStore

    sources = [study.job_db(j) for j in plan.jobs
               if j.kind in ("bench", "eval") and study.result(j) is not None
               and study.job_db(j).is_file()]
    target = study.results_db
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
    try:
        with ResultStore(tmp) as store:
            for src in sources:
                store.merge(src)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return target, len(sources)


def build_study_report(study: StudyDir, plan: Plan, *, figures: bool = True) -> tuple[Any, str]:
    """Merge the results and write ``STUDY/report``; returns ``(report or None, a line saying
    what was written or why not)``."""
    from ..report.build import build_report

    db, n = merge_results(study, plan)
    try:
        report = build_report([db], study.report_dir, figures=figures)
    except ValueError as exc:
        return None, f"no report yet ({n} finished job store(s) in {db}): {exc}"
    line = (f"report: {report.index} ({len(report.tables)} tables, {len(report.figures)} "
            f"figures) from {db} ({n} finished job(s))")
    return report, "\n".join([line, *(f"  not drawn: {note}" for note in report.notes)])
