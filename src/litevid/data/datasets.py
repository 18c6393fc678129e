"""Datasets for ``torch.utils.data.DataLoader``: annotations + decoding + sampling + transforms.

``build_dataset(name, split, ...)`` is the one entry point; it returns a map-style dataset whose
items are ``(clip, target)``: ``clip`` is ``(C, T, H, W)`` (normalised float32, or uint8 with
``augment="batch"``, where ``dataset.batch_transform`` finishes the batch on the device), and
``target`` is an int, or a dict ``{"verb", "noun", "action"}`` for EK100. What differs between
datasets (reader, naming, flip, heads, input defaults) is their registry entry (``specs.py``);
frames, size, mean and std come from the model spec (``model=``) through ``input_contract``.

Long training runs must not die on one bad file: a missing, unreadable or too-short clip is
logged (once per file, logger ``litevid.data``), counted in ``dataset.skipped`` (shared by all
loader workers) and replaced by the next clip. ``on_error="raise"`` makes it fail instead, with
the one-line error that names the file. A file that decodes but is cut short (fewer frames than
its header declares) is used, logged and counted in ``dataset.warned``.

Evaluation never replaces a clip: it reads items through ``dataset.load(index, warnings)``
(``train.data.EvalClips``), which raises for a bad clip, so the evaluator scores only the clips
that decoded and lists the others with their reason.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from pathlib import Path
from typing import Any, Sequence

import torch
from torch.utils.data import Dataset

from .annotations import Annotations, ClipRecord
from .decode import VideoSource, open_video
from .sampling import sample_indices
from .specs import dataset_spec, input_contract
from .transforms import AugmentConfig, ClipTransform, VideoAugment, default_augment

__all__ = ["VideoClipDataset", "build_dataset", "resolve_clip_range"]

AUGMENT_MODES = ("worker", "batch", "off")
_SPLITS = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}
log = logging.getLogger("litevid.data")


def resolve_clip_range(record: ClipRecord, video: VideoSource) -> tuple[int, int]:
    """First and last frame (inclusive) of a record, asking the opened ``video`` only when the
    annotation leaves the range open (whole trimmed videos, as in K400 and SSV2)."""
    if record.start_frame is not None and record.end_frame is not None:
        return record.start_frame, record.end_frame
    info = video.info
    if info.frames < 1:
        raise ValueError(f"{video.path}: no frames")
    start = record.start_frame if record.start_frame is not None else info.first_index
    end = record.end_frame if record.end_frame is not None else info.first_index + info.frames - 1
    return start, end


class VideoClipDataset(Dataset):
    """Clips of one annotation file, decoded and sampled on demand.

    Args:
        annotations: records and class names (``read_annotations``).
        root: folder the record paths are relative to.
        frames: frames per clip T (default: the model spec default).
        transform: uint8 frames -> clip; its ``short_side`` is passed to the decoder.
        train: TSN sampling (random) instead of segment centres.
        on_error: ``"skip"`` (log, count, use the next clip) or ``"raise"``; for ``__getitem__``
            (training). ``load`` always raises.
        max_consecutive_errors: give up after this many bad clips in a row (a wrong root).
    """

    def __init__(self, annotations: Annotations, *, root: str | os.PathLike | None = None,
                 frames: int | None = None, transform: ClipTransform, train: bool,
                 on_error: str = "skip", max_consecutive_errors: int = 20) -> None:
        if on_error not in ("skip", "raise"):
            raise ValueError(f"on_error must be 'skip' or 'raise', got {on_error!r}")
        self.records = annotations.records
        self.classes = annotations.classes
        self.heads = annotations.heads
        self.num_classes: int | dict[str, int] = (
            annotations.num_classes["label"] if self.heads == ("label",) else annotations.num_classes)
        self.root = Path(root) if root is not None else None
        self.frames = input_contract(frames=frames)["frames"]
        self.transform, self.train = transform, train
        self.on_error, self.max_consecutive_errors = on_error, max_consecutive_errors
        self.batch_transform: VideoAugment | None = None
        # Shared with fork/spawn workers (passed at process start), so the count is global.
        self._skipped = multiprocessing.get_context().Value("i", 0)
        self._warned = multiprocessing.get_context().Value("i", 0)
        self._logged: set[str] = set()

    def __len__(self) -> int:
        return len(self.records)

    @property
    def size(self) -> int:
        """Crop size of the clips (``H = W``)."""
        return self.transform.size

    @property
    def skipped(self) -> int:
        """Bad clips skipped so far, over all loader workers."""
        return int(self._skipped.value)

    @property
    def warned(self) -> int:
        """Clips used with a warning so far (files cut short), over all loader workers."""
        return int(self._warned.value)

    def _count(self, counter: Any, path: str, message: str, *args: Any) -> None:
        with counter.get_lock():
            counter.value += 1
        if path not in self._logged:  # once per file and worker
            self._logged.add(path)
            log.warning(message, *args)

    def path_of(self, record: ClipRecord) -> str:
        if self.root is None or os.path.isabs(record.path):
            return record.path
        return os.fspath(self.root / record.path)

    def target_of(self, record: ClipRecord) -> int | dict[str, int]:
        if self.heads == ("label",):
            return record.labels["label"]
        return dict(record.labels)

    def load(self, index: int, warnings: list[str] | None = None) -> tuple[torch.Tensor, Any]:
        """Clip ``index`` without error handling; its file is opened (and demuxed) once.

        Raises ``ValueError`` / ``OSError`` (naming the file) for a clip that cannot be read.
        A clip read from a file cut short (``VideoInfo.truncated``) is returned, and the reason
        appended to ``warnings`` when given.
        """
        record = self.records[index]
        path = self.path_of(record)
        with open_video(path) as video:
            start, end = resolve_clip_range(record, video)
            # A range the annotation left open comes from the file: a cut file shortens it.
            cut = None if record.end_frame is not None else video.info.truncated
            offsets = sample_indices(end - start + 1, self.frames, train=self.train)
            frames = video.read(start + offsets, short_side=self.transform.short_side)
        if cut is not None and warnings is not None:
            warnings.append(f"{path}: {cut}")
        return self.transform(frames), self.target_of(record)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, Any]:
        n = len(self.records)
        last: Exception | None = None
        for attempt in range(min(self.max_consecutive_errors, n)):
            j = (index + attempt) % n
            warnings: list[str] = []
            try:
                item = self.load(j, warnings)
            except (ValueError, OSError) as exc:  # FileNotFoundError is an OSError
                if self.on_error == "raise":
                    raise
                last = exc
                self._count(self._skipped, self.path_of(self.records[j]),
                            "skipping bad clip %d (%s): %s", j, self.path_of(self.records[j]),
                            exc)
                continue
            for text in warnings:
                self._count(self._warned, self.path_of(self.records[j]), "clip %d: %s", j, text)
            return item
        raise RuntimeError(f"{min(self.max_consecutive_errors, n)} bad clips in a row from index "
                           f"{index}; last: {last}. Check the data: litevid data check --root ...")


def _split(split: str) -> str:
    key = _SPLITS.get(split.lower())
    if key is None:
        raise ValueError(f"unknown split {split!r} (train, val/validation, test)")
    return key


def build_dataset(name: str, split: str = "train", *,
                  annotations: str | os.PathLike | None = None,
                  root: str | os.PathLike | None = None,
                  labels: str | os.PathLike | None = None,
                  train_annotations: str | os.PathLike | None = None,
                  label_names: Sequence[str] | None = None,
                  filename_template: str | None = None,
                  model: str | None = None, frames: int | None = None, size: int | None = None,
                  short_side: int | None = None, mean: Sequence[float] | None = None,
                  std: Sequence[float] | None = None, augment: str = "worker",
                  augment_config: AugmentConfig | None = None, flip: bool | None = None,
                  on_error: str = "skip", num_clips: int | None = None, num_classes: int = 8,
                  seed: int = 0) -> Dataset:
    """Build a dataset ready for a ``DataLoader`` (``num_workers > 0`` works).

    Args:
        name: a registered dataset (``list_datasets()``: ``ek100``, ``k400``, ``list``,
            ``ssv2``, ``synthetic``).
        split: ``train`` (TSN sampling, random crop, augmentation) or ``val``/``test`` (segment
            centres, centre crop).
        annotations: the split's annotation file (required unless the dataset is generated).
        root: folder holding the videos / frame folders the records point to.
        labels: the dataset's class file (see ``read_annotations``).
        train_annotations: for non-train splits of datasets whose ids the training split defines
            (``DatasetSpec.action_map``: EK100 actions are the training verb-noun pairs).
        label_names: ``list`` only: names of the label columns.
        filename_template: file/folder naming override (see the readers).
        model: registry name whose spec gives frames, size, mean, std (explicit values win).
        frames: clip length T. Unset values of frames, size, mean and std come from the
            dataset's ``input_defaults`` (synthetic: 112 pixels), else ``model``, else the
            ``ModelSpec`` defaults (``input_contract``).
        size: crop size.
        short_side: resize before crop (default ``size * 8 / 7``).
        mean: normalisation mean.
        std: normalisation std.
        augment: ``worker`` (finished float clips), ``batch`` (uint8 clips, apply
            ``dataset.batch_transform`` to each batch on the device) or ``off`` (crop/flip only).
        augment_config: overrides ``default_augment(name)``.
        flip: overrides the dataset's flip policy (``DatasetSpec.flip``: off for ssv2, synthetic).
        on_error: ``skip`` or ``raise`` for bad clips.
        num_clips: generated datasets only (synthetic: 512 train, 128 otherwise).
        num_classes: generated datasets only.
        seed: generated datasets only; each split uses its own stream.
    """
    spec = dataset_spec(name)
    if augment not in AUGMENT_MODES:
        raise ValueError(f"augment must be one of {', '.join(AUGMENT_MODES)}, got {augment!r}")
    split = _split(split)
    train = split == "train"
    contract = input_contract(model=model, dataset=name, frames=frames, size=size, mean=mean,
                              std=std)
    if spec.builder is not None:
        return spec.builder(split, **contract, num_clips=num_clips, num_classes=num_classes,
                            seed=seed)

    if annotations is None:
        raise ValueError(f"dataset {name!r} needs annotations=PATH (its {split} annotation file); "
                         "nothing is downloaded")
    config = augment_config or default_augment(name)
    if flip is not None:
        config = AugmentConfig(**{**config.__dict__, "flip": flip})
    action_map = None
    if spec.action_map is not None and not train:
        if train_annotations is None:
            raise ValueError(f"{name} non-train splits need train_annotations=PATH: its ids "
                             f"({spec.action_map.__name__}) come from the training set")
        action_map = spec.action_map(spec.read(train_annotations, labels=labels).records)
    ann = spec.read(annotations, labels=labels, template=filename_template,
                    label_names=label_names, action_map=action_map)

    mean, std = contract["mean"], contract["std"]
    worker_aug = None
    if augment == "worker" and train and config.any_batch_op:
        worker_aug = VideoAugment(config, mean=mean, std=std)
    transform = ClipTransform(contract["size"], short_side=short_side, train=train,
                              flip=train and config.flip, mean=mean, std=std, augment=worker_aug,
                              output="uint8" if augment == "batch" else "float")
    dataset = VideoClipDataset(ann, root=root, frames=contract["frames"], transform=transform,
                               train=train, on_error=on_error)
    if augment == "batch":
        dataset.batch_transform = VideoAugment(config if train else None, mean=mean, std=std)
    return dataset
