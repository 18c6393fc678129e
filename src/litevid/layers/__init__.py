"""Blocks shared by two model families or more. Each is configurable by passing callables."""

from .attention import Attention, merge_heads, sdpa, split_heads
from .block import Block
from .drop_path import DropPath, drop_path
from .mlp import Mlp
from .temporal_shift import TemporalShift, temporal_shift

__all__ = [
    "Attention",
    "Block",
    "DropPath",
    "Mlp",
    "TemporalShift",
    "drop_path",
    "merge_heads",
    "sdpa",
    "split_heads",
    "temporal_shift",
]
