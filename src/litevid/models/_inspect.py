"""What a checkpoint file is and what loading it would do, without running anything from it.

``inspect_checkpoint(path)`` reads the file with ``weights_only=True`` (or safetensors), names
its key layout (``models._layouts``), counts parameters, reads the classifier width and the
sha256, and, for every model the layout fits, reports what ``create_model(name,
pretrained=path)`` would load: a dry run on a model built on the ``meta`` device, so nothing is
allocated or loaded. ``litevid weights inspect`` prints it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..utils.hashing import file_sha256
from ._layouts import CheckpointLayout, classifier_width, closest_layout, detect_layout
from ._weights import DEFAULT_MIN_SHARE, read_checkpoint

__all__ = ["CheckpointInfo", "ModelFit", "inspect_checkpoint"]

# Buffers a model rebuilds; not parameters of the checkpoint.
_BUFFER_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked",
                    "relative_position_index", "attn_mask")


@dataclass
class ModelFit:
    """What ``create_model(model, pretrained=FILE)`` would load."""

    model: str
    loaded: int
    total: int
    missing: list[str]
    unexpected: list[str]
    mismatched: list[str]
    notes: list[str]

    @property
    def share(self) -> float:
        return self.loaded / self.total if self.total else 0.0

    @property
    def verdict(self) -> str:
        if self.share < DEFAULT_MIN_SHARE:
            return f"refused: below the {DEFAULT_MIN_SHARE:.0%} a pretrained file must fill"
        if not (self.missing or self.unexpected or self.mismatched):
            return "every tensor"
        if not (self.unexpected or self.mismatched) and all(
                k.startswith("head.fc.") for k in self.missing):
            return "every tensor but the classifier (new)"
        return "partial: the rest keeps its initialisation"


@dataclass
class CheckpointInfo:
    path: str
    sha256: str
    size_bytes: int
    tensors: int
    parameters: int
    layout: CheckpointLayout
    classes: int | None
    fits: list[ModelFit] = field(default_factory=list)
    saved_by: str | None = None  # "litevid train: movinet_a0, epoch 3, ..." for a training file

    def as_dict(self) -> dict[str, Any]:
        lay = self.layout
        return {
            "path": self.path, "sha256": self.sha256, "size_bytes": self.size_bytes,
            "tensors": self.tensors, "parameters": self.parameters,
            "layout": {"name": lay.name, "source": lay.source, "datasets": lay.datasets,
                       "kind": lay.kind, "models": list(lay.models)},
            "classes": self.classes, "saved_by": self.saved_by,
            "fits": [{**vars(f), "share": round(f.share, 4), "verdict": f.verdict}
                     for f in self.fits],
        }


def _dry_run(name: str, state: dict[str, torch.Tensor], model_args: dict[str, Any],
             keep_head: bool) -> ModelFit:
    from ._registry import create_model

    with torch.device("meta"):  # shapes only: nothing allocated, nothing loaded
        model = create_model(name, **model_args)
        report = model.load_pretrained(dict(state), keep_head=keep_head, dry_run=True)
    return ModelFit(name, len(report.loaded), report.total, report.missing, report.unexpected,
                    report.mismatched, report.notes)


def inspect_checkpoint(path: str | Path, *, models: list[str] | None = None,
                       model_args: dict[str, Any] | None = None,
                       keep_head: bool = False) -> CheckpointInfo:
    """Describe ``path`` and what each model it fits would load from it.

    Args:
        path: a checkpoint file (``.pth``/``.pt``/``.pyth``/``.bin``/``.safetensors``).
        models: registry names to try (default: those the recognised layout names; every
            registered model for litevid's own layout).
        model_args: ``create_model`` arguments for a configuration other than the default (e.g.
            a reduced one), the same for every model tried.
        keep_head: dry-run with ``keep_head=True``.

    Raises:
        ValueError: the file fits no known layout (naming the closest one), or cannot be read.
    """
    from ._registry import list_models

    path = Path(path)
    state, meta = read_checkpoint(path)
    layout = detect_layout(state)
    if layout is None:
        near, share = closest_layout(state)
        hint = (f"closest: {near.name} ({near.source}), {share:.0%} of its signature keys"
                if near is not None else "no layout shares a signature key with it")
        raise ValueError(f"{path}: fits no known checkpoint layout ({hint}); litevid weights "
                         "layouts lists them")
    params = sum(v.numel() for k, v in state.items()
                 if v.is_floating_point() and not k.endswith(_BUFFER_SUFFIXES))
    info = CheckpointInfo(str(path), file_sha256(path), path.stat().st_size, len(state), params,
                          layout, classifier_width(layout, state))
    args = dict(model_args or {})
    trained_as = meta.get("model_name")
    if isinstance(trained_as, str) and trained_as in list_models():  # a litevid training file
        info.saved_by = (f"litevid train: {trained_as}, epoch {meta.get('state', {}).get('epoch')}"
                         if isinstance(meta.get("state"), dict) else f"litevid: {trained_as}")
        models = models or [trained_as]
        if isinstance(meta.get("model_args"), dict):  # e.g. MoViNet's padding
            args = {**meta["model_args"], **args}
            info.saved_by += "".join(f", {k}={v}" for k, v in meta["model_args"].items())
    names = models or list(layout.models) or list_models()
    for name in names:
        info.fits.append(_dry_run(name, state, args, keep_head))
    if not models and not layout.models:  # litevid's layout: only the models it fits
        info.fits = [f for f in info.fits if f.share >= DEFAULT_MIN_SHARE] or info.fits
    return info
