"""The benchmark step of an exported artefact (``litevid bench --runtime onnxruntime|...``).

The model is exported at the job's input shape and batch, its parity checked (a failed check is
an error row, never a latency), the artefact loaded by its runtime, and the step is one call of
the runtime on a prepared input, timed by the same harness and stopping rule as eager PyTorch.
Export and load happen here, before warm-up, and are not timed; their facts go into the row's
settings (``settings["export"]``).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from ..bench.modes import PreparedStep
from .api import export_model
from .formats import ExportError, runtime_format

__all__ = ["prepare_runtime_step"]


def prepare_runtime_step(name: str, runtime: str, x: torch.Tensor, *, frames: int, size: int,
                         threads: int | None = None, seed: int = 0
                         ) -> tuple[PreparedStep, dict[str, Any]]:
    """Export ``name`` for ``runtime`` at ``x``'s shape and return its timed step and facts."""
    fmt = runtime_format(runtime)
    fmt.check_available()
    reason = fmt.cannot_run()
    if reason:
        raise ExportError(f"runtime {runtime}: {reason}")
    folder = Path(tempfile.mkdtemp(prefix="litevid-bench-export-"))
    try:
        result = export_model(name, fmt.name, out_dir=folder, frames=frames, size=size,
                              threads=threads, seed=seed, batch_size=x.shape[0])
        runner = fmt.load(result.artefact, threads=threads)
        sha = json.loads(result.sidecar.read_text())["sha256"]
    finally:  # runtimes hold the program in memory (or a mapping that outlives the name)
        shutil.rmtree(folder, ignore_errors=True)
    inputs = [x.contiguous()]

    def step() -> None:
        runner(inputs)

    facts = {"format": fmt.name, "artefact_sha256": sha, "parity": result.parity.__dict__,
             "export_s": round(result.seconds, 2),
             **{k: v for k, v in result.info.items() if k in (
                 "opset", "delegated_flops_share", "portable_ops", "optimized_for_mobile")}}
    return PreparedStep(step=step, context=contextlib.nullcontext), facts
