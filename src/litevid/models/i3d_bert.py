"""I3D-BERT: an I3D-inflated ResNet-50 followed by one BERT layer (late temporal modelling).

Kalfaoglu et al. 2020, "Late Temporal Modeling in 3D CNN Architectures with BERT". Their code has
no I3D-ResNet-50 + BERT model, so the study built one; the variant here is the one that reproduces
its 50.6M parameters (MODELS.md section 3): a *fully* inflated ResNet-50 (stem 7x7x7, every 3x3 ->
3x3x3), temporal stride 2 in the stem only (16 frames -> 8 time steps), spatial average pooling,
a 2048 -> 512 projection, a CLS token and positional embedding, one pre-norm BERT layer (8 heads,
feed-forward 2048) with BERT5's training-time token masking, and a linear classifier on the CLS
output. Time steps are pooled adaptively to ``ceil(frames / 2)`` tokens, so other clip lengths work.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from ..layers import TemporalTransformer
from ..layers.classifier import NumClasses
from ._base import VideoModel
from ._registry import InitSpec, ModelSpec, register_model
from ._weights import drop_keys, inflate_conv2d_weight
from .resnet import resnet50_trunk

__all__ = ["I3DBert"]


def _init_classifier(fc: nn.Linear) -> None:
    nn.init.xavier_uniform_(fc.weight)  # BERT5's classifier init
    nn.init.zeros_(fc.bias)


class I3DBert(VideoModel):
    def __init__(
        self,
        num_classes: NumClasses = 400,
        frames: int = 16,
        dim: int = 512,
        depth: int = 1,
        num_heads: int = 8,
        drop: float = 0.1,
        drop_rate: float = 0.8,
        token_keep_prob: float = 0.8,
    ) -> None:
        super().__init__()
        self.backbone = resnet50_trunk(dims=3, stem_kt=7, stem_stride_t=2, conv2_kt=3)
        self.num_tokens = math.ceil(frames / 2)
        self.pool = nn.AdaptiveAvgPool3d((self.num_tokens, 1, 1))
        self.temporal = TemporalTransformer(
            self.backbone.num_features, dim, depth, num_heads, max_len=self.num_tokens + 1,
            drop=drop, final_norm=False, final_drop=drop, token_keep_prob=token_keep_prob,
        )
        self.create_head(dim, num_classes, pool="token", drop_rate=drop_rate,
                         init_fn=_init_classifier)  # on the CLS token

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.backbone(x)  # (B, 2048, T/2, h, w)
        if x.shape[2] == self.num_tokens:  # the trunk halved T: the pool is a spatial mean
            x = x.mean((3, 4))  # (B, 2048, tokens); ONNX/Core ML have no adaptive 3D pool
        else:
            x = self.pool(x).flatten(2)
        x = x.transpose(1, 2)  # (B, tokens, 2048)
        return self.temporal(x)  # (B, tokens + 1, 512)

    def checkpoint_filter(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Inflate a torchvision/timm 2D ``resnet50`` (A.5 rule: repeat over time, divide by kt)."""
        own = self.state_dict()
        out = {}
        for k, v in drop_keys(state_dict, ("fc.",)).items():
            k = k if k.startswith("backbone.") else f"backbone.{k}"
            target = own.get(k)
            if target is not None and v.dim() == 4 and target.dim() == 5:
                v = inflate_conv2d_weight(v, target.shape[2])
            out[k] = v
        return out


@register_model(ModelSpec(
    paper_name="I3D-BERT", category="composite", paper_params_m=50.6,
    init=InitSpec(dataset="ImageNet-1K", method="i3d-inflation", sources=("resnet50",),
                  layouts=("torchvision-resnet50",),
                  notes="conv1 7x7 -> 7x7x7 (/7), every 3x3 -> 3x3x3 (/3), 1x1 -> 1x1x1, BN "
                        "copied, fc dropped; BERT is new"),
))
def i3d_bert(*, frames: int = 16, **kwargs) -> I3DBert:
    return I3DBert(frames=frames, **kwargs)
