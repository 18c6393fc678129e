"""The timed loop and its stopping rule.

The timed loop does nothing but call the step and read the device's timer: inputs are prepared,
the model compiled and warmed up before it starts, and statistics are computed after it ends.
Every per-iteration sample is kept (milliseconds). The timer comes from the device backend
(``litevid.devices``): CUDA events on the current stream, synchronised on the end event, on a
GPU; ``time.perf_counter`` on the CPU (steps are synchronous there); the host clock between two
synchronisations on MPS.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from ..devices import DeviceBackend, Timer
    from .modes import PreparedStep

__all__ = ["StopRule", "TimingResult", "run_timed", "time_prepared", "warm_up"]

Step = Callable[[], Any]


@dataclass(frozen=True)
class StopRule:
    """Stop once at least ``min_iters`` samples AND ``min_seconds`` of timed loop are done, or at
    ``max_iters`` samples, whichever comes first.

    The minimum duration makes fast models collect enough samples to average out scheduler noise;
    the maximum bounds the time a fast model can take; the minimum count guarantees a usable
    sample for slow models. ``min_iters == max_iters`` with ``min_seconds == 0`` is the paper's
    fixed count (100 runs).
    """

    min_iters: int = 5
    min_seconds: float = 3.0
    max_iters: int = 100

    def __post_init__(self) -> None:
        if self.min_iters < 1:
            raise ValueError(f"minimum iterations must be >= 1, got {self.min_iters}")
        if self.max_iters < self.min_iters:
            raise ValueError(
                f"maximum iterations ({self.max_iters}) is below the minimum ({self.min_iters})"
            )
        if self.min_seconds < 0:
            raise ValueError(f"minimum seconds must be >= 0, got {self.min_seconds}")

    def done(self, n: int, elapsed_s: float) -> bool:
        return n >= self.max_iters or (n >= self.min_iters and elapsed_s >= self.min_seconds)


@dataclass
class TimingResult:
    """Raw samples (ms) and the wall time of the timed loop (s)."""

    samples_ms: list[float] = field(default_factory=list)
    wall_s: float = 0.0


def warm_up(step: Step, timer: Timer, iters: int,
            on_iter: Callable[[int], None] | None = None) -> None:
    """Run ``iters`` untimed steps (allocator growth, cuDNN autotuning, lazy init), then sync."""
    for i in range(iters):
        step()
        if on_iter is not None:
            on_iter(i + 1)
    timer.synchronize()


def run_timed(step: Step, timer: Timer, rule: StopRule,
              on_iter: Callable[[int], None] | None = None) -> TimingResult:
    """The timed loop: one sample per step until ``rule`` says stop.

    ``on_iter(n)`` is called between samples (outside each sample) for progress reporting; keep
    it cheap, its cost is part of the wall time but not of the samples.
    """
    samples: list[float] = []
    append = samples.append
    clock = time.perf_counter
    t0 = clock()
    n = 0
    while True:
        append(timer.time_step(step) * 1e3)
        n += 1
        if on_iter is not None:
            on_iter(n)
        if rule.done(n, clock() - t0):
            break
    return TimingResult(samples_ms=samples, wall_s=clock() - t0)


def time_prepared(prepared: PreparedStep, device: DeviceBackend, warmup: int, rule: StopRule,
                  on_iter: Callable[[str, int, int | None], None] | None = None
                  ) -> tuple[TimingResult, float, str]:
    """Warm-up, then the timed loop, inside the step's context with ``device``'s timer:
    ``(timing, CPU seconds of this process during the loop, timer kind)``. ``on_iter(phase, n,
    total)`` reports progress (``warmup``, ``timing``)."""
    report = on_iter or (lambda phase, n, total: None)
    timer = device.timer()
    with prepared.context():
        warm_up(prepared.step, timer, warmup, on_iter=lambda n: report("warmup", n, warmup))
        cpu0 = time.process_time()
        timing = run_timed(prepared.step, timer, rule, on_iter=lambda n: report("timing", n, None))
        cpu_s = time.process_time() - cpu0
    return timing, cpu_s, timer.kind
