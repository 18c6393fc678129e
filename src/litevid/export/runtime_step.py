"""The benchmark's step backend for exported artefacts (``litevid bench --runtime onnxruntime|...``).

The model is exported at the job's input shape and batch, its parity checked (a failed check is
an error row, never a latency), the artefact loaded by its runtime, and the step is one call of
the runtime on a prepared input, timed by the same harness and stopping rule as eager PyTorch.
Export (in a child process) and load happen here, before warm-up, and are not timed; their facts
go into the row's settings (``settings["export"]``).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import torch

from ..bench.environment import worker_env
from ..bench.modes import PreparedStep
from .api import load_exported
from .formats import ExportError, runtime_format

if TYPE_CHECKING:
    from ..bench.config import Job
    from ..devices import DeviceBackend

__all__ = ["RuntimeSteps", "prepare_runtime_step"]


class RuntimeSteps:
    """``bench.backends.StepBackend`` of an exported runtime: each ``build(batch)`` exports the
    model at that batch (parity-checked, untimed) and returns one runtime call as the step."""

    def __init__(self, runtime: str) -> None:
        self.name = runtime

    def prepare(self, job: Job, device: DeviceBackend, input_shape: tuple[int, ...],
                precision: str, report: Callable[[str, int, int | None], None]
                ) -> tuple[Callable[[int], PreparedStep], dict[str, Any]]:
        from ..bench.modes import make_inputs

        cfg, facts = job.config, {}
        _, frames, size, _ = input_shape

        def build(batch: int) -> PreparedStep:
            report("export", 0, None)
            x, _ = make_inputs(input_shape, batch, 1, device.device, seed=cfg.seed)
            prepared, facts["export"] = prepare_runtime_step(
                job.model, self.name, x, frames=frames, size=size, threads=cfg.threads,
                seed=cfg.seed)
            return prepared

        return build, facts


def prepare_runtime_step(name: str, runtime: str, x: torch.Tensor, *, frames: int, size: int,
                         threads: int | None = None, seed: int = 0
                         ) -> tuple[PreparedStep, dict[str, Any]]:
    """Export ``name`` for ``runtime`` at ``x``'s shape and return its timed step and facts.

    The export runs in a child process (``litevid export ... --json``), so the process that times
    the artefact holds only the runtime: no exporter memory in its peak RSS, no garbage from
    graph passes collected during the timed loop.
    """
    fmt = runtime_format(runtime)
    fmt.check_available()
    reason = fmt.cannot_run()
    if reason:
        raise ExportError(f"runtime {runtime}: {reason}")
    folder = Path(tempfile.mkdtemp(prefix="litevid-bench-export-"))
    try:
        cmd = [sys.executable, "-m", "litevid", "export", name, "--format", fmt.name,
               "--out", str(folder), "--frames", str(frames), "--size", str(size),
               "--seed", str(seed), "--batch-size", str(x.shape[0]), "--json"]
        if threads:
            cmd += ["--threads", str(threads)]
        done = subprocess.run(cmd, capture_output=True, text=True, env=worker_env())
        if done.returncode != 0:
            lines = [ln for ln in done.stderr.strip().splitlines() if ln.strip()]
            raise ExportError(lines[-1] if lines else f"litevid export exited {done.returncode}")
        (result,) = json.loads(done.stdout)
        # Only a committed export runs: its sidecar present and its sha256 matching (api).
        runner, sidecar = load_exported(Path(result["artefact"]), threads=threads)
        sha = sidecar["sha256"]
    finally:  # runtimes hold the program in memory (or a mapping that outlives the name)
        shutil.rmtree(folder, ignore_errors=True)
    inputs = [x.contiguous()]

    def step() -> None:
        runner(inputs)

    facts = {"format": fmt.name, "artefact_sha256": sha, "parity": result["parity"],
             "export_s": result["seconds"],
             **{k: v for k, v in result["info"].items() if k in (
                 "opset", "delegated_flops_share", "portable_ops", "optimized_for_mobile")}}
    return PreparedStep(step=step, context=contextlib.nullcontext), facts
