"""Facts and memory of the host process, the same on every device: CPU model, software versions,
code revision, allocator settings and resident memory (RSS).

Every device backend's environment record starts from ``host_environment()``; the CPU backend's
memory tracker is the RSS high-water mark here, and the accelerator backends record the host
peak beside their device peaks.
"""

from __future__ import annotations

import os
import platform
import resource
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["ALLOCATOR_ENV", "allocator_settings", "cpu_model", "current_rss_bytes",
           "git_revision", "host_environment", "peak_rss_bytes", "reexec_with_allocator_env",
           "reset_rss_peak"]

# glibc malloc settings of the benchmark's worker processes (``bench.environment.worker_env``),
# unless the user set them. With glibc's defaults, a fresh process hands every freed block above
# the dynamic mmap threshold back to the kernel and page-faults fresh zeroed pages on the next
# step: measured on the 2-core EPYC, VTN-EFF single-clip eager took 510-600 ms per step in a fresh
# process and 290-300 ms with these two settings (the same model, 14 steps each), a cost of the
# allocator, not of the model. A fixed 32 MiB mmap threshold (glibc's 64-bit maximum) and a 16 GiB
# trim threshold keep the freed memory for reuse. Recorded in every row (``env.allocator``).
ALLOCATOR_ENV = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(16 << 30)}


def allocator_settings() -> dict[str, str | None]:
    """This process's values of the ``ALLOCATOR_ENV`` variables (``None`` where unset)."""
    return {k: os.environ.get(k) for k in ALLOCATOR_ENV}


def reexec_with_allocator_env() -> None:
    """For measuring scripts (``tools/``): on Linux, re-execute this Python process with the
    bench workers' ``ALLOCATOR_ENV`` unless every variable is already set (glibc reads them only
    at process start). Returns only when nothing needed changing."""
    if not sys.platform.startswith("linux") or all(k in os.environ for k in ALLOCATOR_ENV):
        return
    os.execve(sys.executable, [sys.executable, *sys.argv], {**ALLOCATOR_ENV, **os.environ})


def cpu_model() -> str:
    """CPU model name from ``/proc/cpuinfo`` (Linux), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def git_revision() -> str | None:
    """Commit of the litevid source tree (read-only ``git rev-parse``); None outside a checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def host_environment() -> dict[str, Any]:
    """What every row records whatever the device: host, software versions, threads, revision."""
    import torch

    from .. import __version__

    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    return {
        "cpu_model": cpu_model(),
        "torch_version": torch.__version__,
        "cuda_version": torch.version.cuda,
        "cudnn_version": None if cudnn is None else str(cudnn),
        "num_threads": torch.get_num_threads(),
        "litevid_version": __version__,
        "git_rev": git_revision(),
        "hostname": socket.gethostname(),
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        # what the process's allocator was told (None: the C library's defaults)
        "allocator": {k: os.environ.get(k) for k in (*ALLOCATOR_ENV, "LD_PRELOAD")},
    }


# ---- resident memory ---------------------------------------------------------------------------

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
    """Resident size of this process now (Linux), or None."""
    kb = _status_kb("VmRSS")
    return None if kb is None else kb * 1024


def reset_rss_peak() -> bool:
    """Reset the peak RSS (``VmHWM``) to the current RSS (Linux >= 4.0); False where impossible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # 5 = reset the peak RSS (VmHWM) to the current RSS
    except OSError:
        return False
    return _status_kb("VmHWM") is not None


def peak_rss_bytes() -> int:
    """Peak RSS since the last ``reset_rss_peak`` (``VmHWM``), else of the whole process
    (``ru_maxrss``)."""
    kb = _status_kb("VmHWM")
    if kb is not None:
        return kb * 1024
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r if sys.platform == "darwin" else r * 1024  # bytes on macOS, KiB on Linux
