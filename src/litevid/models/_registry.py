"""The model registry: one place that knows every model, its input contract and how to build it.

A family file registers each variant with ``@register_model(ModelSpec(...))`` on a small builder
function. ``create_model`` is the one build path: it resolves defaults from the spec, drops ``None``
keyword arguments (so CLI defaults never override model defaults), builds, attaches the spec and
optionally loads local weights.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
from dataclasses import dataclass, field
from typing import Any, Callable

import torch.nn as nn

__all__ = [
    "CATEGORIES",
    "EXPORT_FORMATS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "ModelSpec",
    "register_model",
    "create_model",
    "list_models",
    "model_spec",
]

CATEGORIES = ("standalone-attention", "composite", "attention-only", "baseline")
EXPORT_FORMATS = ("onnx", "executorch", "coreml", "torchscript")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ModelSpec:
    """Everything known about a model without building it.

    Transforms, the benchmark, exporters and tests read this; nothing else hard-codes 16 or 224.

    Attributes:
        name: registry name (``tsm_r50``).
        paper_name: name in the study (``TSM-R50``).
        category: one of ``CATEGORIES``.
        family: family file that builds it (``resnet_family``).
        frames: default clip length T.
        size: default square input size H = W.
        in_chans: input channels C.
        mean: per-channel mean for inputs scaled to [0, 1].
        std: per-channel std for inputs scaled to [0, 1].
        num_classes: default classifier width (Kinetics-400).
        paper_params_m: parameter count in millions from the study (Table 4), or from the model's
            own paper where the study has none (see ``paper_params_source``).
        paper_params_source: where ``paper_params_m`` comes from.
        pretrained: which weights the study initialised from and how they map (inflate, per-frame
            reuse, key layout). Loading is always from a local file the user gives.
        export: known export support per format (``None`` = not yet checked). Filled by the
            export work; kept as data so reports can read it without torch.
    """

    name: str
    paper_name: str
    category: str
    family: str
    frames: int = 16
    size: int = 224
    in_chans: int = 3
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    num_classes: int = 400
    paper_params_m: float | None = None
    paper_params_source: str = "Table 4"
    pretrained: str = ""
    export: dict[str, bool | None] = field(
        default_factory=lambda: {fmt: None for fmt in EXPORT_FORMATS}
    )

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(
                f"ModelSpec {self.name!r}: category {self.category!r} is not one of {CATEGORIES}"
            )
        if len(self.mean) != self.in_chans or len(self.std) != self.in_chans:
            raise ValueError(f"ModelSpec {self.name!r}: mean/std need {self.in_chans} values")
        unknown = set(self.export) - set(EXPORT_FORMATS)
        if unknown:
            raise ValueError(f"ModelSpec {self.name!r}: unknown export formats {sorted(unknown)}")

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """Default input of one clip, ``(C, T, H, W)``."""
        return (self.in_chans, self.frames, self.size, self.size)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class _Entry:
    spec: ModelSpec
    builder: Callable[..., nn.Module]


_REGISTRY: dict[str, _Entry] = {}


def register_model(spec: ModelSpec) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering ``builder`` under ``spec.name``; a name registered twice raises."""

    def decorator(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if spec.name in _REGISTRY:
            raise ValueError(f"model {spec.name!r} is already registered")
        _REGISTRY[spec.name] = _Entry(spec=spec, builder=builder)
        return builder

    return decorator


def _entry(name: str) -> _Entry:
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(
            f"unknown model {name!r}{hint} (available: {', '.join(sorted(_REGISTRY))})"
        ) from None


def list_models(pattern: str | None = None) -> list[str]:
    """Registered model names, sorted; ``pattern`` is a shell-style filter (``vtn_*``)."""
    names = sorted(_REGISTRY)
    if pattern:
        names = [n for n in names if fnmatch.fnmatch(n, pattern)]
    return names


def model_spec(name: str) -> ModelSpec:
    """The spec of a registered model; builds nothing."""
    return _entry(name).spec


def create_model(
    name: str,
    *,
    num_classes: int | None = None,
    pretrained: str | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Build a registered model.

    Args:
        name: registry name (see ``list_models()``).
        num_classes: classifier width; the spec's default (400) when ``None``.
        pretrained: path to a local checkpoint in the layout the spec names (torchvision/timm
            ImageNet weights for most models); loaded with ``weights_only=True``, head dropped,
            missing/unexpected keys logged. Nothing is ever downloaded.
        **kwargs: architecture overrides (``frames``, ``size``, ``drop_rate``, ...); ``None``
            values are ignored so CLI defaults never override model defaults.

    Returns:
        The model, with ``model.spec`` describing its input contract.
    """
    entry = _entry(name)
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    spec = entry.spec
    nc = spec.num_classes if num_classes is None else num_classes
    frames = kwargs.pop("frames", spec.frames)
    size = kwargs.pop("size", spec.size)
    model = entry.builder(num_classes=nc, frames=frames, size=size, **kwargs)
    model.spec = dataclasses.replace(spec, num_classes=nc, frames=frames, size=size)
    if pretrained is not None:
        model.load_pretrained(pretrained)
    return model
