"""Video data: dataset registry, annotation readers, decoding, temporal sampling, clip transforms,
datasets.

Every dataset is one ``DatasetSpec`` entry (``list_datasets()``, ``dataset_spec(name)``); the
readers, ``build_dataset``, the transforms and ``litevid data check`` read it. Needs the ``data``
extra (``av``, ``pillow``, ``kornia``) at call time only; importing this package needs just torch
and numpy.
"""

from .specs import DatasetSpec, dataset_spec, input_contract, list_datasets, register_dataset
from .annotations import (  # noqa: I001  (registers k400, ssv2, ek100, list)
    Annotations,
    ClipRecord,
    ek100_action_map,
    read_annotations,
    read_ek100,
    read_k400,
    read_list,
    read_ssv2,
)
from .stats import annotation_stats
from .synthetic import (  # registers synthetic
    SYNTHETIC_CLASSES,
    SyntheticVideoDataset,
    build_synthetic,
    render_motion_clip,
)
from .datasets import VideoClipDataset, build_dataset
from .decode import VideoInfo, VideoSource, open_video, read_video_frames, video_info
from .sampling import sample_indices, tsn_indices, uniform_indices
from .transforms import AugmentConfig, ClipTransform, VideoAugment, default_augment, normalize_clip

__all__ = [
    "SYNTHETIC_CLASSES",
    "Annotations",
    "AugmentConfig",
    "ClipRecord",
    "ClipTransform",
    "DatasetSpec",
    "SyntheticVideoDataset",
    "VideoAugment",
    "VideoClipDataset",
    "VideoInfo",
    "VideoSource",
    "annotation_stats",
    "build_dataset",
    "build_synthetic",
    "dataset_spec",
    "default_augment",
    "ek100_action_map",
    "input_contract",
    "list_datasets",
    "normalize_clip",
    "open_video",
    "read_annotations",
    "read_ek100",
    "read_k400",
    "read_list",
    "read_ssv2",
    "read_video_frames",
    "register_dataset",
    "render_motion_clip",
    "sample_indices",
    "tsn_indices",
    "uniform_indices",
    "video_info",
]
