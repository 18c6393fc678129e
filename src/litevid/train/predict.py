"""Checkpoints for inference, ``litevid eval`` on a split and ``litevid predict`` on video files.

``load_for_inference`` builds the model a checkpoint was trained as (a litevid training
checkpoint carries the model name, classifier widths, class names and clip shape; a plain state
dict needs them from the caller) and refuses a checkpoint of another model or class count with
an error naming the file. ``predict_files`` times the three stages of end-to-end inference per
file: decode (open, sample segment centres, decode and resize), preprocess (crop, normalise) and
the model's forward pass; a warm-up pass runs first so the first file is not charged for lazy
initialisation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import torch
import torch.nn as nn

if TYPE_CHECKING:
    from ..devices import DeviceBackend

__all__ = ["LoadedModel", "load_for_inference", "predict_files", "read_label_file",
           "read_training_checkpoint"]


@dataclass
class LoadedModel:
    """A model ready for inference and what its checkpoint says about it."""

    model: nn.Module
    name: str
    num_classes: int | dict[str, int]
    classes: dict[str, list[str]] | None
    frames: int
    size: int
    checkpoint: dict[str, Any]  # the training checkpoint's metadata ({} for a plain state dict)


def read_training_checkpoint(path: str | Path) -> dict[str, Any]:
    """A litevid training checkpoint's contents, or ``{}`` when the file is a plain state dict
    (anything unreadable raises, naming the file)."""
    from .checkpoint import load_checkpoint

    try:
        return load_checkpoint(path)
    except ValueError as exc:
        if "not a litevid training checkpoint" not in str(exc):
            raise
    return {}


def load_for_inference(name: str, checkpoint: str | Path, *, device: torch.device,
                       num_classes: int | Mapping[str, int] | None = None,
                       frames: int | None = None, size: int | None = None,
                       preloaded: dict[str, Any] | None = None,
                       keep_head: bool = False) -> LoadedModel:
    """Build ``name`` and load ``checkpoint``: a litevid training checkpoint, a litevid state
    dict, or (with ``keep_head``) a published video checkpoint in a layout ``name`` takes, with
    its own classifier (e.g. Kinetics-400 to score Kinetics directly). ``preloaded`` is
    ``read_training_checkpoint(checkpoint)`` when the caller has it already."""
    from ..models import create_model, model_spec
    from ..models._weights import load_checkpoint as load_state_dict

    path = Path(checkpoint)
    spec = model_spec(name)
    meta = dict(read_training_checkpoint(path) if preloaded is None else preloaded)
    if meta:
        if meta.get("model_name") != name:
            raise ValueError(f"{path}: checkpoint of model {meta.get('model_name')!r}, not "
                             f"{name!r}")
        heads = meta["num_classes"]
        if num_classes is not None and _norm(num_classes) != _norm(heads):
            raise ValueError(f"{path}: checkpoint has classifier {heads}, the data needs "
                             f"{dict(num_classes) if isinstance(num_classes, Mapping) else num_classes}")
        state = meta.pop("model")
        for big in ("optimizer", "scheduler", "scaler", "rng"):
            meta.pop(big, None)
        frames, size = frames or meta.get("frames"), size or meta.get("size")
    else:
        state = load_state_dict(path)
        if _heads_in(state) is None:  # not litevid's keys: a published layout?
            return _load_published(name, path, state, device=device, num_classes=num_classes,
                                   frames=frames or spec.frames, size=size or spec.size,
                                   keep_head=keep_head)
        heads = num_classes if num_classes is not None else _heads_in(state) or spec.num_classes
    frames, size = frames or spec.frames, size or spec.size
    model = create_model(name, num_classes=dict(heads) if isinstance(heads, Mapping) else heads,
                         frames=frames, size=size, **meta.get("model_args", {}))
    own = model.state_dict()
    bad = [k for k, v in state.items() if k in own and own[k].shape != v.shape]
    missing = [k for k in own if k not in state]
    if bad or missing:
        what = (f"shape mismatch in {bad[:3]}" if bad else f"missing {len(missing)} tensors "
                f"({missing[:3]}...)")
        raise ValueError(f"{path}: not a checkpoint of {name} with classifier {heads}: {what}")
    model.load_state_dict(state, strict=False)
    return LoadedModel(model.to(device).eval(), name, heads, meta.get("classes"), frames, size,
                       meta)


def _load_published(name: str, path: Path, state: dict[str, torch.Tensor], *,
                    device: torch.device, num_classes: int | Mapping[str, int] | None,
                    frames: int, size: int, keep_head: bool) -> LoadedModel:
    """A published video checkpoint (torchvision, official releases, Hugging Face, ...) with its
    classifier, for eval/predict. Every tensor of the model must come from the file."""
    from ..models import create_model
    from ..models._layouts import classifier_width, closest_layout, detect_layout

    layout = detect_layout(state, name)
    if layout is None:
        near, share = closest_layout(state)
        hint = f"; closest layout: {near.name} ({share:.0%} of its keys)" if near else ""
        raise ValueError(f"{path}: neither a litevid checkpoint nor a published layout "
                         f"{name} takes{hint} (litevid weights inspect {path})")
    width = classifier_width(layout, state)
    if layout.kind != "video" or width is None:
        raise ValueError(f"{path}: a {layout.source} file ({layout.name}) has no video "
                         "classifier to predict with; train from it: litevid train --pretrained")
    if not keep_head:
        raise ValueError(f"{path}: a {layout.source} checkpoint ({layout.name}, {width} "
                         "classes); pass --keep-head to use its classifier")
    if num_classes is not None and _norm(num_classes) != width:
        raise ValueError(f"{path}: its classifier has {width} classes, the data needs "
                         f"{_norm(num_classes)}")
    model = create_model(name, num_classes=width, frames=frames, size=size)
    report = model.load_pretrained(state, keep_head=True, min_share=0.0)
    if report.missing or report.mismatched or report.unexpected:
        raise ValueError(f"{path}: the {layout.name} checkpoint does not fill {name} exactly "
                         f"({report.summary()}): {report.details()}")
    return LoadedModel(model.to(device).eval(), name, width, None, frames, size,
                       {"layout": layout.name, "load_notes": report.notes})


def _heads_in(state: Mapping[str, torch.Tensor]) -> int | dict[str, int] | None:
    """The classifier width(s) a litevid state dict was saved with (``head.fc.weight`` or
    ``head.fc.<name>.weight``), or ``None`` when it has no litevid head."""
    if "head.fc.weight" in state:
        return int(state["head.fc.weight"].shape[0])
    named = {k[len("head.fc."):-len(".weight")]: int(v.shape[0]) for k, v in state.items()
             if k.startswith("head.fc.") and k.endswith(".weight")}
    return named or None


def _norm(n: int | Mapping[str, int]) -> Any:
    return dict(n) if isinstance(n, Mapping) else int(n)


def read_label_file(path: str | Path) -> list[str]:
    """Class names, one per line (``label_map_k400.txt`` style): ``data.read_class_names``, the
    reader of the datasets' label maps (missing, empty, non-UTF-8 and duplicate names are one
    error naming the file)."""
    from ..data.annotations import read_class_names

    return read_class_names(path)


def predict_files(loaded: LoadedModel, videos: Sequence[str | Path], *, device: DeviceBackend,
                  classes: Mapping[str, list[str]] | None = None, top: int = 5
                  ) -> list[dict[str, Any]]:
    """Top-``top`` classes of each file and its stage times (ms): decode, preprocess, model.

    ``device`` is the backend the model is on (made current by the caller): each stage ends
    with its synchronisation, so "model" is the forward pass's device time, not its launch.
    A file that cannot be opened or decoded gives an entry with ``error`` (naming the file)
    and the others go on.
    """
    from ..data.decode import open_video
    from ..data.sampling import sample_indices
    from ..data.transforms import ClipTransform
    from ..models import model_spec

    spec = model_spec(loaded.name)
    transform = ClipTransform(loaded.size, train=False, flip=False, mean=spec.mean, std=spec.std)
    sync = device.synchronize
    with torch.inference_mode():  # warm-up: lazy init and allocator growth are not charged
        loaded.model(torch.zeros(1, spec.in_chans, loaded.frames, loaded.size, loaded.size,
                                 device=device.device))
    sync()
    names = dict(classes or loaded.classes or {})
    results = []
    for video in videos:
        path = str(video)
        try:
            t0 = time.perf_counter()
            with open_video(path) as v:
                info = v.info
                idx = info.first_index + sample_indices(info.frames, loaded.frames, train=False)
                raw = v.read(idx, short_side=transform.short_side)
            t1 = time.perf_counter()
            clip = transform(raw)[None].to(device.device)  # (1, C, T, H, W)
            sync()
            t2 = time.perf_counter()
            with torch.inference_mode():
                out = loaded.model(clip)
            sync()
            t3 = time.perf_counter()
        except (ValueError, OSError) as exc:
            results.append({"video": path, "error": str(exc)})
            continue
        outs = out if isinstance(out, Mapping) else {"label": out}
        heads = {}
        for head, logits in outs.items():
            scores, idx5 = logits.float().softmax(-1)[0].topk(min(top, logits.shape[-1]))
            labels = names.get(head)
            heads[head] = [{"class": int(i), "name": labels[i] if labels and i < len(labels)
                            else str(int(i)), "score": float(s)}
                           for s, i in zip(scores.tolist(), idx5.tolist())]
        results.append({"video": path, "top": heads,
                        "ms": {"decode": (t1 - t0) * 1e3, "preprocess": (t2 - t1) * 1e3,
                               "model": (t3 - t2) * 1e3, "total": (t3 - t0) * 1e3}})
    return results
