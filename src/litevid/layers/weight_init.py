"""Weight initialisations shared by several families: transformers (ViT/DeiT, Swin, MViT), CNNs
and classifier layers."""

from __future__ import annotations

import torch.nn as nn

__all__ = ["init_cnn_weights", "init_linear_normal", "init_transformer_weights"]


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


def init_cnn_weights(module: nn.Module) -> None:
    """He (fan-out) init for 2D/3D convolutions, zero biases, BatchNorm to identity.

    Apply with ``model.apply(init_cnn_weights)`` (torchvision's ResNet/EfficientNet convention).
    1D convolutions are left alone: TEA's temporal shift convs carry a structured init.
    """
    if isinstance(module, (nn.Conv2d, nn.Conv3d)):
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm2d, nn.BatchNorm3d)):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def init_linear_normal(module: nn.Linear, std: float) -> None:
    """Normal(0, ``std``) weights and zero bias: the classifiers of TSM (0.001), X3D and MoViNet
    (0.01). Pass as ``functools.partial(init_linear_normal, std=...)``."""
    nn.init.normal_(module.weight, std=std)
    nn.init.zeros_(module.bias)
