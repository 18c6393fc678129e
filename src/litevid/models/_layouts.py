"""Published checkpoint key layouts: what a state dict is, which models take it, its classifier.

A layout is recognised from its keys alone (``signature``: patterns every one of which must match
some key), so neither the file name nor anything run from the file decides how it is read. Each
family registers the layouts its ``checkpoint_filter`` maps, next to the filter; ``detect_layout``
picks the most specific match and ``closest_layout`` names the nearest one when none matches, for
the error message. ``litevid weights inspect`` and the README table are built from this registry.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Mapping

import torch

__all__ = ["CheckpointLayout", "register_layout", "list_layouts", "get_layout", "detect_layout",
           "closest_layout", "classifier_width"]


@dataclass(frozen=True)
class CheckpointLayout:
    """One published key layout.

    Attributes:
        name: short id, e.g. ``"torchvision-swin3d"``; recorded in the load report.
        models: registry names whose ``checkpoint_filter`` maps it (empty: every model).
        source: who publishes it and how it is called there, e.g. ``"torchvision swin3d_t"``.
        datasets: what the published files were trained on, e.g. ``"Kinetics-400"``.
        signature: regular expressions (``re.search`` on each key); all must match some key.
        classifier: pattern of the source classifier's weight key (its rows are the classes), or
            ``None`` when the layout carries no classifier litevid maps.
        mapped: what the filter does with it, one line for the README table.
        kind: ``"video"`` (a video model's checkpoint) or ``"image"`` (an ImageNet initialisation).
    """

    name: str
    models: tuple[str, ...]
    source: str
    datasets: str
    signature: tuple[str, ...]
    classifier: str | None = None
    mapped: str = ""
    kind: str = "video"

    def matched(self, keys: list[str]) -> int:
        """How many signature patterns match some key."""
        return sum(any(re.search(p, k) for k in keys) for p in self.signature)

    def matches(self, keys: list[str]) -> bool:
        return self.matched(keys) == len(self.signature)


_LAYOUTS: dict[str, CheckpointLayout] = {}


def register_layout(layout: CheckpointLayout) -> CheckpointLayout:
    """Add a layout (families call this at import, beside their ``checkpoint_filter``)."""
    if not layout.signature:
        raise ValueError(f"layout {layout.name!r}: a signature of at least one key is needed")
    old = _LAYOUTS.get(layout.name)
    if old is not None and old != layout:
        raise ValueError(f"checkpoint layout {layout.name!r} is already registered differently")
    _LAYOUTS[layout.name] = layout
    return layout


def list_layouts(model: str | None = None) -> list[CheckpointLayout]:
    """Registered layouts (those a ``model`` takes, when given), in registration order."""
    importlib.import_module(__package__)  # the families register their layouts at import
    return [lay for lay in _LAYOUTS.values()
            if model is None or not lay.models or model in lay.models]


def get_layout(name: str) -> CheckpointLayout:
    list_layouts()
    if name not in _LAYOUTS:
        raise KeyError(f"unknown checkpoint layout {name!r}; known: {', '.join(_LAYOUTS)}")
    return _LAYOUTS[name]


def detect_layout(state: Mapping[str, torch.Tensor],
                  model: str | None = None) -> CheckpointLayout | None:
    """The most specific registered layout whose signature ``state`` matches (``None``: none).

    With ``model``, only layouts that model takes are considered.
    """
    keys = list(state)
    found = [lay for lay in list_layouts(model) if lay.matches(keys)]
    return max(found, key=lambda lay: len(lay.signature)) if found else None


def closest_layout(state: Mapping[str, torch.Tensor]) -> tuple[CheckpointLayout | None, float]:
    """The layout whose signature ``state`` matches best, and the share of it that matched."""
    keys = list(state)
    best, share = None, 0.0
    for lay in list_layouts():
        s = lay.matched(keys) / len(lay.signature)
        if s > share:
            best, share = lay, s
    return best, share


def classifier_width(layout: CheckpointLayout, state: Mapping[str, torch.Tensor]) -> int | None:
    """Rows of the source classifier (its number of classes), or ``None`` without one."""
    if layout.classifier is None:
        return None
    for key, value in state.items():
        if re.search(layout.classifier, key) and value.dim() >= 1:
            return int(value.shape[0])
    return None


# litevid's own keys (``model.state_dict()``, the ``model`` of a training checkpoint): any model.
register_layout(CheckpointLayout(
    name="litevid", models=(), source="litevid (model.state_dict(), litevid train)",
    datasets="any", signature=(r"^head\.fc\.",), classifier=r"^head\.fc\.weight$",
    mapped="loaded as it is"))
