"""Peak memory of a few steps, measured in a pass of its own (never during the timed loop).

What "peak memory" means depends on the device, so every result says which kind it is:

- ``cuda: peak reserved (allocated ...)``: ``torch.cuda`` peak reserved bytes after
  ``reset_peak_memory_stats``; peak allocated and, when ``pynvml`` is importable, the process's
  device memory as NVML sees it (includes the CUDA context, closest to ``nvidia-smi`` and to the
  paper's VRAM column) are in ``detail``.
- ``cpu: peak RSS of this pass``: Linux ``VmHWM`` after resetting the high-water mark through
  ``/proc/self/clear_refs`` (Linux >= 4.0). Includes the interpreter, torch and the model, so it
  is the memory a process running this model really needs; ``detail['rss_baseline_bytes']`` is
  the resident size before the pass.
- ``cpu: peak RSS of the process``: fallback where the mark cannot be reset
  (``resource.getrusage`` ``ru_maxrss``); a true per-model number only in an isolated process,
  which is why each (model, mode) runs in its own subprocess by default.
"""

from __future__ import annotations

import os
import resource
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["MemoryResult", "measure_memory", "current_rss_bytes"]


@dataclass
class MemoryResult:
    peak_bytes: int | None
    kind: str
    detail: dict[str, Any] = field(default_factory=dict)


def _status_kb(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def current_rss_bytes() -> int | None:
    kb = _status_kb("VmRSS")
    return None if kb is None else kb * 1024


def _reset_rss_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # 5 = reset the peak RSS (VmHWM) to the current RSS
        return True
    except OSError:
        return False


def _ru_maxrss_bytes() -> int:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r if sys.platform == "darwin" else r * 1024  # bytes on macOS, KiB on Linux


def _measure_cpu(run: Callable[[], None], isolated: bool) -> MemoryResult:
    baseline = current_rss_bytes()
    if _reset_rss_peak() and _status_kb("VmHWM") is not None:
        run()
        peak = (_status_kb("VmHWM") or 0) * 1024
        return MemoryResult(peak, "cpu: peak RSS of this pass",
                            {"rss_baseline_bytes": baseline, "isolated_process": isolated})
    run()
    kind = "cpu: peak RSS of the process" + ("" if isolated else " (not isolated: includes earlier work)")
    return MemoryResult(_ru_maxrss_bytes(), kind,
                        {"rss_baseline_bytes": baseline, "isolated_process": isolated})


def _nvml_process_bytes(device_index: int) -> int | None:
    """Device memory used by this process according to NVML, or None when unavailable."""
    try:
        import pynvml  # optional (nvidia-ml-py)
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
        try:
            handle = pynvml.nvmlDeviceGetHandleByIndex(device_index)
            pid = os.getpid()
            for proc in pynvml.nvmlDeviceGetComputeRunningProcesses(handle):
                if proc.pid == pid and proc.usedGpuMemory is not None:
                    return int(proc.usedGpuMemory)
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # NVML missing in a container, no permission, PID namespace, ...
        return None
    return None


def _measure_cuda(run: Callable[[], None], device_index: int) -> MemoryResult:
    import torch

    torch.cuda.synchronize(device_index)
    torch.cuda.reset_peak_memory_stats(device_index)
    run()
    torch.cuda.synchronize(device_index)
    allocated = torch.cuda.max_memory_allocated(device_index)
    reserved = torch.cuda.max_memory_reserved(device_index)
    nvml = _nvml_process_bytes(device_index)
    return MemoryResult(reserved, "cuda: peak reserved",
                        {"peak_allocated_bytes": allocated, "peak_reserved_bytes": reserved,
                         "nvml_process_bytes": nvml})


def _measure_mps(run: Callable[[], None]) -> MemoryResult:
    import torch

    run()
    torch.mps.synchronize()
    return MemoryResult(int(torch.mps.driver_allocated_memory()),
                        "mps: driver allocated after the pass (not a peak)",
                        {"current_allocated_bytes": int(torch.mps.current_allocated_memory())})


def measure_memory(run: Callable[[], None], device_type: str, *, device_index: int = 0,
                   isolated: bool = True) -> MemoryResult:
    """Run ``run`` (a few steps) and return the peak memory it needed on ``device_type``."""
    if device_type == "cuda":
        return _measure_cuda(run, device_index)
    if device_type == "mps":
        return _measure_mps(run)
    return _measure_cpu(run, isolated)
