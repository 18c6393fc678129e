"""Measurement: FLOPs now; timing, memory and the runner live beside it."""

from .flops import FlopCount, count_flops

__all__ = ["FlopCount", "count_flops"]
