"""Operator-level profile of a prepared step: the top operators by self time (``--profile``).

Runs after the timed loop and the memory pass, never inside them: ``torch.profiler`` adds
per-operator overhead, so a profiled step is slower than a timed one, and the table explains
where time goes rather than how much there is. On CUDA the ranking is by device (kernel) self
time, elsewhere by CPU self time. Times are per step (total over the profiled steps / steps).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from ..devices import DeviceBackend

__all__ = ["PROFILE_STEPS", "PROFILE_TOP", "profile_step"]

PROFILE_STEPS = 3
PROFILE_TOP = 15


def profile_step(step: Callable[[], Any], device: DeviceBackend, *, steps: int = PROFILE_STEPS,
                 top: int = PROFILE_TOP) -> list[dict[str, Any]]:
    """Profile ``steps`` calls of ``step`` on ``device`` and return the ``top`` operators by self
    time (device time where the backend's ``profile_clock`` is ``device``).

    Each entry: ``op`` (operator name), ``calls`` (per step), ``self_ms`` and ``total_ms`` (per
    step), ``self_pct`` (share of the summed self time of all operators), ``clock`` (``cpu`` or
    ``device``).
    """
    from torch.profiler import profile

    on_device = device.profile_clock == "device"
    device.synchronize()
    with profile(activities=device.profiler_activities()) as prof:
        for _ in range(steps):
            step()
        device.synchronize()
    events = prof.key_averages()

    def self_us(e: Any) -> float:
        if on_device:
            return float(getattr(e, "self_device_time_total", 0.0)
                         or getattr(e, "self_cuda_time_total", 0.0))
        return float(e.self_cpu_time_total)

    def total_us(e: Any) -> float:
        if on_device:
            return float(getattr(e, "device_time_total", 0.0) or getattr(e, "cuda_time_total", 0.0))
        return float(e.cpu_time_total)

    ranked = sorted((e for e in events if self_us(e) > 0), key=self_us, reverse=True)
    whole = sum(self_us(e) for e in ranked) or 1.0
    return [{"op": e.key, "calls": round(e.count / steps, 2),
             "self_ms": round(self_us(e) / steps / 1e3, 4),
             "total_ms": round(total_us(e) / steps / 1e3, 4),
             "self_pct": round(100 * self_us(e) / whole, 2),
             "clock": "device" if on_device else "cpu"} for e in ranked[:top]]
