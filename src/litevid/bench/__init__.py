"""Measurement: FLOPs, timing, memory, the three modes, the runner and the environment record."""

from ..results.stats import LatencyStats, summarize
from .config import BenchConfig
from .flops import FlopCount, count_flops
from .timing import StopRule

__all__ = ["BenchConfig", "FlopCount", "LatencyStats", "StopRule", "count_flops", "summarize"]
