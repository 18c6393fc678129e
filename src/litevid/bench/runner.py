"""Runs (model, mode) jobs and turns each into one result row, whatever happens.

A job runs in its own subprocess by default (``python -m litevid.bench.worker``), so every
measurement starts from a fresh allocator, a fresh CUDA context and an honest peak RSS, and a
crash (segfault, OOM killer) of one model cannot end the sweep. ``--in-process`` runs jobs here.

``run_bench`` resolves the configuration for the device, plans one ``Job`` per (model, mode) and
runs them in order, storing each ``Measurement`` as soon as it exists. ``run_job`` does, in this
order: build the model on the device (channels-last if asked) -> with ``fit_batch``, search the
largest batch that fits -> count FLOPs at that batch on the meta device -> prepare inputs and the
step (compile here, outside timing) -> warm-up -> timed loop -> a separate memory pass.
An out-of-memory error at any point gives status ``oom``; any other exception gives
``error: <type>: <message>``. The batch is never changed silently: with ``fit_batch`` the row
records both the requested and the measured batch.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Callable

from ..results.measurement import Measurement
from ..utils.registry import import_modules
from .config import BenchConfig

__all__ = ["Job", "ProgressFn", "is_oom", "plan_jobs", "resolve_device", "run_bench", "run_job",
           "run_job_subprocess", "failure_row"]

# progress(phase, n, total): phase in flops/build/fit-batch/compile/warmup/timing/memory/done.
ProgressFn = Callable[[str, int, "int | None"], None]

WORKER_MARK = "@@litevid-bench "  # prefix of the worker's protocol lines on stdout


@dataclass
class Job:
    """One (model, mode) measurement: what to run and the resolved run configuration."""

    model: str
    mode: str
    batch_size: int
    device: str
    config: BenchConfig  # resolved for the device (``BenchConfig.resolved``)
    runtime: str = "eager"  # what executes the step (eager PyTorch, or an exported artefact's)

    @property
    def isolated(self) -> bool:
        """True when the job runs in its own worker process."""
        return not self.config.in_process

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "Job":
        return cls(**{**values, "config": BenchConfig(**values["config"])})


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` / ``mps`` / ``cpu``; explicit devices are checked to exist."""
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    dtype = device.split(":")[0]
    if dtype == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: CUDA is not available in this torch build/machine")
    if dtype == "cuda" and ":" in device:
        index = device.split(":", 1)[1]
        if not index.isdigit() or int(index) >= torch.cuda.device_count():
            raise ValueError(f"--device {device}: no such CUDA device "
                             f"({torch.cuda.device_count()} visible)")
    if dtype == "mps" and not (getattr(torch.backends, "mps", None) is not None
                               and torch.backends.mps.is_available()):
        raise ValueError(f"--device {device}: MPS is not available on this machine")
    if dtype not in ("cpu", "cuda", "mps"):
        raise ValueError(f"--device {device!r}: choose auto, cpu, cuda, cuda:N or mps")
    return device


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


def is_oom(exc: BaseException) -> bool:
    """Out of memory on any device: torch's OOM error, or the allocator messages of CPU/MPS."""
    import torch

    oom_types = tuple(t for t in (getattr(torch, "OutOfMemoryError", None),
                                  getattr(torch.cuda, "OutOfMemoryError", None)) if t is not None)
    if oom_types and isinstance(exc, oom_types):
        return True
    if isinstance(exc, (RuntimeError, MemoryError)):
        msg = str(exc).lower()
        return isinstance(exc, MemoryError) or "out of memory" in msg or "can't allocate memory" in msg
    return False


def _error_status(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()
    first = msg[0] if msg else ""
    text = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return "error: " + (text[:300] + "..." if len(text) > 300 else text)


def _measurement(job: Job, env: dict[str, Any], frames: int | None, size: int | None,
                 in_chans: int | None) -> Measurement:
    cfg = job.config
    m = Measurement(
        model=job.model, mode=job.mode, runtime=job.runtime, batch=job.batch_size,
        requested_batch=job.batch_size,
        frames=frames, size=size,
        input_shape=None if frames is None else f"{in_chans}x{frames}x{size}x{size}",
        precision=cfg.precision, channels_last=cfg.channels_last, compile=cfg.compile,
        optimized=cfg.optimize,
        settings={"model": job.model, "mode": job.mode, "runtime": job.runtime,
                  "batch_size": job.batch_size,
                  "device": job.device, "isolated": job.isolated, "run_config": cfg.to_dict()})
    m.set_environment(env)
    return m


def failure_row(job: Job, env: dict[str, Any], status: str) -> Measurement:
    """A row for a job that produced no measurement (used when a worker dies)."""
    frames = size = chans = None
    try:
        from ..models import model_spec

        spec = model_spec(job.model)
        frames, size = job.config.frames or spec.frames, job.config.size or spec.size
        chans = spec.in_chans
    except Exception:
        pass
    row = _measurement(job, env, frames, size, chans)
    row.status = status
    return row


def _free(device_type: str) -> None:
    gc.collect()
    if device_type == "cuda":
        import torch

        torch.cuda.empty_cache()


def _fits(build_step: Callable[[int], Callable[[], Any]], batch: int, device_type: str) -> bool:
    """True when two steps at ``batch`` run without running out of memory (other errors raise)."""
    try:
        step = build_step(batch)
        step()
        step()  # the second step holds optimizer state and cached workspaces too
        return True
    except Exception as exc:
        if not is_oom(exc):
            raise
        return False
    finally:
        step = None  # noqa: F841  release the inputs before the next probe
        _free(device_type)


def fit_batch(build_step: Callable[[int], Callable[[], Any]], requested: int,
              device_type: str) -> int:
    """Largest batch <= ``requested`` whose step fits in memory; 0 when even batch 1 does not.

    Halves until a batch fits, then bisects between that batch and the smallest failing one.
    """
    if _fits(build_step, requested, device_type):
        return requested
    bad, good = requested, requested // 2
    while good >= 1 and not _fits(build_step, good, device_type):
        bad, good = good, good // 2
    if good < 1:
        return 0
    while bad - good > 1:
        mid = (good + bad) // 2
        if _fits(build_step, mid, device_type):
            good = mid
        else:
            bad = mid
    return good


def run_job(job: Job, progress: ProgressFn | None = None, *,
            step_factory: Callable[..., Any] | None = None) -> Measurement:
    """Measure one job in this process and return its row (never raises for model failures).

    Args:
        job: what to measure.
        progress: ``progress(phase, n, total)`` callback.
        step_factory: replaces ``modes.prepare_step`` (tests inject failing steps here).
    """
    import torch

    from ..models import create_model, model_spec, to_channels_last
    from ..results.stats import summarize
    from .environment import collect_environment
    from .flops import count_flops
    from .memory import measure_memory
    from .modes import MODE_TABLE, make_inputs, prepare_step
    from .timing import StopRule, make_timer, run_timed, warm_up

    cfg = job.config
    report: ProgressFn = progress or (lambda phase, n, total: None)
    make_step = step_factory or prepare_step
    import_modules(cfg.import_modules)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = torch.device(job.device)
    if device.type == "cuda":
        torch.cuda.set_device(device)  # events and memory stats follow the current device
        torch.backends.cudnn.benchmark = True  # autotuning runs during warm-up, as in timm
    env = collect_environment(device.type, device.index or 0)
    spec = model_spec(job.model)
    frames, size = cfg.frames or spec.frames, cfg.size or spec.size
    row = _measurement(job, env, frames, size, spec.in_chans)
    input_shape = (spec.in_chans, frames, size, size)
    model = prepared = None
    try:
        rule = StopRule(min_iters=cfg.iters, min_seconds=cfg.min_seconds, max_iters=cfg.max_iters)
        torch.manual_seed(cfg.seed)
        timer = make_timer(device.type)
        if job.runtime == "eager":
            report("build", 0, None)
            model = create_model(job.model, frames=frames, size=size).to(device)
            if cfg.channels_last:
                model = to_channels_last(model)  # 5-D and 4-D params by rank
            if cfg.optimize:  # the deployment-speed form; --compile stays prepare_step's job
                from ..optimization import optimize

                report("optimize", 0, None)
                model = optimize(model, inplace=True, input_shape=input_shape,
                                 for_="training" if MODE_TABLE[job.mode].training
                                 else "inference",
                                 layout="channels_last" if cfg.channels_last else "auto")
                row.settings["optimize"] = model.report.to_dict()

            def build(batch: int):
                x, target = make_inputs(input_shape, batch, model.num_classes, device,
                                        channels_last=cfg.channels_last, seed=cfg.seed)
                return make_step(model, job.mode, x, target, precision=cfg.precision,
                                 compile=cfg.compile, sync=timer.synchronize)
        else:  # time the exported artefact (exported and parity-checked here, untimed)
            from ..export.runtime_step import prepare_runtime_step

            def build(batch: int):
                report("export", 0, None)
                x, _ = make_inputs(input_shape, batch, 1, device, seed=cfg.seed)
                prepared, facts = prepare_runtime_step(job.model, job.runtime, x, frames=frames,
                                                       size=size, threads=cfg.threads,
                                                       seed=cfg.seed)
                row.settings["export"] = facts
                return prepared

        batch = job.batch_size
        if cfg.fit_batch:
            report("fit-batch", 0, None)

            def probe(b: int) -> Callable[[], Any]:
                prepared = build(b)

                def run() -> None:
                    with prepared.context():
                        prepared.step()

                return run

            batch = fit_batch(probe, job.batch_size, device.type)
            if batch == 0:  # even batch 1 does not fit
                row.batch, row.status = 1, "oom"
                return row
            row.batch = batch

        report("flops", 0, None)
        with torch.device("meta"):
            meta_model = create_model(job.model, frames=frames, size=size)
        training = MODE_TABLE[job.mode].training
        if training:
            meta_model.train()
        row.gflops = count_flops(meta_model, (batch, *input_shape), backward=training).gflops
        del meta_model

        report("compile" if cfg.compile else "prepare", 0, None)
        prepared = build(batch)
        row.compile_s = prepared.compile_s
        with prepared.context():
            warm_up(prepared.step, timer, cfg.warmup,
                    on_iter=lambda n: report("warmup", n, cfg.warmup))
            cpu0 = time.process_time()
            timing = run_timed(prepared.step, timer, rule,
                               on_iter=lambda n: report("timing", n, None))
            row.cpu_s = time.process_time() - cpu0
            report("memory", 0, cfg.memory_iters)

            def memory_pass() -> None:
                for _ in range(cfg.memory_iters):
                    prepared.step()

            mem = measure_memory(memory_pass, device.type, device_index=device.index or 0,
                                 isolated=job.isolated)
            if cfg.profile:  # after the memory pass, so the profiler's own memory is not in it
                from .profile import profile_step

                report("profile", 0, None)
                row.profile = profile_step(prepared.step, device.type, sync=timer.synchronize)
        stats = summarize(timing.samples_ms)
        row.set_latency(stats, timing.samples_ms)
        row.timed_s, row.timer = timing.wall_s, timer.kind
        row.peak_mem_bytes, row.mem_kind, row.mem_detail = mem.peak_bytes, mem.kind, mem.detail
        row.tflops = row.gflops / stats.median if stats.median > 0 else None
    except Exception as exc:
        row.status = "oom" if is_oom(exc) else _error_status(exc)
    finally:
        model = prepared = None
        _free(device.type)
        report("done", 1, 1)
    return row


# ---- subprocess isolation ---------------------------------------------------------------------

def worker_env() -> dict[str, str]:
    """The environment of worker processes: this litevid importable, and on Linux the glibc
    malloc settings of ``environment.ALLOCATOR_ENV`` unless the user chose their own."""
    from .environment import ALLOCATOR_ENV

    env = dict(os.environ)
    if sys.platform.startswith("linux"):
        for key, value in ALLOCATOR_ENV.items():
            env.setdefault(key, value)
    # The worker must import this very litevid (also from a source tree without install).
    src = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
    return env


def worker_environment(device: str) -> dict[str, Any]:
    """Environment record collected in a short-lived worker (keeps CUDA out of this process)."""
    dtype = device.split(":")[0]
    if dtype == "cpu":
        from .environment import collect_environment

        return collect_environment("cpu")
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


def run_bench(cfg: BenchConfig, *, progress: Any = None) -> list[Measurement]:
    """Run a benchmark sweep: resolve ``cfg`` for the device, run every job (in a worker process
    unless ``in_process``), write each row to the store as soon as it exists (and all rows to
    ``cfg.json``), and return the rows.

    Args:
        cfg: the run configuration (``auto``/``None`` fields are resolved here).
        progress: a ``utils.console.JobProgress`` (default: live on a terminal, one plain line
            per finished job when stdout is not a terminal).
    """
    from pathlib import Path

    from ..results.store import ResultStore
    from ..utils.console import JobProgress, make_console
    from ..utils.io import write_json

    device = resolve_device(cfg.device)
    cfg = cfg.resolved(device.split(":")[0])
    if cfg.json and not Path(cfg.json).resolve().parent.is_dir():
        raise FileNotFoundError(f"--json {cfg.json}: directory does not exist")
    jobs = plan_jobs(cfg, device)
    protocol = (f"warm-up {cfg.warmup}, timed runs >= {cfg.iters} and >= {cfg.min_seconds:g} s "
                f"(max {cfg.max_iters}), {cfg.precision}"
                + (", channels_last" if cfg.channels_last else "")
                + (", compiled" if cfg.compile else "")
                + ("" if cfg.in_process else ", one process per model/mode"))
    make_console(stderr=True).print(
        f"litevid bench: {len(jobs)} job(s) on {device}: {protocol}; results -> {cfg.db}")
    rows: list[Measurement] = []
    run = run_job if cfg.in_process else run_job_subprocess
    with ResultStore(cfg.db) as store, (progress or JobProgress(len(jobs))) as jp:
        for job in jobs:
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
                      else f"[red]{row.status[:70]}[/red]")
    if cfg.json:
        write_json(cfg.json, [r.to_dict() for r in rows], indent=1)
    return rows
