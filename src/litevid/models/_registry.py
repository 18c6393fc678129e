"""The model registry: one place that knows every model, its input contract and how to build it.

A family file registers each variant with ``@register_model(ModelSpec(...))`` on a small builder
function; the registry name is the function's ``__name__`` and the family its module's short
name, as in timm. ``create_model`` is the one build path: it resolves defaults from the spec,
drops ``None`` keyword arguments (so CLI defaults never override model defaults), builds, attaches
the spec and optionally loads local weights.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import inspect
import json
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Callable

import torch.nn as nn

from ..layers.classifier import NumClasses
from ..utils.registry import add_unique, lookup

__all__ = [
    "CATEGORIES",
    "CATEGORY_LR",
    "EXPORT_FORMATS",
    "EXPORT_MATRIX_PATH",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "INIT_METHODS",
    "InitSpec",
    "ModelSpec",
    "register_model",
    "create_model",
    "list_models",
    "model_spec",
]

CATEGORIES = ("standalone-attention", "composite", "attention-only", "baseline")
# The study's recipe (section 4.1) starts every model at a learning rate between 1e-4 and 3e-4
# without saying which; ours, per category: the BN-heavy CNN baselines take the top of the range,
# ImageNet-initialised pure transformers the bottom (they fine-tune best gently, as in DeiT/ViViT
# fine-tuning), CNN+attention models the middle. ``ModelSpec.lr`` overrides it per model.
CATEGORY_LR = {"baseline": 3e-4, "standalone-attention": 2e-4, "composite": 2e-4,
               "attention-only": 1e-4}
EXPORT_FORMATS = ("executorch", "coreml", "onnx", "torchscript-lite")
# Measured export outcomes per format and model, written by ``litevid export --all --format F
# --update-matrix`` (``litevid.export.matrix``); ``ModelSpec.export`` is read from it.
EXPORT_MATRIX_PATH = Path(__file__).with_name("export_matrix.json")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# How a source checkpoint becomes this model's weights (``InitSpec.method``) -> prose.
INIT_METHODS = {
    "per-frame": "2D weights reused on every frame",
    "i3d-inflation": "inflated to 3D (I3D: kernels repeated over time and divided by kt)",
    "tubelet-inflation": "inflated to 3D (tubelet kernel repeated over t and divided by t; "
                         "relative position bias tables tiled over time)",
    "temporal-copy": "2D weights as is, copied into the temporal branch",
    "direct": "a video checkpoint, keys renamed",
    "scratch": "random init",
}

# The clip shape: ModelSpec fields a builder receives only if its signature declares them.
_SHAPE_ARGS = ("frames", "size")


@dataclass(frozen=True)
class InitSpec:
    """How the study initialised a model: source weights, accepted key layouts, mapping method.

    Loading is always from a local file the user gives (``create_model(..., pretrained=path)``);
    ``model.checkpoint_filter`` does the mapping. ``dataset is None`` means trained from scratch.

    Attributes:
        dataset: what the source weights were trained on (``"ImageNet-1K"``, ``"Kinetics-400"``),
            or ``None``: no weights exist, the model starts from random init.
        sources: source architecture / checkpoint names (``"resnet50"``, ``"X3D_XS.pyth"``).
        layouts: key layouts ``checkpoint_filter`` accepts (``"torchvision"``, ``"timm"``, ...).
        method: one of ``INIT_METHODS``: how source tensors become this model's.
        notes: what else happens (dropped classifier, new parts and their init, renames).
    """

    dataset: str | None
    method: str
    sources: tuple[str, ...] = ()
    layouts: tuple[str, ...] = ()
    notes: str = ""

    def __post_init__(self) -> None:
        if self.method not in INIT_METHODS:
            raise ValueError(f"InitSpec: method {self.method!r} is not one of {list(INIT_METHODS)}")
        if (self.dataset is None) != (self.method == "scratch"):
            raise ValueError("InitSpec: dataset None (trained from scratch) goes with method "
                             f"'scratch', got dataset {self.dataset!r}, method {self.method!r}")
        if self.dataset is not None and not (self.sources and self.layouts):
            raise ValueError(f"InitSpec: weights from {self.dataset} need sources and layouts")

    @property
    def from_scratch(self) -> bool:
        """True when no pretrained weights are used (``dataset is None``)."""
        return self.dataset is None

    def describe(self) -> str:
        """The same facts as one line of prose, for tables, reports and logs."""
        what = INIT_METHODS[self.method]
        if self.from_scratch:
            text = f"from scratch ({what})"
        else:
            sources = ", ".join(f"`{s}`" for s in self.sources)
            text = f"{self.dataset} {sources} ({' / '.join(self.layouts)} keys), {what}"
        return f"{text}; {self.notes}" if self.notes else text


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """Everything known about a model without building it.

    Transforms, the benchmark, exporters and tests read this; nothing else hard-codes 16 or 224.

    Attributes:
        name: registry name (``tsm_r50``), filled by ``register_model`` from the builder's name.
        paper_name: name in the study (``TSM-R50``).
        category: one of ``CATEGORIES``.
        family: family file that builds it (``resnet_family``), filled by ``register_model``.
        init: how the study initialised it (``init.dataset is None``: trained from scratch);
            ``init.describe()`` gives the prose.
        frames: default clip length T.
        size: default square input size H = W.
        in_chans: input channels C.
        mean: per-channel mean for inputs scaled to [0, 1].
        std: per-channel std for inputs scaled to [0, 1].
        num_classes: classifier width (Kinetics-400 by default); on ``model.spec``, what was built
            (a dict of named widths for several heads).
        paper_params_m: parameter count in millions from the study (Table 4), or from the model's
            own paper where the study has none (see ``paper_params_source``).
        paper_params_source: where ``paper_params_m`` comes from.
        export: measured export support per format: ``True`` (exports and passes parity),
            ``False`` (fails; the reason is in ``export_matrix.json``), ``None`` (never run).
            Filled from ``export_matrix.json`` on registration, never by hand.
        lr: initial learning rate of the study's training recipe; ``None`` = the category's
            (``CATEGORY_LR``), filled in on creation.
    """

    paper_name: str
    category: str
    init: InitSpec
    name: str = ""
    family: str = ""
    frames: int = 16
    size: int = 224
    in_chans: int = 3
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    num_classes: NumClasses = 400
    paper_params_m: float | None = None
    paper_params_source: str = "Table 4"
    export: dict[str, bool | None] = field(
        default_factory=lambda: {fmt: None for fmt in EXPORT_FORMATS}
    )
    lr: float | None = None

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"ModelSpec {self.paper_name!r}: category {self.category!r} is not "
                             f"one of {CATEGORIES}")
        if len(self.mean) != self.in_chans or len(self.std) != self.in_chans:
            raise ValueError(f"ModelSpec {self.paper_name!r}: mean/std need {self.in_chans} values")
        if self.lr is None:
            object.__setattr__(self, "lr", CATEGORY_LR[self.category])
        unknown = set(self.export) - set(EXPORT_FORMATS)
        if unknown:
            raise ValueError(
                f"ModelSpec {self.paper_name!r}: unknown export formats {sorted(unknown)}")

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
    shape_args: frozenset[str]  # which of ``frames``/``size`` the builder declares


_REGISTRY: dict[str, _Entry] = {}


def register_model(spec: ModelSpec) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering a builder under its ``__name__``; a name registered twice raises.

    ``spec.name`` and ``spec.family`` are filled here (the builder's name and module), so a
    variant is written once: ``@register_model(ModelSpec(paper_name=..., ...))`` on
    ``def tsm_r50(**kwargs)``. A builder declares ``frames``/``size`` only if the architecture
    depends on them; ``create_model`` then passes them (the spec's defaults unless overridden).
    """

    def decorator(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        name = builder.__name__
        if spec.name and spec.name != name:
            raise ValueError(f"ModelSpec.name {spec.name!r} differs from the builder {name!r}; "
                             "leave it out, register_model fills it")
        family = builder.__module__.rsplit(".", 1)[-1]
        params = inspect.signature(builder).parameters
        add_unique(_REGISTRY, name, _Entry(
            spec=dataclasses.replace(spec, name=name, family=family, export=_export_flags(name)),
            builder=builder,
            shape_args=frozenset(a for a in _SHAPE_ARGS if a in params),
        ), "model")
        return builder

    return decorator


@functools.lru_cache(maxsize=1)
def _export_matrix() -> dict[str, dict[str, str]]:
    """format -> model -> outcome, from ``EXPORT_MATRIX_PATH`` (empty when absent)."""
    if not EXPORT_MATRIX_PATH.is_file():
        return {}
    data = json.loads(EXPORT_MATRIX_PATH.read_text(encoding="utf-8"))
    return {fmt: col.get("models", {}) for fmt, col in data.get("formats", {}).items()}


def _export_flags(name: str) -> dict[str, bool | None]:
    matrix = _export_matrix()
    flags: dict[str, bool | None] = {}
    for fmt in EXPORT_FORMATS:
        outcome = matrix.get(fmt, {}).get(name)
        flags[fmt] = None if outcome is None else outcome == "ok"
    return flags


def _entry(name: str) -> _Entry:
    return lookup(_REGISTRY, name, "model")


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
    num_classes: NumClasses | None = None,
    pretrained: str | None = None,
    pretrained_min_share: float | None = None,
    pretrained_keep_head: bool = False,
    **kwargs: Any,
) -> nn.Module:
    """Build a registered model.

    Args:
        name: registry name (see ``list_models()``).
        num_classes: classifier width, or a dict of named widths (``{"verb": 97, "noun": 300}``)
            for one head each and a dict of logits; the spec's default (400) when ``None``.
        pretrained: path to a local checkpoint in a layout the model takes (``litevid weights
            inspect FILE`` tells; ImageNet weights for most models, Kinetics checkpoints for
            several); loaded with ``weights_only=True``, the source classifier kept only at the
            model's width, missing/unexpected keys logged, the report kept as
            ``model.load_report``. Nothing is ever downloaded.
        pretrained_min_share: a ``pretrained`` file filling less than this share of the model's
            tensors is an error (default ``DEFAULT_MIN_SHARE``, 0.5: another model's weights
            fill none); 0 accepts any partial load.
        pretrained_keep_head: keep the ``pretrained`` file's classifier whatever its width (the
            model's classifier is resized to it, e.g. Kinetics-400's 400 classes).
        **kwargs: architecture overrides (``frames``, ``size``, ``drop_rate``, ...); ``None``
            values are ignored so CLI defaults never override model defaults. ``frames``/``size``
            reach the builder only if it declares them (the architecture depends on them);
            otherwise they are only recorded in ``model.spec``.

    Returns:
        The model, with ``model.spec`` describing its input contract and the classifier built.
    """
    entry = _entry(name)
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    spec = entry.spec
    nc = spec.num_classes if num_classes is None else num_classes
    shape = {a: kwargs.pop(a, getattr(spec, a)) for a in _SHAPE_ARGS}
    model = entry.builder(num_classes=nc, **{a: shape[a] for a in entry.shape_args}, **kwargs)
    model.spec = dataclasses.replace(spec, num_classes=model.num_classes, **shape)
    model.registry_name = name
    if pretrained is not None:
        share = {} if pretrained_min_share is None else {"min_share": pretrained_min_share}
        model.load_pretrained(pretrained, keep_head=pretrained_keep_head, **share)
        model.spec = dataclasses.replace(model.spec, num_classes=model.num_classes)
    return model
