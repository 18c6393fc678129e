"""The CPU backend: host clock, peak resident memory of the pass, fp32 by default."""

from __future__ import annotations

from typing import Callable

from .base import DeviceBackend, MemoryResult
from .host import cpu_model, current_rss_bytes, peak_rss_bytes, reset_rss_peak

__all__ = ["CpuBackend"]


class CpuBackend(DeviceBackend):
    """The host CPU. Steps are synchronous, so ``time.perf_counter`` around a step is exact.

    Memory is the process's peak RSS during the pass (``/proc/self/clear_refs`` resets the
    high-water mark first, Linux >= 4.0): interpreter, torch and the model included, the memory a
    process running this model really needs. Where the mark cannot be reset it is the peak of the
    whole process, a per-model number only in an isolated worker (the default).
    """

    type = "cpu"
    synchronous = True

    def device_name(self) -> str:
        return cpu_model()

    def measure_memory(self, run: Callable[[], None], *, isolated: bool = True) -> MemoryResult:
        baseline = current_rss_bytes()
        detail = {"rss_baseline_bytes": baseline, "isolated_process": isolated}
        if reset_rss_peak():
            run()
            return MemoryResult(peak_rss_bytes(), "cpu: peak RSS of this pass", detail)
        run()
        kind = "cpu: peak RSS of the process" + (
            "" if isolated else " (not isolated: includes earlier work)")
        return MemoryResult(peak_rss_bytes(), kind, detail)
