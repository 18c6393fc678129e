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

import torch
import torch.nn as nn

from ..layers.classifier import ClassifierHead, NumClasses
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
        """
        return state_dict

    def load_pretrained(
        self, checkpoint: str | Path | dict[str, torch.Tensor], *, strict: bool = False,
        min_share: float = DEFAULT_MIN_SHARE,
    ) -> LoadReport:
        """Initialise from a local checkpoint file (``weights_only=True``) or a state dict.

        The classifier of the source checkpoint is dropped (it belongs to another label set);
        keys whose shapes do not match are skipped and reported, never silently loaded. A
        checkpoint that fills less than ``min_share`` of the model's tensors is an error
        (another model's weights fill none); ``min_share=0`` allows any partial load. The report
        is returned and kept as ``model.load_report``.
        """
        state = load_checkpoint(checkpoint) if not isinstance(checkpoint, dict) else checkpoint
        self.load_report = load_into(self, self.checkpoint_filter(dict(state)), strict=strict,
                                     source=checkpoint, min_share=min_share)
        return self.load_report
