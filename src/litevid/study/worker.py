"""``python -m litevid.study.worker STUDY_DIR JOB_ID``: run one study job (``jobs.run_study_job``).

With ``--ddp-rank`` (started by ``torchrun`` for a training job on several GPUs) it runs only the
training, in each rank; the worker that launched ``torchrun`` keeps the job's lock and records.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from .jobs import DDP_RANK_FLAG, run_study_job, train_in_process
    from .state import StudyDir

    args = list(sys.argv[1:] if argv is None else argv)
    ddp = DDP_RANK_FLAG in args
    args = [a for a in args if a != DDP_RANK_FLAG]
    if len(args) != 2:
        print("usage: python -m litevid.study.worker STUDY_DIR JOB_ID [--ddp-rank]",
              file=sys.stderr)
        return 2
    path, job_id = args
    if ddp:
        study = StudyDir(path)
        plan = study.read_plan()
        from ..utils.registry import import_modules

        import_modules(plan.imports)
        train_in_process(study, plan.by_id[job_id])
        return 0
    return run_study_job(path, job_id)


if __name__ == "__main__":
    raise SystemExit(main())
