"""VTN: a 2D CNN per frame followed by a temporal transformer (Neimark et al. 2021).

The original VTN uses ViT-B and a Longformer; the study swaps in ResNet-50 (VTN-R50) and
EfficientNet-B0 (VTN-EFF). Their parameter counts (26.5M, 6.8M) identify the head (MODELS.md
section 4): a linear projection of the frame features to 256, a CLS token and a learned positional
embedding for up to 64 frames, three pre-norm encoder layers (8 heads, feed-forward 1024, dropout
0.1), a final LayerNorm and a *linear* classifier. At 16 frames full attention equals the
Longformer's (its window covers all 17 tokens).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..layers import TemporalTransformer, fold_frames, unfold_frames
from ..layers.classifier import NumClasses
from ._base import VideoModel
from ._registry import InitSpec, ModelSpec, register_model
from ._weights import drop_keys
from .efficientnet import EfficientNetB0
from .resnet import resnet50_trunk

__all__ = ["VTN"]


class VTN(VideoModel):
    """Per-frame backbone -> temporal transformer -> linear head on the CLS token.

    Args:
        backbone: 2D trunk mapping ``(N, 3, H, W)`` to ``(N, F, h, w)`` with ``num_features = F``;
            its ``checkpoint_filter``, if it has one, maps foreign ImageNet layouts of it (e.g.
            timm EfficientNet -> torchvision names).
        num_classes: classifier width, or a dict of named widths.
        embed_dim: temporal transformer width.
        depth: temporal layers.
        num_heads: attention heads.
        max_frames: longest clip the positional embedding covers.
        drop: dropout inside the temporal transformer.
        drop_rate: dropout before the classifier (a linear layer with PyTorch's default init).
    """

    def __init__(
        self,
        backbone: nn.Module,
        num_classes: NumClasses = 400,
        embed_dim: int = 256,
        depth: int = 3,
        num_heads: int = 8,
        max_frames: int = 64,
        drop: float = 0.1,
        drop_rate: float = 0.5,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.temporal = TemporalTransformer(
            backbone.num_features, embed_dim, depth, num_heads, max_len=max_frames + 1, drop=drop,
        )
        self.create_head(embed_dim, num_classes, pool="token", drop_rate=drop_rate)  # CLS token

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        T = x.shape[2]
        x = self.backbone(fold_frames(x))  # (B*T, F, h, w)
        x = unfold_frames(x.mean((2, 3)), T)  # (B, T, F)
        return self.temporal(x)  # (B, T + 1, D)

    def checkpoint_filter(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """An ImageNet checkpoint of the backbone (torchvision/timm layout) under ``backbone.``."""
        backbone_filter = getattr(self.backbone, "checkpoint_filter", None)
        state = backbone_filter(state_dict) if backbone_filter is not None else state_dict
        state = drop_keys(state, ("fc.", "classifier.", "head."))
        return {(k if k.startswith("backbone.") else f"backbone.{k}"): v for k, v in state.items()}


def _per_frame_init(source: str, layouts: tuple[str, ...], notes: str) -> InitSpec:
    return InitSpec(dataset="ImageNet-1K", method="per-frame", sources=(source,), layouts=layouts,
                    notes=f"under `backbone.`, {notes}; temporal transformer new")


@register_model(ModelSpec(
    paper_name="VTN-R50", category="composite", paper_params_m=26.5,
    init=_per_frame_init("resnet50", ("torchvision-resnet50",), "fc dropped"),
))
def vtn_r50(*, frames: int = 16, **kwargs) -> VTN:
    return VTN(resnet50_trunk(), max_frames=max(64, frames), **kwargs)


@register_model(ModelSpec(
    paper_name="VTN-EFF", category="composite", paper_params_m=6.8,
    init=_per_frame_init("efficientnet_b0", ("torchvision-efficientnet_b0", "timm-efficientnet_b0"),
                         "torchvision IMAGENET1K_V1 weights or timm's, classifier dropped"),
))
def vtn_eff(*, frames: int = 16, drop_path_rate: float = 0.2, **kwargs) -> VTN:
    return VTN(EfficientNetB0(drop_path_rate), max_frames=max(64, frames), **kwargs)
