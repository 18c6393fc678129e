"""Which frames of a clip a model sees.

Training uses the sparse temporal sampling of TSN (Wang et al., 2016): the clip is cut into ``T``
equal segments and one random frame is taken from each, so 16 frames cover the whole action
whatever its length. Evaluation takes the centre frame of each segment (single view, as in the
study's section 4.1). Segment bounds are integers, so for clips of at least ``T`` frames the
indices are strictly increasing and every frame belongs to exactly one segment; shorter clips
repeat frames in order, each frame at least once.

Indices are offsets from the clip's first frame (0-based); the dataset adds the start frame.
Randomness comes from torch's generator, which ``DataLoader`` seeds per worker and per epoch.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["tsn_indices", "uniform_indices", "sample_indices"]


def _bounds(num_frames: int, num_segments: int) -> tuple[np.ndarray, np.ndarray]:
    if num_frames < 1:
        raise ValueError(f"cannot sample from a clip of {num_frames} frames")
    if num_segments < 1:
        raise ValueError(f"num_segments must be >= 1, got {num_segments}")
    edges = (np.arange(num_segments + 1, dtype=np.int64) * num_frames) // num_segments
    return edges[:-1], np.maximum(edges[1:] - edges[:-1], 1)


def tsn_indices(num_frames: int, num_segments: int, *,
                generator: torch.Generator | None = None) -> np.ndarray:
    """One random frame from each of ``num_segments`` equal segments (training).

    Returns:
        int64 offsets ``(num_segments,)``, non-decreasing, each in ``[0, num_frames)``.
    """
    lo, width = _bounds(num_frames, num_segments)
    u = torch.rand(num_segments, generator=generator, dtype=torch.float64).numpy()
    return np.minimum(lo + (u * width).astype(np.int64), num_frames - 1)


def uniform_indices(num_frames: int, num_segments: int) -> np.ndarray:
    """The centre frame of each of ``num_segments`` equal segments (evaluation, deterministic)."""
    _bounds(num_frames, num_segments)
    centres = ((2 * np.arange(num_segments, dtype=np.int64) + 1) * num_frames) // (2 * num_segments)
    return np.minimum(centres, num_frames - 1)


def sample_indices(num_frames: int, num_segments: int, *, train: bool,
                   generator: torch.Generator | None = None) -> np.ndarray:
    """TSN sampling when ``train``, segment centres otherwise."""
    if train:
        return tsn_indices(num_frames, num_segments, generator=generator)
    return uniform_indices(num_frames, num_segments)
