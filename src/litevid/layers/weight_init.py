"""The transformer initialisation shared by the attention-only models (ViT/DeiT, Swin, MViT)."""

from __future__ import annotations

import torch.nn as nn

__all__ = ["init_transformer_weights"]


def init_transformer_weights(module: nn.Module, std: float = 0.02) -> None:
    """Truncated-normal Linear weights, zero biases, LayerNorm to identity.

    Apply with ``model.apply(init_transformer_weights)``; convolutions keep PyTorch's default, as
    in timm's ViT/Swin and SlowFast's MViT.
    """
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=std)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        if module.weight is not None:
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
