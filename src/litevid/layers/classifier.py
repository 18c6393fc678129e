"""The classifier head of every litevid model: pool -> dropout -> linear, one or several widths.

Families differ only in the arguments: how features are pooled (the CLS token, a mean over given
dims, or nothing when ``forward_features`` already pooled), whether per-frame logits are averaged
afterwards (TSN's average consensus), and how the linear layers start. Several named widths
(``{"verb": 97, "noun": 300}`` for EPIC-KITCHENS) give one linear layer each, sharing the pooled
features and the dropout, and a dict of logits. Key names: ``head.fc.weight`` for one width,
``head.fc.<name>.weight`` for several (timm's ``ClassifierHead`` also names its layer ``fc``).
"""

from __future__ import annotations

from typing import Callable, Mapping

import torch
import torch.nn as nn

__all__ = ["ClassifierHead", "NumClasses"]

# One classifier width (0 = no classifier), or named widths for several heads.
NumClasses = int | Mapping[str, int]


class ClassifierHead(nn.Module):
    """Pool -> dropout -> linear classifier(s).

    Args:
        in_features: width of the pooled features (the model's ``num_features``).
        num_classes: classifier width (0 = none: the head returns the pooled features), or a dict
            of named widths, each > 0, for one linear layer per name and a dict of logits.
        pool: ``"token"`` = the first (CLS) token ``x[:, 0]`` of a ``(B, N, D)`` sequence; a tuple
            of dims = the mean over them; ``None`` = the features are pooled already.
        drop_rate: dropout before the classifier.
        consensus_dim: after the classifier, average over this dim (TSN: per-frame logits of a
            ``(B, T, D)`` input averaged over T; pre-logits are averaged over it too).
        init_fn: called on every new linear layer (construction and ``reset``); ``None`` keeps
            PyTorch's default init.
    """

    def __init__(
        self,
        in_features: int,
        num_classes: NumClasses,
        *,
        pool: str | tuple[int, ...] | None = None,
        drop_rate: float = 0.0,
        consensus_dim: int | None = None,
        init_fn: Callable[[nn.Linear], None] | None = None,
    ) -> None:
        super().__init__()
        if isinstance(pool, str) and pool != "token":
            raise ValueError(
                f"ClassifierHead: pool must be 'token', a tuple of dims or None, got {pool!r}")
        self.in_features = in_features
        self.pool = pool
        self.consensus_dim = consensus_dim
        self.init_fn = init_fn
        self.drop = nn.Dropout(drop_rate)
        self.reset(num_classes)

    @property
    def num_classes(self) -> int | dict[str, int]:
        """The width built: an int, or a (copied) dict of named widths."""
        if isinstance(self.fc, nn.ModuleDict):
            return {name: fc.out_features for name, fc in self.fc.items()}
        return self.fc.out_features if isinstance(self.fc, nn.Linear) else 0

    def _linear(self, num_classes: int) -> nn.Linear:
        fc = nn.Linear(self.in_features, num_classes)
        if self.init_fn is not None:
            self.init_fn(fc)
        return fc

    def reset(self, num_classes: NumClasses) -> None:
        """Replace the classifier with fresh layer(s) of ``num_classes`` (0 = none)."""
        if isinstance(num_classes, Mapping):
            bad = {k: n for k, n in num_classes.items() if not (isinstance(n, int) and n > 0)}
            if not num_classes or bad:
                raise ValueError(f"named classifier widths must be a non-empty dict of positive "
                                 f"ints, got {dict(num_classes)}")
            self.fc = nn.ModuleDict({k: self._linear(n) for k, n in num_classes.items()})
        elif num_classes > 0:
            self.fc = self._linear(num_classes)
        else:
            self.fc = nn.Identity()

    def _consensus(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.consensus_dim is None else x.mean(self.consensus_dim)

    def forward(
        self, x: torch.Tensor, pre_logits: bool = False
    ) -> torch.Tensor | dict[str, torch.Tensor]:
        if self.pool == "token":
            x = x[:, 0]  # (B, N, D) -> (B, D): the CLS token
        elif self.pool is not None:
            x = x.mean(self.pool)
        x = self.drop(x)
        if pre_logits:
            return self._consensus(x)
        if isinstance(self.fc, nn.ModuleDict):  # static: depends on the built heads only
            return {name: self._consensus(fc(x)) for name, fc in self.fc.items()}
        return self._consensus(self.fc(x))
