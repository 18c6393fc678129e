"""``litevid study plan | run | status | report``: the paper's method as one resumable command.

A study is a TOML file (``spec.py`` documents it), a preset (``--preset smoke``), or flags
(``--models``, ``--datasets``, ``--modes``, ``--devices``, ``--set SECTION.KEY=VALUE``) on top
of either. ``plan`` prints the jobs and their content hashes; ``run`` executes those without a
result (locally or on SLURM) and writes the report; ``status`` says where each job stands.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..utils.config import int_at_least

__all__ = ["add_parser"]

EXECUTORS = ("local", "slurm", "submitit-local")


def _sets(args: argparse.Namespace) -> list[str]:
    """The flags as ``--set`` overrides (so the study's sha256 covers them)."""
    sets = []
    for flag, key in (("models", "study.models"), ("modes", "study.modes"),
                      ("devices", "study.devices")):
        value = getattr(args, flag, None)
        if value is not None:
            items = [] if value.strip() in ("", "none") else [
                v.strip() for v in value.split(",") if v.strip()]
            sets.append(f"{key}={json.dumps(items) if value != 'all' else json.dumps('all')}")
    for flag, key in (("name", "study.name"), ("train_device", "study.train_device")):
        if getattr(args, flag, None):
            sets.append(f"{key}={json.dumps(getattr(args, flag))}")
    for flag, key in (("frames", "study.frames"), ("size", "study.size"),
                      ("epochs", "recipe.epochs")):
        if getattr(args, flag, None) is not None:
            sets.append(f"{key}={getattr(args, flag)}")
    return sets + list(args.set or [])


def _spec(args: argparse.Namespace) -> Any:
    """The study of the arguments; its devices are checked here unless it runs on SLURM."""
    from .spec import check_devices_of, read_study

    sets = _sets(args)
    datasets = [d.strip() for d in (getattr(args, "datasets", None) or "").split(",")
                if d.strip()]
    if args.study is None and args.preset is None and not sets and not datasets:
        raise ValueError("give a study file, --preset smoke, or flags (--models ... "
                         "--datasets ... / --modes ... --devices ...)")
    if args.study is not None and Path(args.study).is_dir():
        raise ValueError(f"{args.study}: a folder; give the study file (STUDY.toml)")
    spec = read_study(args.study, preset=args.preset, sets=sets, datasets=datasets,
                      out=args.out, check_devices=False)
    executor = args.executor or spec.run.get("executor", "local")
    if executor not in EXECUTORS:
        raise ValueError(f"{spec.source}: [run] executor {executor!r}: choose "
                         f"{', '.join(EXECUTORS)}")
    if executor != "slurm":
        check_devices_of(spec)
    return spec, executor


def _plan(args: argparse.Namespace) -> tuple[Any, Any, Any, str]:
    from .plan import plan_study, study_dir
    from .state import StudyDir

    spec, executor = _spec(args)
    return spec, plan_study(spec), StudyDir(study_dir(spec)), executor


def _cmd_plan(args: argparse.Namespace) -> int:
    from ..utils.console import make_console
    from .progress import status_table

    spec, plan, study, _ = _plan(args)
    print(spec.describe())
    states = study.states(plan) if study.plan_file.is_file() else [
        _pending(j) for j in plan.jobs]
    c = plan.counts()
    make_console().print(status_table(
        states, f"plan of study {plan.name}: {len(plan.jobs)} jobs ({c['bench']} benchmarks, "
                f"{c['train']} trainings, {c['eval']} evaluations) -> {study.path}"))
    if args.json:
        print(json.dumps(plan.to_dict(), indent=1, default=str))
    return 0


def _pending(job: Any) -> Any:
    from .state import JobState

    return JobState(job, "pending", "waiting for its training" if job.after else "")


def _cmd_run(args: argparse.Namespace) -> int:
    from .progress import StudyMonitor, counts_line
    from .report import build_study_report

    spec, plan, study, executor = _plan(args)
    if args.preset:
        print(f"preset {args.preset}:\n" + spec.describe())
    study.write_plan(plan, spec.text)
    study.event("plan", study=plan.name, study_sha256=plan.study_sha256, source=plan.source,
                jobs=len(plan.jobs), **plan.counts())
    states = study.states(plan)
    todo, done, failed, busy = [], 0, [], 0
    for s in states:
        if s.state == "done" and args.force:
            study.clear_result(s.job)
            todo.append(s.job)
        elif s.state == "done":
            done += 1
        elif s.state == "failed" and not args.retry_failed:
            failed.append(s)
        elif s.state == "running":
            busy += 1
        else:
            if s.state == "failed":
                study.clear_failure(s.job)
            todo.append(s.job)
    print(f"study {plan.name} -> {study.path}: {len(todo)} job(s) to run, {done} done before"
          + (f", {busy} running elsewhere" if busy else "")
          + (f", {len(failed)} failed before (not retried: --retry-failed)" if failed else ""))
    for s in failed:
        print(f"  failed: {s.job.label()} [job {s.job.id}]: {s.detail}")
    jobs = args.jobs or int(plan.run.get("jobs", 1))
    gpus = _gpus(args, plan, todo) if executor == "local" else []
    study.event("run_start", executor=executor, todo=len(todo), jobs=jobs, gpus=gpus)
    with StudyMonitor(study, plan, todo, parallel=max(jobs, len(gpus), 1)) as monitor:
        if not todo:
            counts = {"done": 0, "failed": 0, "skipped": 0}
        elif executor == "local":
            from .executors import LocalExecutor

            counts = LocalExecutor(study, jobs=jobs, gpus=gpus, monitor=monitor).run(todo)
        else:
            from .executors import follow, submit

            submitted = submit(study, plan, todo, cluster="local"
                               if executor == "submitit-local" else None,
                               slurm={**plan.slurm, **_slurm_flags(args)})
            print(f"submitted {len(submitted)} task(s): "
                  + ", ".join(sorted({str(j.job_id).split('_')[0] for _, j in submitted})))
            if args.no_wait:
                print(f"not waiting (--no-wait): litevid study status {study.path}")
                return 0
            counts = follow(study, plan, submitted, monitor)
    study.event("run_end", **counts)
    final = study.states(plan)
    print(f"study {plan.name}: " + counts_line(final))
    if not args.no_report:
        _, line = build_study_report(study, plan, figures=not args.no_figures)
        print(line)
    return 1 if any(s.state == "failed" for s in final) else 0


def _gpus(args: argparse.Namespace, plan: Any, todo: list[Any]) -> list[int]:
    if args.gpus is not None:
        return [int(g) for g in args.gpus.split(",") if g.strip()]
    if isinstance(plan.run.get("gpus"), list):
        return [int(g) for g in plan.run["gpus"]]
    if not any(j.gpus for j in todo):
        return []
    import torch

    return list(range(torch.cuda.device_count()))


def _slurm_flags(args: argparse.Namespace) -> dict[str, Any]:
    out = {}
    for key in ("partition", "time_min", "cpus_per_task"):
        value = getattr(args, f"slurm_{key}", None)
        if value is not None:
            out[key] = value
    return out


def _study_folder(target: str) -> Any:
    from .plan import study_dir
    from .spec import read_study
    from .state import StudyDir

    p = Path(target)
    if p.is_dir():
        return StudyDir(p), None
    spec = read_study(p, check_devices=False)
    from .plan import plan_study

    return StudyDir(study_dir(spec)), plan_study(spec)


def _cmd_status(args: argparse.Namespace) -> int:
    from ..utils.console import make_console
    from .progress import counts_line, status_table

    study, plan = _study_folder(args.target)
    plan = plan or study.read_plan()
    states = study.states(plan)
    shown = [s for s in states if not args.state or s.state in args.state.split(",")]
    print(f"study {plan.name} ({study.path}): " + counts_line(states, args.parallel))
    make_console().print(status_table(states, "", shown))
    if args.json:
        print(json.dumps([{"job": s.job.id, "label": s.job.label(), "state": s.state,
                           "detail": s.detail, "wall_s": s.wall_s} for s in states], indent=1))
    return 1 if any(s.state == "failed" for s in states) else 0


def _cmd_report(args: argparse.Namespace) -> int:
    from .report import build_study_report

    study, plan = _study_folder(args.target)
    plan = plan or study.read_plan()
    report, line = build_study_report(study, plan, figures=not args.no_figures)
    print(line)
    return 0 if report is not None else 2


def _study_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("study", nargs="?", help="the study file (TOML; see the README's \"Run the "
                   "study on your data\")")
    p.add_argument("--preset", choices=("smoke",), help="a built-in study (smoke: every model "
                   "briefly on the synthetic dataset, single-clip benchmarks on the CPU; about "
                   "15 minutes on 2 cores); a study file given too is applied on top")
    p.add_argument("--out", help="study folder (default: [study] out, else studies/<name>)")
    p.add_argument("--name", help="study name ([study] name)")
    p.add_argument("--models", help="comma-separated registry names, or all ([study] models)")
    p.add_argument("--datasets", help="comma-separated datasets without files, e.g. synthetic "
                   "(datasets with files: a study file or --set datasets.NAME.KEY=...)")
    p.add_argument("--modes", help="benchmark modes: train,batch,single or none")
    p.add_argument("--devices", help="benchmark devices: cpu, cuda, cuda:N, mps")
    p.add_argument("--train-device", help="where training and evaluation run")
    p.add_argument("--frames", type=int_at_least(1), help="clip length for every job")
    p.add_argument("--size", type=int_at_least(1), help="clip size for every job")
    p.add_argument("--epochs", type=int_at_least(1), help="recipe epochs")
    p.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                   help="override one entry, e.g. recipe.batch_size=4 or "
                        "datasets.ssv2.root=/data/ssv2 (repeatable; values in TOML syntax)")
    p.add_argument("--executor", choices=EXECUTORS, help="local (default; [run] executor), "
                   "slurm (submitit job arrays) or submitit-local (the SLURM path on this "
                   "machine)")


def add_parser(subparsers: Any) -> None:
    s = subparsers.add_parser(
        "study", help="the paper's whole method on your models, data and devices: plan, run, "
                      "status, report",
        description="Benchmark every model in every mode on every device, train and evaluate "
                    "every model on every dataset under one recipe, and report measured "
                    "latency against measured accuracy. Jobs are content-hashed: a run "
                    "continues where the last one stopped.")
    sub = s.add_subparsers(dest="study_command", metavar="ACTION", required=True)
    p = sub.add_parser("plan", help="print the jobs of a study and their hashes (runs nothing)")
    _study_args(p)
    p.add_argument("--json", action="store_true", help="also print the plan as JSON")
    p.set_defaults(func=_cmd_plan)

    r = sub.add_parser("run", help="run the jobs without a result, then write the report")
    _study_args(r)
    r.add_argument("--jobs", type=int_at_least(1), help="CPU jobs at once (default [run] "
                   "jobs, else 1); a CPU benchmark always runs alone")
    r.add_argument("--gpus", help="GPU indices to use, e.g. 0,1 (default: all visible); one "
                   "job per GPU")
    r.add_argument("--force", action="store_true", help="run finished jobs again (their "
                   "previous result and run folder are kept, renamed)")
    r.add_argument("--retry-failed", action="store_true", help="run failed jobs again (a "
                   "training continues from its last checkpoint)")
    r.add_argument("--no-report", action="store_true", help="do not write the report")
    r.add_argument("--no-figures", action="store_true", help="report tables only")
    r.add_argument("--no-wait", action="store_true", help="slurm: return after submitting")
    r.add_argument("--slurm-partition", help="SLURM partition ([slurm] partition)")
    r.add_argument("--slurm-time-min", type=int_at_least(1), help="SLURM time limit per task")
    r.add_argument("--slurm-cpus-per-task", type=int_at_least(1), help="SLURM CPUs per task")
    r.set_defaults(func=_cmd_run)

    st = sub.add_parser("status", help="done / running / failed / pending, times, time left")
    st.add_argument("target", help="the study folder, or its study file")
    st.add_argument("--state", help="only jobs in these states, e.g. failed,running")
    st.add_argument("--parallel", type=int_at_least(1), default=1,
                    help="jobs run at once, for the time-left estimate (default 1)")
    st.add_argument("--json", action="store_true", help="also print the states as JSON")
    st.set_defaults(func=_cmd_status)

    rp = sub.add_parser("report", help="rebuild the study's results.db and report from its "
                        "finished jobs")
    rp.add_argument("target", help="the study folder, or its study file")
    rp.add_argument("--no-figures", action="store_true", help="tables only")
    rp.set_defaults(func=_cmd_report)
