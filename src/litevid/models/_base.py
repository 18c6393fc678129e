"""The interface every litevid model shares (composites included).

``VideoModel`` fixes the contract of DESIGN.md: input ``(B, C, T, H, W)``, logits
``(B, num_classes)`` (or a dict of them for named heads), ``forward_features`` /
``forward_head(x, pre_logits=False)`` / ``reset_classifier`` / ``num_classes`` / ``num_features``,
plus ``load_pretrained`` for local checkpoints. A family subclasses it, calls ``create_head`` once
in ``__init__`` (the pooling, dropout and classifier init are head arguments), and overrides
``checkpoint_filter`` to map a foreign key layout. Everything the head does is written here and in
``layers.ClassifierHead``, once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from ..layers.classifier import ClassifierHead, NumClasses
from ._layouts import CheckpointLayout, detect_layout
from ._weights import DEFAULT_MIN_SHARE, LoadReport, load_checkpoint, load_into

__all__ = ["VideoModel", "to_channels_last"]


def to_channels_last(model: nn.Module) -> nn.Module:
    """Put every 5-D parameter/buffer in ``channels_last_3d`` and every 4-D one in ``channels_last``.

    ``model.to(memory_format=torch.channels_last_3d)`` fails on models that mix 3D and 2D kernels
    (2D-per-frame trunks, SE convs on pooled maps); this converts each tensor by its rank. Inputs
    go in as ``x.contiguous(memory_format=torch.channels_last_3d)``. Depthwise 3D convolutions are
    several times faster on CPU in this layout.
    """

    def convert(t: torch.Tensor) -> torch.Tensor:
        if t.dim() == 5:
            return t.contiguous(memory_format=torch.channels_last_3d)
        if t.dim() == 4:
            return t.contiguous(memory_format=torch.channels_last)
        return t

    return model._apply(convert)


class VideoModel(nn.Module):
    """Base class for video classifiers taking ``(B, C, T, H, W)`` clips."""

    in_chans: int = 3
    head: ClassifierHead  # created by ``create_head``

    def create_head(self, num_features: int, num_classes: NumClasses, **head_args) -> None:
        """Build the classifier head; every family calls this once in ``__init__``.

        Args:
            num_features: width of the pooled (pre-logit) features.
            num_classes: classifier width, a dict of named widths, or 0 for none.
            **head_args: ``ClassifierHead`` options: ``pool``, ``drop_rate``, ``consensus_dim``,
                ``init_fn``.
        """
        self.head = ClassifierHead(num_features, num_classes, **head_args)

    @property
    def num_classes(self) -> int | dict[str, int]:
        """Classifier width (0 = no classifier), or the named widths of several heads."""
        return self.head.num_classes

    @property
    def num_features(self) -> int:
        """Width of the pre-logit features, what ``forward_head(x, pre_logits=True)`` returns."""
        return self.head.in_features

    def check_input(self, x: torch.Tensor) -> None:
        """Raise a clear ``ValueError`` for a wrong rank or channel count.

        Depends only on static shapes, so it is free under export/tracing.
        """
        if x.dim() != 5:
            raise ValueError(
                f"{type(self).__name__} expects a 5-D clip (B, C, T, H, W); got shape {tuple(x.shape)}"
            )
        if x.shape[1] != self.in_chans:
            raise ValueError(
                f"{type(self).__name__} expects {self.in_chans} input channels at dim 1 of "
                f"(B, C, T, H, W); got shape {tuple(x.shape)}"
            )

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward_head(
        self, x: torch.Tensor, pre_logits: bool = False
    ) -> torch.Tensor | dict[str, torch.Tensor]:
        """Features -> pool -> dropout -> classifier; ``pre_logits`` stops before the classifier.

        Families with work between the features and the pooled vector (X3D, MoViNet) do it and
        call ``super().forward_head`` on the result.
        """
        return self.head(x, pre_logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor | dict[str, torch.Tensor]:
        self.check_input(x)
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        return self.head.fc

    def reset_classifier(self, num_classes: NumClasses) -> None:
        """Replace the classifier: a width, a dict of named widths, or 0 for none.

        The new layers start as the family's classifier does (e.g. TSM's normal(0, 0.001)).
        """
        self.head.reset(num_classes)

    # ---- local weights -------------------------------------------------------------------------

    def checkpoint_filter(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Map a foreign checkpoint (e.g. torchvision/timm ImageNet) onto this model's keys.

        The default keeps keys as they are; families override it (prefixes, inflation, renames).
        A video checkpoint's classifier is mapped to ``head.fc.weight`` / ``head.fc.bias``;
        ``load_pretrained`` then keeps or drops it (see there). An image checkpoint's classifier
        is dropped by the filter.
        """
        return state_dict

    def map_checkpoint(
        self, state_dict: dict[str, torch.Tensor]
    ) -> tuple[dict[str, torch.Tensor], list[str]]:
        """``checkpoint_filter`` plus notes on what the mapping decided (embedding resizes, ...),
        which ``load_pretrained`` puts in the report. Families with something to say override
        this one instead of ``checkpoint_filter``."""
        return self.checkpoint_filter(state_dict), []

    def arch_args(self) -> dict[str, Any]:
        """Constructor arguments a saved model needs to be rebuilt exactly, beyond its name,
        classes and clip shape (``create_model(name, **model.arch_args())``), e.g. MoViNet's
        ``padding`` after a TF-converted checkpoint chose it. Training checkpoints store them
        (``model_args``); eval, predict, export and resume pass them back."""
        return {}

    def adapt_to_layout(self, layout: CheckpointLayout) -> list[str]:
        """Change what must change for a checkpoint of ``layout`` before it loads; return notes.

        Called by ``load_pretrained`` once the layout is recognised, before the filter. The
        default changes nothing; MoViNet switches to TF "SAME" padding for TF-converted files.
        """
        return []

    def load_pretrained(
        self, checkpoint: str | Path | dict[str, torch.Tensor], *, strict: bool = False,
        min_share: float = DEFAULT_MIN_SHARE, keep_head: bool = False, dry_run: bool = False,
    ) -> LoadReport:
        """Initialise from a local checkpoint file (``weights_only=True``) or a state dict.

        The key layout is recognised (``models._layouts``) and mapped by ``checkpoint_filter``.
        The source classifier is kept when it has this model's width or ``keep_head`` is set (the
        model's classifier is then resized to it, e.g. to score Kinetics-400 directly) and
        dropped with a note otherwise. Keys whose shapes do not match are skipped and reported,
        never silently loaded. A checkpoint that fills less than ``min_share`` of the model's
        tensors is an error (another model's weights fill none); ``min_share=0`` allows any
        partial load. The report (with the layout and notes) is returned and kept as
        ``model.load_report``. ``dry_run`` reports what would load and loads nothing (the model
        may still be adapted: padding, classifier width).
        """
        state = load_checkpoint(checkpoint) if not isinstance(checkpoint, dict) else checkpoint
        layout = detect_layout(state, self.registry_name) if self.registry_name else None
        layout = layout or detect_layout(state)
        notes = self.adapt_to_layout(layout) if layout is not None else []
        mapped, mapping_notes = self.map_checkpoint(dict(state))
        notes += mapping_notes + self._resolve_head(mapped, keep_head, checkpoint)
        report = load_into(self, mapped, strict=strict, source=checkpoint, min_share=min_share,
                           dry_run=dry_run)
        report.layout = layout.name if layout is not None else None
        report.notes = notes
        if not dry_run:
            self.load_report = report
        return report

    # the registry name the model was created as (set by ``create_model``; None when built
    # directly), used to prefer the layouts this model takes
    registry_name: str | None = None

    def _resolve_head(self, mapped: dict[str, torch.Tensor], keep_head: bool,
                      source: object) -> list[str]:
        """Keep or drop the mapped source classifier (``head.fc.*``); say what was done."""
        weight = mapped.get("head.fc.weight")
        if weight is None:
            if keep_head:
                raise ValueError(f"{source}: keep_head: the checkpoint has no classifier that "
                                 f"maps onto {type(self).__name__}'s")
            return []
        width, own = int(weight.shape[0]), self.num_classes
        if keep_head:
            if own != width:
                self.reset_classifier(width)
                return [f"classifier kept: the checkpoint's {width} classes (the model's "
                        f"{own}-class classifier replaced)"]
            return [f"classifier kept: {width} classes"]
        if own == width:
            return [f"classifier kept: {width} classes, the model's width"]
        for key in [k for k in mapped if k.startswith("head.fc.")]:
            del mapped[key]
        return [f"classifier dropped: {width} classes in the checkpoint, {own} in the model "
                "(keep_head=True, --keep-head, keeps it)"]
