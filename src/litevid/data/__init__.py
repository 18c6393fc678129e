"""Video data: annotation readers, decoding, temporal sampling, clip transforms, datasets.

Needs the ``data`` extra (``av``, ``pillow``, ``kornia``) at call time only; importing this
package needs just torch and numpy.
"""

from .annotations import (
    FORMATS,
    Annotations,
    ClipRecord,
    annotation_stats,
    ek100_action_map,
    read_annotations,
    read_ek100,
    read_k400,
    read_list,
    read_ssv2,
)
from .datasets import DATASETS, VideoClipDataset, build_dataset
from .decode import VideoInfo, read_video_frames, video_info
from .sampling import sample_indices, tsn_indices, uniform_indices
from .synthetic import SYNTHETIC_CLASSES, SyntheticVideoDataset, render_motion_clip
from .transforms import AugmentConfig, ClipTransform, VideoAugment, default_augment, normalize_clip

__all__ = [
    "DATASETS",
    "FORMATS",
    "SYNTHETIC_CLASSES",
    "Annotations",
    "AugmentConfig",
    "ClipRecord",
    "ClipTransform",
    "SyntheticVideoDataset",
    "VideoAugment",
    "VideoClipDataset",
    "VideoInfo",
    "annotation_stats",
    "build_dataset",
    "default_augment",
    "ek100_action_map",
    "normalize_clip",
    "read_annotations",
    "read_ek100",
    "read_k400",
    "read_list",
    "read_ssv2",
    "read_video_frames",
    "render_motion_clip",
    "sample_indices",
    "tsn_indices",
    "uniform_indices",
    "video_info",
]
