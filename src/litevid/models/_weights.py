"""Local checkpoint loading: read safely, map keys, inflate 2D kernels, report what happened.

Nothing here downloads. Files are read with ``torch.load(weights_only=True)`` so a checkpoint
cannot run code. Family files provide the key maps; this module provides the mechanics.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import torch
import torch.nn as nn

__all__ = [
    "DEFAULT_MIN_SHARE",
    "LoadReport",
    "load_checkpoint",
    "read_checkpoint",
    "load_into",
    "inflate_conv2d_weight",
    "drop_keys",
    "strip_prefix",
]

_log = logging.getLogger(__name__)

# A checkpoint that fills less than this share of a model's tensors is refused: it belongs to
# another model (another model's weights fill none). Every initialisation the study uses fills
# far more (ImageNet ResNet-50 into TSM 99%, I3D 95%, VTN 88%, NL 83%, Res2Net into TEA 65%:
# its motion modules are many small new tensors); ``min_share=0`` accepts any partial load.
DEFAULT_MIN_SHARE = 0.5

# Wrappers used by the training scripts of torchvision, timm, DeiT, Swin, SlowFast, mmaction2.
_WRAPPER_KEYS = ("state_dict", "model", "model_state", "module", "model_ema")


@dataclass
class LoadReport:
    """What a checkpoint load did; printed by the CLI and returned to callers."""

    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)  # "key: ckpt shape vs model shape"
    total: int = 0  # tensors of the model's state dict
    layout: str | None = None  # the published key layout recognised (``models._layouts``)
    notes: list[str] = field(default_factory=list)  # what else the load decided (head, padding)

    @property
    def share(self) -> float:
        """Share of the model's tensors the checkpoint filled."""
        return len(self.loaded) / self.total if self.total else 0.0

    def summary(self) -> str:
        return (
            f"loaded {len(self.loaded)} of {self.total} tensors ({self.share:.0%}); missing "
            f"{len(self.missing)}, unexpected {len(self.unexpected)}, shape-mismatched "
            f"{len(self.mismatched)}"
        )

    def lines(self) -> list[str]:
        """The summary, the layout and the notes, one item per line, for a CLI."""
        out = [self.summary()]
        if self.layout:
            out.append(f"layout: {self.layout}")
        out += self.notes
        return out

    def details(self, limit: int = 4) -> str:
        """The first keys of each kind that did not load, for a message."""
        parts = []
        for name, keys in (("missing", self.missing), ("unexpected", self.unexpected),
                           ("mismatched", self.mismatched)):
            if keys:
                more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
                parts.append(f"{name}: {', '.join(keys[:limit])}{more}")
        return "; ".join(parts)


def load_error_reason(exc: BaseException, limit: int = 300) -> str:
    """Why ``torch.load`` failed, on one line.

    A file refused by ``weights_only=True`` gets a paragraph from torch whose first line is only
    the preamble ("Weights only load failed ...") and whose reason (the global it would have had
    to import, e.g. ``posix.system``) comes later; keep the reason, drop the preamble and the
    pointer to the documentation.
    """
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    if lines and lines[0].startswith("Weights only load failed") and len(lines) > 1:
        lines = [ln for ln in lines[1:] if not ln.startswith("Check the documentation")] or lines
    text = " ".join(lines) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def torch_load(path: Path, what: str = "checkpoint", **kwargs: object) -> object:
    """``torch.load(path, map_location="cpu", weights_only=True)`` with one clear error line."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True, **kwargs)
    except Exception as exc:  # pickle refused, truncated or foreign file
        refused = "Weights only load failed" in str(exc)
        how = "refused by torch.load(weights_only=True), which never runs code from a file" \
            if refused else "cannot be read"
        raise ValueError(f"{path}: {what} {how}: {load_error_reason(exc)}") from None


def _load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """A ``.safetensors`` file (Hugging Face's format: tensors only, nothing to run)."""
    try:
        from safetensors.torch import load_file
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ValueError(f"{path}: reading .safetensors needs the safetensors package") from exc
    try:
        return load_file(str(path), device="cpu")
    except Exception as exc:  # header or data damaged
        raise ValueError(f"{path}: checkpoint cannot be read: {load_error_reason(exc)}") from None


def load_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a local checkpoint and unwrap the usual containers to a flat state dict.

    ``.safetensors`` files are read with ``safetensors``; everything else with ``torch.load(
    weights_only=True)``. Wrappers (``state_dict``, ``model_state``, ``model``, ...) are unwrapped
    and a DataParallel ``module.`` prefix on every key is removed.
    """
    return read_checkpoint(path)[0]


def read_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, object]]:
    """``load_checkpoint`` and what the outermost wrapper holds beside the weights (epoch,
    ``model_name``, ``model_args``, ... of a training checkpoint; ``{}`` for a bare state dict)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    obj = _load_safetensors(path) if path.suffix == ".safetensors" else torch_load(path)
    meta: dict[str, object] = {}
    for _ in range(3):  # nested wrappers, e.g. {"model": {"state_dict": ...}}
        if isinstance(obj, dict):
            key = next((k for k in _WRAPPER_KEYS if isinstance(obj.get(k), dict)), None)
            if key is not None and not any(torch.is_tensor(v) for v in obj.values()):
                meta = meta or {k: v for k, v in obj.items() if k != key}
                obj = obj[key]
                continue
        break
    if not isinstance(obj, dict) or not any(torch.is_tensor(v) for v in obj.values()):
        raise ValueError(f"checkpoint {path} holds no state dict of tensors")
    state = {k: v for k, v in obj.items() if torch.is_tensor(v)}
    if all(k.startswith("module.") for k in state):  # saved from DataParallel/DDP
        state = strip_prefix(state, "module.")
    return state, meta


def strip_prefix(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in state.items()}


def drop_keys(state: dict[str, torch.Tensor], prefixes: Iterable[str]) -> dict[str, torch.Tensor]:
    """Remove keys starting with any of ``prefixes`` (the source classifier, buffers we rebuild)."""
    prefixes = tuple(prefixes)
    return {k: v for k, v in state.items() if not k.startswith(prefixes)}


def inflate_conv2d_weight(weight: torch.Tensor, kt: int) -> torch.Tensor:
    """I3D inflation of a ``(O, I, kh, kw)`` kernel to ``(O, I, kt, kh, kw)``.

    The kernel is repeated over time and divided by ``kt``, so a clip of identical frames gives
    the 2D network's activations (Carreira & Zisserman 2017).
    """
    if weight.dim() != 4:
        raise ValueError(f"expected a 4-D conv kernel to inflate, got shape {tuple(weight.shape)}")
    return weight.unsqueeze(2).repeat(1, 1, kt, 1, 1) / kt


def load_into(
    model: nn.Module,
    state: dict[str, torch.Tensor],
    *,
    strict: bool = False,
    source: object = "state dict",
    min_share: float = 0.0,
    dry_run: bool = False,
) -> LoadReport:
    """Load ``state`` into ``model``; skip and report unknown keys and shape mismatches.

    Raises ``ValueError`` (nothing loaded) when ``strict`` and anything differs, or when the
    checkpoint fills less than ``min_share`` of the model's tensors. ``dry_run`` only reports,
    loading and refusing nothing (``litevid weights inspect``).
    """
    own = model.state_dict()
    report = LoadReport(total=len(own))
    usable: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key not in own:
            report.unexpected.append(key)
        elif own[key].shape != value.shape:
            report.mismatched.append(f"{key}: {tuple(value.shape)} vs {tuple(own[key].shape)}")
        else:
            usable[key] = value
    report.missing = [k for k in own if k not in usable]
    report.loaded = sorted(usable)
    if dry_run:  # the caller judges the share
        return report
    if strict and (report.missing or report.unexpected or report.mismatched):
        raise ValueError(f"strict load from {source} failed: {report.summary()}")
    if report.share < min_share:
        raise ValueError(
            f"{source}: does not fit {type(model).__name__}: {report.summary()}, below the "
            f"{min_share:.0%} required (a checkpoint of another model?); {report.details()}. "
            "To load a partial checkpoint on purpose, lower the share (train: "
            "--pretrained-min-share 0)")
    model.load_state_dict(usable, strict=False)
    _log.info("weights from %s: %s", source, report.summary())
    for name, keys in (("missing", report.missing), ("unexpected", report.unexpected),
                       ("mismatched", report.mismatched)):
        if keys:
            _log.info("  %s: %s%s", name, ", ".join(keys[:8]), " ..." if len(keys) > 8 else "")
    return report
