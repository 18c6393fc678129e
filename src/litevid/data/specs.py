"""The dataset registry: one entry per dataset holds everything the pipeline needs to know about it.

A ``DatasetSpec`` names the annotation reader (or, for generated data, the builder), the label
heads, how record paths are named, which class files are looked for beside the annotations, the
frame rate of frame-range lists, the flip policy and augmentation, and any input-contract default
the dataset overrides. Readers, ``build_dataset``, the transforms and ``litevid data check`` all
read the entry, so adding a dataset is one ``register_dataset(DatasetSpec(...))`` next to its
reader (see ``annotations.py``; the synthetic entry is in ``synthetic.py``), never an ``if name ==``
elsewhere. Like the model registry: a duplicate name raises, an unknown name raises and suggests
close matches.

``input_contract`` resolves frames, size, mean and std the one way every data path uses: explicit
values, else the model's spec, else the dataset's override, else the ``ModelSpec`` field defaults.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from ..utils.registry import add_unique, lookup

__all__ = ["CONTRACT", "DatasetSpec", "dataset_spec", "input_contract", "list_datasets",
           "register_dataset"]

CONTRACT = ("frames", "size", "mean", "std")  # the ModelSpec fields a clip follows


@dataclass(frozen=True)
class DatasetSpec:
    """Everything known about a dataset without reading a file.

    Attributes:
        name: registry name, also the ``--format`` of ``litevid data check``.
        reader: annotation reader ``reader(path, *, spec, <labels_arg>=..., <options>...)`` that
            returns an ``Annotations``; ``None`` for generated data.
        builder: builds a generated dataset ``builder(split, *, frames, size, mean, std,
            num_clips, num_classes, seed)``; set exactly when ``reader`` is not.
        heads: label heads of a record (``None``: named by the file, as in ``list``).
        template: file or folder of a record, from the annotation's fields
            (``{youtube_id}_{time_start:06d}_{time_end:06d}.mp4``); ``None``: the file gives paths.
        labels_arg: the reader's keyword for the class file (``--labels``).
        label_files: class files the reader looks for beside the annotations when none is given.
        info_file: per-video metadata file looked for beside the annotations (EK100 fps).
        fps: frame rate that turns frame ranges of lists into durations.
        options: further reader keywords a caller may pass (``video_info``, ``label_names``).
        action_map: ids of a joint head defined by the training records
            (``ek100_action_map``); non-train splits then need the training annotations.
        flip: horizontal flip in training (off where labels name directions).
        augment: ``AugmentConfig`` field overrides of the training augmentation.
        input_defaults: input-contract values (``size``) used when none is given.
        train_defaults: ``TrainConfig`` settings a training run on this dataset uses unless the
            command line sets them (synthetic: a small, quick from-scratch run instead of the
            study's recipe for fine-tuning on real datasets); ``litevid train`` prints them.
        help: what ``--annotations`` and ``--labels`` mean, for ``litevid data check --help``.
    """

    name: str
    reader: Callable[..., Any] | None = None
    builder: Callable[..., Any] | None = None
    heads: tuple[str, ...] | None = ("label",)
    template: str | None = None
    labels_arg: str = "labels"
    label_files: tuple[str, ...] = ()
    info_file: str | None = None
    fps: float | None = None
    options: tuple[str, ...] = ()
    action_map: Callable[..., dict[tuple[int, ...], int]] | None = None
    flip: bool = True
    augment: Mapping[str, Any] = field(default_factory=dict)
    input_defaults: Mapping[str, Any] = field(default_factory=dict)
    train_defaults: Mapping[str, Any] = field(default_factory=dict)
    help: str = ""

    def __post_init__(self) -> None:
        if (self.reader is None) == (self.builder is None):
            raise ValueError(f"DatasetSpec {self.name!r}: give a reader or a builder, not both")
        unknown = set(self.input_defaults) - set(CONTRACT)
        if unknown:
            raise ValueError(f"DatasetSpec {self.name!r}: input_defaults {sorted(unknown)} are not "
                             f"input-contract fields ({', '.join(CONTRACT)})")

    def beside(self, annotations: str | os.PathLike, name: str | None) -> Path | None:
        """The file ``name`` in the annotations' folder, if it is there."""
        if name is None:
            return None
        path = Path(annotations).parent / name
        return path if path.exists() else None

    def read(self, path: str | os.PathLike, *, labels: str | os.PathLike | None = None,
             template: str | None = None, fps: float | None = None, **options: Any) -> Any:
        """Read one annotation file of this dataset.

        Args:
            path: the split's annotation file.
            labels: the class file (``labels_arg`` of the reader); default: ``label_files``.
            template: overrides ``template``.
            fps: overrides ``fps``.
            **options: reader keywords from ``options``; ``None`` values are dropped.
        """
        if self.reader is None:
            raise ValueError(f"dataset {self.name!r} is generated: it has no annotation files")
        given = {k: v for k, v in options.items() if v is not None}
        extra = sorted(set(given) - set(self.options))
        if extra:
            takes = ", ".join(self.options) or "none"
            raise ValueError(f"{self.name} annotations take no {', '.join(extra)} option "
                             f"(options: {takes})")
        if labels is not None:
            given[self.labels_arg] = labels
        spec = dataclasses.replace(self, template=template or self.template, fps=fps or self.fps)
        ann = self.reader(path, spec=spec, **given)
        if self.heads is not None and ann.heads != self.heads:
            raise ValueError(f"{path}: reader gave heads {ann.heads}, dataset {self.name!r} "
                             f"declares {self.heads}")
        return ann


_REGISTRY: dict[str, DatasetSpec] = {}


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Add ``spec`` to the registry and return it; a name registered twice raises."""
    return add_unique(_REGISTRY, spec.name, spec, "dataset")


def dataset_spec(name: str) -> DatasetSpec:
    """The spec of a registered dataset; reads nothing."""
    return lookup(_REGISTRY, name, "dataset")


def list_datasets(*, annotated: bool = False) -> list[str]:
    """Registered dataset names, sorted; ``annotated``: only those read from annotation files."""
    return sorted(n for n, s in _REGISTRY.items() if s.reader is not None or not annotated)


def input_contract(*, model: str | None = None, dataset: str | None = None,
                   **given: Any) -> dict[str, Any]:
    """The input-contract fields named in ``given`` (``frames``, ``size``, ``mean``, ``std``).

    Each is its ``given`` value when not ``None``, else the dataset's ``input_defaults`` (what the
    data natively is: the synthetic dataset renders 112-pixel frames; recorded datasets declare
    none), else the model's spec (``model`` is a registry name), else the ``ModelSpec`` field
    default: the one source of 16 frames, 224 pixels and ImageNet mean/std. The model registry is imported only
    when something has to be looked up there.
    """
    unknown = set(given) - set(CONTRACT)
    if unknown:
        raise TypeError(f"input_contract() got unexpected fields {sorted(unknown)}")
    out = {k: v for k, v in given.items() if v is not None}
    if model is not None or len(out) < len(given):
        from ..models import ModelSpec, model_spec  # when used: ``import litevid.data`` stays light

        fallback = {f.name: f.default for f in dataclasses.fields(ModelSpec) if f.name in given}
        if model is not None:
            spec = model_spec(model)
            fallback.update({k: getattr(spec, k) for k in given})
        if dataset is not None:  # what the data natively is (synthetic renders 112 pixels)
            fallback.update({k: v for k, v in dataset_spec(dataset).input_defaults.items()
                             if k in given})
        out = {**fallback, **out}
    for k in ("mean", "std"):
        if k in out:
            out[k] = tuple(out[k])
    return out
