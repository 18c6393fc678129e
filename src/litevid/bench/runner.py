"""Runs (model, mode) jobs and turns each into one result row, whatever happens.

A job runs in its own subprocess by default (``python -m litevid.bench.worker``), so every
measurement starts from a fresh allocator, a fresh CUDA context and an honest peak RSS, and a
crash (segfault, OOM killer) of one model cannot end the sweep. ``--in-process`` runs jobs here.

``run_bench`` resolves the device (``litevid.devices``: ``auto``/``cuda`` become an indexed
``cuda:N``) and the configuration, plans one ``Job`` per (model, mode, runtime) and runs them in
order, storing each ``Measurement`` as soon as it exists. ``run_job`` runs the phases of one job,
each a function of its own, and assembles their results into the row once (``_row``):

1. set-up: the device backend made current, its library settings, the precision chosen;
2. build the step (``backends.step_backend``: eager model or exported artefact) and, with
   ``fit_batch``, search the largest batch that fits;
3. count FLOPs at that batch on the meta device;
4. prepare the step at that batch (compile here, outside timing), warm up, the timed loop;
5. a separate memory pass, then (``--profile``) a profiled pass.

An out-of-memory error (the device backend decides what counts: torch's OOM, host allocator
failures, cuBLAS/cuDNN allocation failures on CUDA) gives status ``oom``; any other exception
``error: <type>: <message>``. A failure in the memory or profile pass keeps the finished timing:
the row stays ``ok`` and ``pass_errors`` says which pass failed and how. The batch is never
changed silently: with ``fit_batch`` the row records the requested and the measured batch.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from ..results.measurement import Measurement
from ..utils.registry import import_modules
from .config import BenchConfig, Job
from .environment import worker_env

if TYPE_CHECKING:
    from ..devices import DeviceBackend, MemoryResult
    from .modes import PreparedStep
    from .timing import TimingResult

__all__ = ["Job", "ProgressFn", "failure_row", "fit_batch", "plan_jobs", "run_bench", "run_job",
           "run_job_subprocess", "select_models"]

# progress(phase, n, total): phase in build/optimize/export/fit-batch/flops/prepare/compile/
# warmup/timing/memory/profile/done.
ProgressFn = Callable[[str, int, "int | None"], None]

WORKER_MARK = "@@litevid-bench "  # prefix of the worker's protocol lines on stdout


def select_models(pattern: str) -> list[str]:
    """Registry names from ``all`` or a comma list of names / shell patterns (order kept)."""
    from ..models import list_models, model_spec

    available = list_models()
    if pattern.strip() in ("", "all"):
        if not available:
            raise ValueError("no models are registered")
        return available
    names: list[str] = []
    for part in (p.strip() for p in pattern.split(",")):
        if not part:
            continue
        if any(ch in part for ch in "*?["):
            hits = list_models(part)
            if not hits:
                raise ValueError(f"--models pattern {part!r} matches no registered model")
        else:
            model_spec(part)  # raises a clear "unknown model ... did you mean" error
            hits = [part]
        names.extend(h for h in hits if h not in names)
    return names


def plan_jobs(cfg: BenchConfig, device: str) -> list[Job]:
    """Jobs of a resolved config: every selected model in every mode (model-major order)."""
    import_modules(cfg.import_modules)
    return [Job(model=name, mode=mode, batch_size=cfg.batch_for(mode), device=device, config=cfg,
                runtime=runtime)
            for name in select_models(cfg.models) for mode in cfg.mode_list()
            for runtime in cfg.runtime_list()]


def _error_status(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()
    first = msg[0] if msg else ""
    text = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return "error: " + (text[:300] + "..." if len(text) > 300 else text)


# ---- the batch search ---------------------------------------------------------------------------

def _fits(build_step: Callable[[int], Callable[[], Any]], batch: int,
          device: DeviceBackend) -> bool:
    """True when two steps at ``batch`` run without running out of memory (other errors raise)."""
    step = None
    try:
        step = build_step(batch)
        step()
        step()  # the second step holds optimizer state and cached workspaces too
        return True
    except Exception as exc:
        if not device.is_oom(exc):
            raise
        return False
    finally:
        step = None  # noqa: F841  release the inputs before the next probe
        device.free()


def fit_batch(build_step: Callable[[int], Callable[[], Any]], requested: int,
              device: DeviceBackend) -> int:
    """Largest batch <= ``requested`` whose step fits in memory; 0 when even batch 1 does not.

    Halves until a batch fits, then bisects between that batch and the smallest failing one.
    What counts as out of memory is ``device.is_oom`` (on CUDA also cuBLAS/cuDNN allocation
    failures), so the search goes on where those appear.
    """
    if _fits(build_step, requested, device):
        return requested
    bad, good = requested, requested // 2
    while good >= 1 and not _fits(build_step, good, device):
        bad, good = good, good // 2
    if good < 1:
        return 0
    while bad - good > 1:
        mid = (good + bad) // 2
        if _fits(build_step, mid, device):
            good = mid
        else:
            bad = mid
    return good


# ---- one job: phases, then one row ------------------------------------------------------------

@dataclass
class _Outcome:
    """What the phases of a job produced; ``_row`` turns it into the ``Measurement``."""

    status: str = "ok"
    precision: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    batch: int | None = None
    gflops: float | None = None
    compile_s: float | None = None
    timing: TimingResult | None = None
    timer: str | None = None
    cpu_s: float | None = None
    memory: MemoryResult | None = None
    profile: list[dict[str, Any]] | None = None
    pass_errors: dict[str, str] = field(default_factory=dict)


def _row(job: Job, env: dict[str, Any], out: _Outcome) -> Measurement:
    """The job's row, built once from the outcome of its phases."""
    from ..results.stats import summarize

    cfg = job.config
    frames = size = chans = None
    try:
        from ..models import model_spec

        spec = model_spec(job.model)
        frames, size, chans = cfg.frames or spec.frames, cfg.size or spec.size, spec.in_chans
    except Exception:  # an unknown model: the row still says what was asked
        pass
    stats = None if out.timing is None else summarize(out.timing.samples_ms)
    mem = out.memory
    row = Measurement(
        model=job.model, mode=job.mode, runtime=job.runtime, status=out.status,
        batch=out.batch or job.batch_size, requested_batch=job.batch_size,
        frames=frames, size=size,
        input_shape=None if frames is None else f"{chans}x{frames}x{size}x{size}",
        precision=out.precision or cfg.precision, channels_last=cfg.channels_last,
        compile=cfg.compile, optimized=cfg.optimize, gflops=out.gflops,
        compile_s=out.compile_s, timer=out.timer, cpu_s=out.cpu_s,
        timed_s=None if out.timing is None else out.timing.wall_s,
        tflops=(out.gflops / stats.median if stats is not None and out.gflops is not None
                and stats.median > 0 else None),
        peak_mem_bytes=None if mem is None else mem.peak_bytes,
        mem_kind=None if mem is None else mem.kind, mem_detail=None if mem is None else mem.detail,
        profile=out.profile, pass_errors=out.pass_errors or None,
        settings={"model": job.model, "mode": job.mode, "runtime": job.runtime,
                  "batch_size": job.batch_size, "device": job.device, "isolated": job.isolated,
                  "run_config": cfg.to_dict(), **out.settings})
    if stats is not None:
        row.set_latency(stats, out.timing.samples_ms)
    row.set_environment(env)
    return row


def failure_row(job: Job, env: dict[str, Any], status: str) -> Measurement:
    """A row for a job that produced no measurement (used when a worker dies)."""
    return _row(job, env, _Outcome(status=status))


def _choose_batch(build: Callable[[int], PreparedStep], job: Job, device: DeviceBackend,
                  report: ProgressFn) -> int:
    """``--fit-batch``: the largest batch <= the job's whose step fits (0: not even 1)."""
    report("fit-batch", 0, None)

    def probe(b: int) -> Callable[[], None]:
        prepared = build(b)

        def run() -> None:
            with prepared.context():
                prepared.step()

        return run

    return fit_batch(probe, job.batch_size, device)


def _count_flops(job: Job, input_shape: tuple[int, ...], batch: int) -> float:
    """GFLOPs of one step at ``batch`` (forward, and backward for training modes), counted on
    the meta device: no memory, no compute."""
    import torch

    from ..models import create_model
    from .flops import count_flops
    from .modes import MODE_TABLE

    _, frames, size, _ = input_shape
    with torch.device("meta"):
        meta_model = create_model(job.model, frames=frames, size=size)
    training = MODE_TABLE[job.mode].training
    meta_model.train(training)
    return count_flops(meta_model, (batch, *input_shape), backward=training).gflops


def _memory_pass(prepared: PreparedStep, device: DeviceBackend, job: Job) -> MemoryResult:
    """``memory_iters`` more steps, measured by the device's memory tracker (its own pass)."""
    iters = job.config.memory_iters

    def run() -> None:
        for _ in range(iters):
            prepared.step()

    with prepared.context():
        return device.measure_memory(run, isolated=job.isolated)


def _profile_pass(prepared: PreparedStep, device: DeviceBackend) -> list[dict[str, Any]]:
    """Top operators by self time over a few more steps (after the memory pass, so the
    profiler's own memory is not in it)."""
    from .profile import profile_step

    with prepared.context():
        return profile_step(prepared.step, device)


def _after_timing(name: str, fn: Callable[[], Any], device: DeviceBackend,
                  out: _Outcome) -> Any:
    """Run a pass that follows the timing; a failure is recorded in ``out.pass_errors`` and
    the finished timing is kept."""
    try:
        return fn()
    except Exception as exc:
        out.pass_errors[name] = "oom" if device.is_oom(exc) else _error_status(exc)
        device.free()
        return None


def run_job(job: Job, progress: ProgressFn | None = None, *,
            step_factory: Callable[..., Any] | None = None) -> Measurement:
    """Measure one job in this process and return its row (never raises for model failures).

    Args:
        job: what to measure.
        progress: ``progress(phase, n, total)`` callback.
        step_factory: replaces ``modes.prepare_step`` (tests inject failing steps here).
    """
    import torch

    from ..devices import get_backend
    from ..models import model_spec
    from .backends import step_backend
    from .timing import StopRule, time_prepared

    cfg = job.config
    report: ProgressFn = progress or (lambda phase, n, total: None)
    import_modules(cfg.import_modules)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = get_backend(job.device)
    device.set_current()  # events, streams and memory statistics follow the current device
    out = _Outcome(settings={"device_config": device.configure()})
    env = device.environment()
    build = None
    try:
        choice = device.choose_precision(cfg.precision)
        out.precision = choice.precision
        out.settings["precision_choice"] = choice.reason
        spec = model_spec(job.model)
        input_shape = (spec.in_chans, cfg.frames or spec.frames, cfg.size or spec.size,
                       cfg.size or spec.size)
        torch.manual_seed(cfg.seed)
        steps = step_backend(job.runtime, step_factory)
        build, facts = steps.prepare(job, device, input_shape, choice.precision, report)
        batch = _choose_batch(build, job, device, report) if cfg.fit_batch else job.batch_size
        if batch == 0:  # even batch 1 does not fit
            out.batch, out.status = 1, "oom"
            return _row(job, env, out)
        out.batch = batch
        report("flops", 0, None)
        out.gflops = _count_flops(job, input_shape, batch)
        report("compile" if cfg.compile else "prepare", 0, None)
        prepared = build(batch)
        out.settings.update(facts)  # what building the step found (optimize report, export)
        out.compile_s = prepared.compile_s
        out.settings["grad_scaler"] = prepared.grad_scaler
        rule = StopRule(min_iters=cfg.iters, min_seconds=cfg.min_seconds,
                        max_iters=cfg.max_iters)
        out.timing, out.cpu_s, out.timer = time_prepared(prepared, device, cfg.warmup, rule,
                                                         report)
        report("memory", 0, cfg.memory_iters)
        out.memory = _after_timing("memory", lambda: _memory_pass(prepared, device, job),
                                   device, out)
        if cfg.profile:
            report("profile", 0, None)
            out.profile = _after_timing("profile", lambda: _profile_pass(prepared, device),
                                        device, out)
    except Exception as exc:
        out.status = "oom" if device.is_oom(exc) else _error_status(exc)
    finally:
        build = prepared = None  # noqa: F841  free the model before the next job
        device.free()
        report("done", 1, 1)
    return _row(job, env, out)


# ---- subprocess isolation ---------------------------------------------------------------------

def worker_environment(device: str) -> dict[str, Any]:
    """Environment record collected in a short-lived worker (keeps CUDA out of this process)."""
    dtype = device.split(":")[0]
    if dtype == "cpu":
        from ..devices import get_backend

        return get_backend("cpu").environment()
    out = subprocess.run([sys.executable, "-m", "litevid.bench.worker", "--env", device],
                         capture_output=True, text=True, env=worker_env(), timeout=300)
    for line in out.stdout.splitlines():
        if line.startswith(WORKER_MARK):
            return json.loads(line[len(WORKER_MARK):])["env"]
    return {"device_type": dtype, "device_name": f"{device} (unknown: worker failed)"}


def run_job_subprocess(job: Job, progress: ProgressFn | None = None,
                       timeout_s: float | None = None) -> Measurement:
    """Run ``job`` in ``python -m litevid.bench.worker`` and return its row.

    The job goes in on stdin as JSON; the worker prints protocol lines (``WORKER_MARK`` + JSON:
    progress events, then the row) on stdout; anything else it prints is ignored. A worker that
    dies without a row (segfault, killed by the OS) still gives a row with an ``error`` status.
    """
    report: ProgressFn = progress or (lambda phase, n, total: None)
    with tempfile.TemporaryFile(mode="w+") as err:
        proc = subprocess.Popen([sys.executable, "-m", "litevid.bench.worker"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                text=True, env=worker_env())
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(job.to_dict()))
        proc.stdin.close()
        row: Measurement | None = None
        t0 = time.monotonic()
        for line in proc.stdout:
            if not line.startswith(WORKER_MARK):
                continue
            msg = json.loads(line[len(WORKER_MARK):])
            if msg.get("event") == "progress":
                report(msg["phase"], msg["n"], msg.get("total"))
            elif msg.get("event") == "result":
                row = Measurement.from_dict(msg["row"])
            if timeout_s is not None and time.monotonic() - t0 > timeout_s:
                proc.kill()
                break
        rc = proc.wait()
        if row is not None:
            return row
        err.seek(0)
        tail = [ln for ln in err.read().strip().splitlines() if ln.strip()]
        last = tail[-1].strip() if tail else ""
        if rc < 0:
            why = f"worker killed by signal {-rc}"
            if -rc == 9:
                why += " (the OS out-of-memory killer?)"
        else:
            why = f"worker exited with code {rc}"
        status = f"error: {why}" + (f": {last[:300]}" if last else "")
    return failure_row(job, worker_environment(job.device), status)


# ---- the sweep ---------------------------------------------------------------------------------

def _phase_text(phase: str, n: int, total: int | None) -> str:
    if phase == "warmup":
        return f"warm-up {n}/{total}"
    if phase == "timing":
        return f"timing {n} it"
    return phase


def run_bench(cfg: BenchConfig, *, progress: Any = None,
              deadline: float | None = None) -> list[Measurement]:
    """Run a benchmark sweep: resolve ``cfg`` for the device, run every job (in a worker process
    unless ``in_process``), write each row to the store as soon as it exists (and all rows to
    ``cfg.json``), and return the rows.

    Args:
        cfg: the run configuration (``auto``/``None`` fields are resolved here).
        progress: a ``utils.console.JobProgress`` (default: live on a terminal, one plain line
            per finished job when stdout is not a terminal).
        deadline: a ``time.monotonic()`` time after which no further job starts (a time-boxed
            run such as ``tools/gpu_protocol.py``); the jobs left out have no row.
    """
    from pathlib import Path

    from ..devices import backend_class, resolve_device
    from ..results.store import ResultStore
    from ..utils.console import JobProgress, escape_markup, make_console
    from ..utils.io import write_json

    import_modules(cfg.import_modules)
    device = resolve_device(cfg.device)  # cuda -> cuda:N (no CUDA context in this process)
    cfg = cfg.resolved(device.split(":")[0])
    if cfg.json and not Path(cfg.json).resolve().parent.is_dir():
        raise FileNotFoundError(f"--json {cfg.json}: directory does not exist")
    jobs = plan_jobs(cfg, device)
    protocol = (f"warm-up {cfg.warmup}, timed runs >= {cfg.iters} and >= {cfg.min_seconds:g} s "
                f"(max {cfg.max_iters}), precision {cfg.precision}"
                + (f" ({backend_class(device.split(':')[0]).AUTO_PRECISION})"
                   if cfg.precision == "auto" else "")
                + (", channels_last" if cfg.channels_last else "")
                + (", compiled" if cfg.compile else "")
                + ("" if cfg.in_process else ", one process per model/mode"))
    make_console(stderr=True).print(
        escape_markup(f"litevid bench: {len(jobs)} job(s) on {device}: {protocol}; results -> "
                      f"{cfg.db}"))
    rows: list[Measurement] = []
    run = run_job if cfg.in_process else run_job_subprocess
    with ResultStore(cfg.db) as store, (progress or JobProgress(len(jobs))) as jp:
        for job in jobs:
            if deadline is not None and time.monotonic() > deadline:
                break
            jp.start(f"{job.model} {job.mode} b{job.batch_size}")

            def report(phase: str, n: int, total: int | None, job: Job = job) -> None:
                if phase == "timing":  # the bar fills up to the minimum iteration count
                    jp.update(_phase_text(phase, n, total), completed=min(n, job.config.iters),
                              total=job.config.iters)
                elif phase == "warmup":
                    jp.update(_phase_text(phase, n, total), completed=n, total=total)
                elif phase != "done":
                    jp.update(phase)

            row = run(job, report)
            store.insert(row)
            rows.append(row)
            jp.finish(f"{row.median_ms:.1f} ms median, n={row.n}" if row.status == "ok"
                      else f"[red]{escape_markup(row.status[:70])}[/red]")
    if cfg.json:
        write_json(cfg.json, [r.to_dict() for r in rows], indent=1)
    return rows
