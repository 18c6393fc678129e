"""``litevid bench``: measure registered models in the study's modes and store the rows.

With no arguments: on a GPU the study's protocol (train B=8, batch B=32, single B=1, AMP,
10 warm-up + 100 timed runs); on CPU every model in ``single`` mode with adaptive iterations.
See ``BenchConfig`` for every default.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from .config import MODES, PRECISIONS, BenchConfig

_HELP = {
    "models": "comma-separated registry names or shell patterns, or 'all' (default)",
    "modes": f"comma-separated subset of {','.join(MODES)} (default: all three on a GPU, "
             "'single' on CPU)",
    "device": "auto (default: cuda, then mps, then cpu), cpu, cuda, cuda:N or mps",
    "frames": "clip length T (default: each model's spec, 16)",
    "size": "frame size H=W (default: each model's spec, 224)",
    "batch_size": "one batch size for every mode (default: the paper's 8 / 32 / 1)",
    "warmup": "untimed runs first (default 10 on a GPU, 2 on CPU)",
    "iters": "minimum timed runs (default 100 on a GPU, 10 on CPU)",
    "max_iters": "maximum timed runs (default max(--iters, 100))",
    "min_seconds": "minimum duration of the timed loop (default 0 on a GPU, 10 on CPU)",
    "memory_iters": "steps in the separate memory pass (default 3 on a GPU, 1 on CPU)",
    "precision": f"{' | '.join(PRECISIONS)} (default: amp-fp16 on CUDA, fp32 elsewhere)",
    "channels_last": "channels_last_3d memory format for model and input",
    "compile": "torch.compile the model (compiled before warm-up, outside the timed region)",
    "fit_batch": "if the batch does not fit in memory, measure the largest batch that does "
                 "(recorded in the row next to the requested one)",
    "in_process": "run every model in this process (default: one subprocess per model and mode)",
    "threads": "torch intra-op threads (default: torch's default)",
    "import_modules": "comma-separated modules to import first (e.g. to register your models)",
    "seed": "seed of weights and synthetic inputs",
    "db": "SQLite results store (default litevid-results.db in the working directory)",
    "json": "also write this run's rows to this JSON file",
}


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(BenchConfig)
              if getattr(args, f.name, None) is not None}
    return BenchConfig(**values)


def _progress_columns():
    from rich.progress import BarColumn, SpinnerColumn, TextColumn, TimeElapsedColumn

    return (SpinnerColumn(), TextColumn("{task.description:<28}"), BarColumn(bar_width=24),
            TextColumn("{task.fields[info]}"), TimeElapsedColumn())


def run_bench(cfg: BenchConfig, *, console: Any = None) -> list[dict[str, Any]]:
    """Run a benchmark sweep, write every row to the store (and JSON), return the rows."""
    from pathlib import Path

    from rich.console import Console
    from rich.progress import Progress

    from ..utils.io import write_json
    from ..results.store import ResultStore
    from .runner import plan_jobs, resolve_device, run_job, run_job_subprocess

    err = console or Console(stderr=True)
    device = resolve_device(cfg.device)
    cfg = cfg.resolved(device.split(":")[0])
    if cfg.json and not Path(cfg.json).resolve().parent.is_dir():
        raise FileNotFoundError(f"--json {cfg.json}: directory does not exist")
    jobs = plan_jobs(cfg, device)
    rows: list[dict[str, Any]] = []
    protocol = (f"warm-up {cfg.warmup}, timed runs >= {cfg.iters} and >= {cfg.min_seconds:g} s "
                f"(max {cfg.max_iters}), {cfg.precision}"
                + (", channels_last" if cfg.channels_last else "")
                + (", compiled" if cfg.compile else "")
                + ("" if cfg.in_process else ", one process per model/mode"))
    err.print(f"litevid bench: {len(jobs)} job(s) on {device}: {protocol}; results -> {cfg.db}")
    with ResultStore(cfg.db) as store, Progress(*_progress_columns(), console=err) as progress:
        for job in jobs:
            task = progress.add_task(f"{job.model} {job.mode} b{job.batch_size}", total=None,
                                     info="starting")

            def report(phase: str, n: int, total: int | None, task=task, job=job) -> None:
                if phase == "warmup":
                    progress.update(task, total=total, completed=n, info=f"warm-up {n}/{total}")
                elif phase == "timing":
                    progress.update(task, total=job.min_iters, completed=min(n, job.min_iters),
                                    info=f"timing {n} it")
                elif phase != "done":
                    progress.update(task, info=phase)

            run = run_job if cfg.in_process else run_job_subprocess
            row = run(job, report)
            row["settings"] = {**(row.get("settings") or {}), "run_config": cfg.to_dict()}
            store.insert(row)
            rows.append(row)
            ok = row["status"] == "ok"
            info = (f"{row['median_ms']:.1f} ms median, n={row['n']}" if ok
                    else f"[red]{row['status'][:70]}[/red]")
            progress.update(task, total=1, completed=1, info=info)
    if cfg.json:
        write_json(cfg.json, rows, indent=1)
    return rows


def _cmd_bench(args: argparse.Namespace) -> int:
    from ..results.table import measurement_table
    from ..utils.console import make_console
    from .stats import CV_WARN_THRESHOLD

    cfg = config_from_args(args)
    rows = run_bench(cfg)
    if not rows:
        return 0
    device = rows[0].get("device_name") or "?"
    make_console().print(measurement_table(
        rows, f"litevid bench: {device}, {rows[0].get('precision')}",
        caption="relative = median / fastest model's median in this run, per mode; "
                "GFLOPs, TFLOP/s: 1 multiply-add = 1 FLOP; CV > 10% marked '!'"))
    for r in rows:
        if r["status"] == "ok" and r.get("cv") is not None and r["cv"] > CV_WARN_THRESHOLD:
            print(f"warning: {r['model']} {r['mode']}: CV {r['cv'] * 100:.1f}% > "
                  f"{CV_WARN_THRESHOLD * 100:.0f}%: noisy measurement (busy machine, throttling?); "
                  "raise --min-seconds or rerun on an idle machine", file=sys.stderr)
    failed = sum(r["status"] != "ok" for r in rows)
    print(f"{len(rows)} row(s) written to {cfg.db}" + (f" ({failed} failed)" if failed else ""),
          file=sys.stderr)
    return 0


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "bench", help="measure latency and memory of models (train / batch / single)",
        description="Measure registered models in the study's three modes and store one row per "
                    "(model, mode) in an SQLite results store. Defaults: the study's protocol on "
                    "a GPU; single mode with adaptive iterations on CPU.")
    d = BenchConfig()
    p.add_argument("--models", default=d.models, help=_HELP["models"])
    p.add_argument("--modes", default=d.modes, help=_HELP["modes"])
    p.add_argument("--device", default=d.device, help=_HELP["device"])
    for name, typ in (("frames", int), ("size", int), ("batch_size", int), ("warmup", int),
                      ("iters", int), ("max_iters", int), ("min_seconds", float),
                      ("memory_iters", int), ("threads", int)):
        p.add_argument("--" + name.replace("_", "-"), dest=name, type=typ, default=None,
                       help=_HELP[name])
    p.add_argument("--precision", default=d.precision, choices=("auto", *PRECISIONS),
                   help=_HELP["precision"])
    for name in ("channels_last", "compile", "fit_batch", "in_process"):
        p.add_argument("--" + name.replace("_", "-"), dest=name, action="store_true",
                       help=_HELP[name])
    p.add_argument("--import", dest="import_modules", default="", help=_HELP["import_modules"])
    p.add_argument("--seed", type=int, default=d.seed, help=_HELP["seed"])
    p.add_argument("--db", default=d.db, help=_HELP["db"])
    p.add_argument("--json", default=None, help=_HELP["json"])
    p.set_defaults(func=_cmd_bench)
