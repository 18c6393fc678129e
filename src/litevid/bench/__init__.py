"""Measurement: FLOPs, the timed loop, the three modes, step backends (eager, exported runtimes) and
the runner; what depends on the device (timers, memory, precision) is in ``litevid.devices``."""

from ..results.stats import LatencyStats, summarize
from .config import BenchConfig
from .flops import FlopCount, count_flops
from .timing import StopRule

__all__ = ["BenchConfig", "FlopCount", "LatencyStats", "StopRule", "count_flops", "summarize"]
