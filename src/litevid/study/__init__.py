"""``litevid study``: the paper's method (Fig. 1) as one resumable command.

- ``spec``: the study file (TOML), presets and flags, checked before anything runs;
- ``plan``: content-hashed jobs (benchmark, training, evaluation);
- ``state``: the study folder, each job's records, ``study.jsonl``;
- ``jobs`` / ``worker``: one job in one process, through litevid's bench, train and eval code;
- ``executors``: this machine (per-GPU / N CPU jobs) or SLURM through submitit;
- ``progress``: live table, piped lines, status; ``report``: the study's store and report.
"""

from .plan import Plan, StudyJob, plan_study, study_dir
from .spec import PRESETS, StudySpec, read_study
from .state import JobState, StudyDir

__all__ = ["JobState", "PRESETS", "Plan", "StudyDir", "StudyJob", "StudySpec", "plan_study",
           "read_study", "study_dir"]
