"""Runs (model, mode) jobs and turns each into one result row, whatever happens.

A job runs in its own subprocess by default (``python -m litevid.bench.worker``), so every
measurement starts from a fresh allocator, a fresh CUDA context and an honest peak RSS, and a
crash (segfault, OOM killer) of one model cannot end the sweep. ``--in-process`` runs jobs here.

Each job: count FLOPs on the meta device -> build the model on the device -> (optional batch
search) -> prepare inputs and the step (and compile) -> warm-up -> timed loop -> memory pass.
An out-of-memory error at any point gives status ``oom``; any other exception gives
``error: <type>: <message>``. The batch is never changed silently: with ``fit_batch`` the row
records both the requested and the measured batch.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import gc
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from .config import BenchConfig

__all__ = ["Job", "ProgressFn", "is_oom", "plan_jobs", "resolve_device", "run_job",
           "run_job_subprocess", "failure_row"]

# progress(phase, n, total): phase in flops/build/fit-batch/compile/warmup/timing/memory/done.
ProgressFn = Callable[[str, int, "int | None"], None]

WORKER_MARK = "@@litevid-bench "  # prefix of the worker's protocol lines on stdout


@dataclass
class Job:
    """One (model, mode) measurement, fully resolved; JSON-serialisable for the worker."""

    model: str
    mode: str
    batch_size: int
    device: str
    frames: int | None = None
    size: int | None = None
    precision: str = "fp32"
    channels_last: bool = False
    compile: bool = False
    fit_batch: bool = False
    warmup: int = 2
    min_iters: int = 5
    max_iters: int = 100
    min_seconds: float = 3.0
    memory_iters: int = 1
    threads: int | None = None
    import_modules: list[str] = field(default_factory=list)
    seed: int = 0
    isolated: bool = True
    # cuDNN autotuning (as timm's benchmark); its search runs during warm-up, not timing.
    cudnn_benchmark: bool = True

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


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


def import_modules(modules: list[str] | str) -> None:
    if isinstance(modules, str):
        modules = [m.strip() for m in modules.split(",") if m.strip()]
    for mod in modules:
        importlib.import_module(mod)


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
    modules = [m.strip() for m in cfg.import_modules.split(",") if m.strip()]
    return [
        Job(model=name, mode=mode, batch_size=cfg.batch_for(mode), device=device,
            frames=cfg.frames, size=cfg.size, precision=cfg.precision,
            channels_last=cfg.channels_last, compile=cfg.compile, fit_batch=cfg.fit_batch,
            warmup=cfg.warmup, min_iters=cfg.iters, max_iters=cfg.max_iters,
            min_seconds=cfg.min_seconds, memory_iters=cfg.memory_iters, threads=cfg.threads,
            import_modules=modules, seed=cfg.seed, isolated=not cfg.in_process)
        for name in select_models(cfg.models)
        for mode in cfg.mode_list()
    ]


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


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _base_row(job: Job, env: dict[str, Any], frames: int | None, size: int | None,
              in_chans: int | None) -> dict[str, Any]:
    shape = None if frames is None else f"{in_chans}x{frames}x{size}x{size}"
    return {
        "uid": uuid.uuid4().hex,
        "created_at": _now(),
        "model": job.model,
        "mode": job.mode,
        "batch": job.batch_size,
        "requested_batch": job.batch_size,
        "frames": frames,
        "size": size,
        "input_shape": shape,
        "precision": job.precision,
        "channels_last": int(job.channels_last),
        "compile": int(job.compile),
        **{k: env.get(k) for k in ("device_type", "device_name", "cpu_model", "hostname",
                                   "torch_version", "cuda_version", "cudnn_version",
                                   "num_threads", "litevid_version", "git_rev")},
        "env": env,
        "settings": job.to_dict(),
        "status": "ok",
    }


def failure_row(job: Job, env: dict[str, Any], status: str) -> dict[str, Any]:
    """A row for a job that produced no measurement (used when a worker dies)."""
    frames = size = chans = None
    try:
        from ..models import model_spec

        spec = model_spec(job.model)
        frames, size, chans = job.frames or spec.frames, job.size or spec.size, spec.in_chans
    except Exception:
        pass
    row = _base_row(job, env, frames, size, chans)
    row["status"] = status
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
            step_factory: Callable[..., Any] | None = None) -> dict[str, Any]:
    """Measure one job in this process and return its row (never raises for model failures).

    Args:
        job: what to measure.
        progress: ``progress(phase, n, total)`` callback.
        step_factory: replaces ``modes.prepare_step`` (tests inject failing steps here).
    """
    import torch

    from ..models import create_model, model_spec, to_channels_last
    from .environment import collect_environment
    from .flops import count_flops
    from .memory import measure_memory
    from .modes import make_inputs, prepare_step
    from .stats import summarize
    from .timing import StopRule, make_timer, run_timed, warm_up

    report: ProgressFn = progress or (lambda phase, n, total: None)
    make_step = step_factory or prepare_step
    import_modules(job.import_modules)
    if job.threads:
        torch.set_num_threads(job.threads)
    device = torch.device(job.device)
    if device.type == "cuda":
        torch.cuda.set_device(device)  # events and memory stats follow the current device
        torch.backends.cudnn.benchmark = job.cudnn_benchmark
    env = collect_environment(device.type, device.index or 0)
    spec = model_spec(job.model)
    frames, size = job.frames or spec.frames, job.size or spec.size
    row = _base_row(job, env, frames, size, spec.in_chans)
    input_shape = (spec.in_chans, frames, size, size)
    model = None
    try:
        rule = StopRule(min_iters=job.min_iters, min_seconds=job.min_seconds,
                        max_iters=job.max_iters)
        torch.manual_seed(job.seed)
        report("build", 0, None)
        model = create_model(job.model, frames=frames, size=size).to(device)
        if job.channels_last:
            model = to_channels_last(model)  # 5-D and 4-D params by rank
        num_classes = getattr(model, "num_classes", spec.num_classes)
        timer = make_timer(device.type)

        def build(batch: int):
            x, target = make_inputs(input_shape, batch, num_classes, device,
                                    channels_last=job.channels_last, seed=job.seed)
            return make_step(model, job.mode, x, target, precision=job.precision,
                             compile=job.compile, sync=timer.synchronize)

        batch = job.batch_size
        if job.fit_batch:
            report("fit-batch", 0, None)

            def probe(b: int) -> Callable[[], Any]:
                prepared = build(b)

                def run() -> None:
                    with prepared.context():
                        prepared.step()

                return run

            batch = fit_batch(probe, job.batch_size, device.type)
            if batch == 0:  # even batch 1 does not fit
                row.update(batch=1, status="oom")
                return row
            row["batch"] = batch

        report("flops", 0, None)
        with torch.device("meta"):
            meta_model = create_model(job.model, frames=frames, size=size)
        if job.mode == "train":
            meta_model.train()
        row["gflops"] = count_flops(meta_model, (batch, *input_shape),
                                    backward=job.mode == "train").gflops
        del meta_model

        report("compile" if job.compile else "prepare", 0, None)
        prepared = build(batch)
        row["compile_s"] = prepared.compile_s
        with prepared.context():
            warm_up(prepared.step, timer, job.warmup,
                    on_iter=lambda n: report("warmup", n, job.warmup))
            timing = run_timed(prepared.step, timer, rule,
                               on_iter=lambda n: report("timing", n, None))
            report("memory", 0, job.memory_iters)

            def memory_pass() -> None:
                for _ in range(job.memory_iters):
                    prepared.step()

            mem = measure_memory(memory_pass, device.type, device_index=device.index or 0,
                                 isolated=job.isolated)
        stats = summarize(timing.samples_ms)
        row.update({f"{k}_ms" if k not in ("n", "cv") else k: v
                    for k, v in stats.to_dict().items()})
        row.update({
            "samples_ms": timing.samples_ms,
            "timed_s": timing.wall_s,
            "timer": timer.kind,
            "peak_mem_bytes": mem.peak_bytes,
            "mem_kind": mem.kind,
            "mem_detail": mem.detail,
            "tflops": row["gflops"] / stats.median if stats.median > 0 else None,
        })
    except Exception as exc:
        row["status"] = "oom" if is_oom(exc) else _error_status(exc)
    finally:
        model = None
        prepared = None
        _free(device.type)
        report("done", 1, 1)
    return row


# ---- subprocess isolation ---------------------------------------------------------------------

def _env_for_worker() -> dict[str, str]:
    env = dict(os.environ)
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
                         capture_output=True, text=True, env=_env_for_worker(), timeout=300)
    for line in out.stdout.splitlines():
        if line.startswith(WORKER_MARK):
            return json.loads(line[len(WORKER_MARK):])["env"]
    return {"device_type": dtype, "device_name": f"{device} (unknown: worker failed)"}


def run_job_subprocess(job: Job, progress: ProgressFn | None = None,
                       timeout_s: float | None = None) -> dict[str, Any]:
    """Run ``job`` in ``python -m litevid.bench.worker`` and return its row.

    The job goes in on stdin as JSON; the worker prints protocol lines (``WORKER_MARK`` + JSON:
    progress events, then the row) on stdout; anything else it prints is ignored. A worker that
    dies without a row (segfault, killed by the OS) still gives a row with an ``error`` status.
    """
    report: ProgressFn = progress or (lambda phase, n, total: None)
    with tempfile.TemporaryFile(mode="w+") as err:
        proc = subprocess.Popen([sys.executable, "-m", "litevid.bench.worker"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                text=True, env=_env_for_worker())
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(job.to_dict()))
        proc.stdin.close()
        row: dict[str, Any] | None = None
        t0 = time.monotonic()
        for line in proc.stdout:
            if not line.startswith(WORKER_MARK):
                continue
            msg = json.loads(line[len(WORKER_MARK):])
            if msg.get("event") == "progress":
                report(msg["phase"], msg["n"], msg.get("total"))
            elif msg.get("event") == "result":
                row = msg["row"]
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
