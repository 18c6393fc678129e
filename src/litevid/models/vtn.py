"""VTN: a 2D CNN per frame followed by a temporal transformer (Neimark et al. 2021).

The original VTN uses ViT-B and a Longformer; the study swaps in ResNet-50 (VTN-R50) and
EfficientNet-B0 (VTN-EFF). Their parameter counts (26.5M, 6.8M) identify the head (MODELS.md
section 4): a linear projection of the frame features to 256, a CLS token and a learned positional
embedding for up to 64 frames, three pre-norm encoder layers (8 heads, feed-forward 1024, dropout
0.1), a final LayerNorm and a *linear* classifier. At 16 frames full attention equals the
Longformer's (its window covers all 17 tokens).
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn

from ..layers import TemporalTransformer, fold_frames, unfold_frames
from ._base import VideoModel
from ._registry import ModelSpec, register_model
from ._weights import drop_keys
from .efficientnet import EfficientNetB0, efficientnet_b0_checkpoint_filter
from .resnet import resnet50_trunk

__all__ = ["VTN"]


class VTN(VideoModel):
    """Per-frame backbone -> temporal transformer -> linear head on the CLS token.

    Args:
        backbone: 2D trunk mapping ``(N, 3, H, W)`` to ``(N, F, h, w)`` with ``num_features = F``.
        num_classes: classifier width.
        embed_dim: temporal transformer width.
        depth: temporal layers.
        num_heads: attention heads.
        max_frames: longest clip the positional embedding covers.
        drop: dropout inside the temporal transformer.
        drop_rate: dropout before the classifier.
        backbone_filter: maps a foreign ImageNet checkpoint layout of the backbone onto its own
            keys (e.g. timm EfficientNet -> torchvision names); ``None`` keeps keys as they are.
    """

    def __init__(
        self,
        backbone: nn.Module,
        num_classes: int = 400,
        embed_dim: int = 256,
        depth: int = 3,
        num_heads: int = 8,
        max_frames: int = 64,
        drop: float = 0.1,
        drop_rate: float = 0.5,
        backbone_filter: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] | None = None,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.backbone_filter = backbone_filter
        self.temporal = TemporalTransformer(
            backbone.num_features, embed_dim, depth, num_heads, max_len=max_frames + 1, drop=drop,
        )
        self.num_classes = num_classes
        self.num_features = embed_dim
        self.head_drop = nn.Dropout(drop_rate)
        self.head = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        T = x.shape[2]
        x = self.backbone(fold_frames(x))  # (B*T, F, h, w)
        x = unfold_frames(x.mean((2, 3)), T)  # (B, T, F)
        return self.temporal(x)  # (B, T + 1, D)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return super().forward_head(x[:, 0], pre_logits)  # the CLS token

    def checkpoint_filter(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """An ImageNet checkpoint of the backbone (torchvision/timm layout) under ``backbone.``."""
        state = self.backbone_filter(state_dict) if self.backbone_filter else state_dict
        state = drop_keys(state, ("fc.", "classifier.", "head."))
        return {(k if k.startswith("backbone.") else f"backbone.{k}"): v for k, v in state.items()}


@register_model(ModelSpec(
    name="vtn_r50", paper_name="VTN-R50", category="composite", family="vtn", paper_params_m=26.5,
    pretrained="ImageNet-1K ResNet-50 (torchvision/timm `resnet50` keys under `backbone.`, fc "
               "dropped), per frame; temporal transformer new",
))
def vtn_r50(*, num_classes: int = 400, frames: int = 16, size: int = 224, **kwargs) -> VTN:
    return VTN(resnet50_trunk(), num_classes, max_frames=max(64, frames), **kwargs)


@register_model(ModelSpec(
    name="vtn_eff", paper_name="VTN-EFF", category="composite", family="vtn", paper_params_m=6.8,
    pretrained="ImageNet-1K EfficientNet-B0 (torchvision `efficientnet_b0` IMAGENET1K_V1 or timm "
               "`efficientnet_b0` keys, classifier dropped) under `backbone.`, per frame; "
               "temporal transformer new",
))
def vtn_eff(*, num_classes: int = 400, frames: int = 16, size: int = 224,
            drop_path_rate: float = 0.2, **kwargs) -> VTN:
    return VTN(EfficientNetB0(drop_path_rate), num_classes, max_frames=max(64, frames),
               backbone_filter=efficientnet_b0_checkpoint_filter, **kwargs)
