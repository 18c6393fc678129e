"""Blocks shared by two model families or more. Each is configurable by passing callables."""

from .attention import Attention, merge_heads, sdpa, split_heads
from .block import Block
from .drop_path import DropPath, drop_path
from .frames import fold_frames, unfold_frames
from .mlp import Mlp
from .temporal_shift import TemporalShift, temporal_shift
from .temporal_transformer import TemporalTransformer

__all__ = [
    "Attention",
    "Block",
    "DropPath",
    "Mlp",
    "TemporalShift",
    "TemporalTransformer",
    "drop_path",
    "fold_frames",
    "unfold_frames",
    "merge_heads",
    "sdpa",
    "split_heads",
    "temporal_shift",
]
