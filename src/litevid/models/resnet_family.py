"""TSN-style 2D-per-frame models on a ResNet trunk: TSM-R50, NL-R50, TEA-R50.

- TSM-R50 (Lin et al. 2019): residual temporal shift of 1/8 + 1/8 channels in every bottleneck.
- NL-R50 (Wang et al. 2018): a 2D (C2D/TSN) ResNet-50 with five spatio-temporal non-local blocks,
  after ``layer2[0,2]`` and ``layer3[0,2,4]`` (the placement of the TSM repository). No temporal
  shift: the study lists NL separately from TSM. As in the original embedded-Gaussian code the
  affinity is not scaled by 1/sqrt(d).
- TEA-R50 (Li et al. 2020): Res2Net-50 with motion excitation (ME) and multiple temporal
  aggregation (MTA: depthwise temporal convs, initialised to identity / shift) in every block.

All three fold time into the batch and use the TSN head: per-frame pooling, dropout, a per-frame
linear layer and the mean of the per-frame logits (average consensus). Inputs follow ImageNet
normalisation; the trunks load torchvision/timm ImageNet checkpoints by name (``backbone.`` prefix
added by ``checkpoint_filter``).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..layers import TemporalShift, fold_frames, sdpa, unfold_frames
from ._base import VideoModel
from ._registry import ModelSpec, register_model
from ._weights import drop_keys
from .resnet import ResNet, res2net50_trunk, resnet50_trunk

__all__ = ["TSNModel", "NonLocalBlock", "MotionExcitation", "TemporalConvShift"]


class NonLocalBlock(nn.Module):
    """Embedded-Gaussian non-local block over all T*H*W positions of a clip.

    Keys and values are max-pooled 2x2 in space (sub-sampling); the output BN starts at zero so the
    block starts as the identity.
    """

    def __init__(self, channels: int, scaled: bool = False) -> None:
        super().__init__()
        inner = channels // 2
        self.scale = inner ** -0.5 if scaled else 1.0
        self.theta = nn.Conv3d(channels, inner, 1)
        self.phi = nn.Conv3d(channels, inner, 1)
        self.g = nn.Conv3d(channels, inner, 1)
        self.pool = nn.MaxPool3d((1, 2, 2))
        self.W = nn.Sequential(nn.Conv3d(inner, channels, 1), nn.BatchNorm3d(channels))
        nn.init.zeros_(self.W[1].weight)
        nn.init.zeros_(self.W[1].bias)

    def forward(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        NT, C, H, W = x.shape
        x5 = unfold_frames(x, num_frames).transpose(1, 2)  # (B, C, T, H, W)
        B = x5.shape[0]
        q = self.theta(x5).flatten(2).transpose(1, 2)  # (B, T*H*W, C/2)
        k = self.pool(self.phi(x5)).flatten(2).transpose(1, 2)  # (B, T*H/2*W/2, C/2)
        v = self.pool(self.g(x5)).flatten(2).transpose(1, 2)
        y = sdpa(q[:, None], k[:, None], v[:, None], scale=self.scale)[:, 0]  # one head
        y = y.transpose(1, 2).reshape(B, C // 2, num_frames, H, W)  # (B, C/2, T, H, W)
        z = x5 + self.W(y)
        return z.transpose(1, 2).reshape(NT, C, H, W)


class MotionExcitation(nn.Module):
    """TEA's ME: channel attention from feature differences of adjacent frames."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        c = channels // reduction
        self.conv1 = nn.Conv2d(channels, c, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False)
        self.conv3 = nn.Conv2d(c, channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(channels)
        for conv in (self.conv1, self.conv2, self.conv3):
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        b = self.bn1(self.conv1(x))  # (B*T, c, H, W)
        nxt = unfold_frames(self.conv2(b), num_frames)  # (B, T, c, H, W)
        cur = unfold_frames(b, num_frames)
        diff = nxt[:, 1:] - cur[:, :-1]  # (B, T-1, c, H, W): conv(b)[t+1] - b[t]
        diff = F.pad(diff, (0, 0, 0, 0, 0, 0, 0, 1))  # zero motion for the last frame
        diff = diff.reshape(b.shape).mean((2, 3), keepdim=True)  # (B*T, c, 1, 1)
        y = torch.sigmoid(self.bn3(self.conv3(diff))) - 0.5
        return x + x * y


class TemporalConvShift(nn.Module):
    """TEA's learnable shift: a depthwise temporal conv (k=3) applied at every pixel.

    ``mode="fixed"`` starts as the identity; ``mode="shift"`` starts as a temporal shift (TEA's
    last group: its first half takes frame t+1, its second half frame t-1). All taps stay learnable.
    """

    def __init__(self, channels: int, mode: str = "fixed") -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 3, padding=1, groups=channels, bias=False)
        with torch.no_grad():
            w = torch.zeros_like(self.conv.weight)  # (C, 1, 3): taps for t-1, t, t+1
            if mode == "fixed":
                w[:, 0, 1] = 1.0
            elif mode == "shift":
                fold = channels // 2
                w[:fold, 0, 2] = 1.0
                w[fold:2 * fold, 0, 0] = 1.0
            else:
                raise ValueError(f"unknown TemporalConvShift mode {mode!r}")
            self.conv.weight.copy_(w)

    def forward(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        NT, C, H, W = x.shape
        x = unfold_frames(x, num_frames)  # (B, T, C, H, W)
        x = x.permute(0, 3, 4, 2, 1).reshape(-1, C, num_frames)  # (B*H*W, C, T)
        x = self.conv(x)
        x = x.reshape(NT // num_frames, H, W, C, num_frames).permute(0, 4, 3, 1, 2)  # (B, T, C, H, W)
        return x.reshape(NT, C, H, W)


class TSNModel(VideoModel):
    """A 2D trunk applied per frame with the TSN average-consensus head."""

    def __init__(self, backbone: ResNet, num_classes: int = 400, drop_rate: float = 0.5) -> None:
        super().__init__()
        self.backbone = backbone
        self.num_classes = num_classes
        self.num_features = backbone.num_features
        self.head_drop = nn.Dropout(drop_rate)
        self.head = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()
        if num_classes > 0:
            nn.init.normal_(self.head.weight, std=0.001)  # TSM's new_fc init
            nn.init.zeros_(self.head.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        T = x.shape[2]
        x = self.backbone(fold_frames(x), T)  # (B*T, 2048, h, w)
        return unfold_frames(x, T)  # (B, T, 2048, h, w)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.head_drop(x.mean((3, 4)))  # (B, T, 2048)
        if pre_logits:
            return x.mean(1)
        return self.head(x).mean(1)  # per-frame logits, averaged over T

    def checkpoint_filter(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """torchvision/timm ``resnet50`` / ``res2net50_26w_4s``, or a TSM-repo checkpoint."""
        out = {}
        for k, v in drop_keys(state_dict, ("fc.", "new_fc.", "base_model.fc.")).items():
            k = k.removeprefix("base_model.").replace(".net.", ".")  # TSM repo layout
            out[k if k.startswith("backbone.") else f"backbone.{k}"] = v
        return out


# ---- builders and registered variants ---------------------------------------------------------

_R50_INIT = "ImageNet-1K ResNet-50 (torchvision/timm `resnet50` keys, fc dropped), 2D per frame"


def _nl_blocks(scaled: bool = False) -> dict[str, nn.Module]:
    return {
        "layer2_0": NonLocalBlock(512, scaled), "layer2_2": NonLocalBlock(512, scaled),
        "layer3_0": NonLocalBlock(1024, scaled), "layer3_2": NonLocalBlock(1024, scaled),
        "layer3_4": NonLocalBlock(1024, scaled),
    }


@register_model(ModelSpec(
    name="tsm_r50", paper_name="TSM-R50", category="baseline", family="resnet_family",
    paper_params_m=24.3, pretrained=_R50_INIT + "; the shift adds no parameters",
))
def tsm_r50(*, num_classes: int = 400, drop_rate: float = 0.5, shift_div: int = 8,
            frames: int = 16, size: int = 224) -> TSNModel:
    trunk = resnet50_trunk(temporal_factory=lambda: TemporalShift(shift_div))
    return TSNModel(trunk, num_classes, drop_rate)


@register_model(ModelSpec(
    name="nl_r50", paper_name="NL-R50", category="standalone-attention", family="resnet_family",
    paper_params_m=31.7, pretrained=_R50_INIT + "; the 5 non-local blocks are new (output BN = 0)",
))
def nl_r50(*, num_classes: int = 400, drop_rate: float = 0.5, nl_scaled: bool = False,
           frames: int = 16, size: int = 224) -> TSNModel:
    return TSNModel(resnet50_trunk(extra_blocks=_nl_blocks(nl_scaled)), num_classes, drop_rate)


@register_model(ModelSpec(
    name="tea_r50", paper_name="TEA-R50", category="standalone-attention", family="resnet_family",
    paper_params_m=24.9,
    pretrained="ImageNet-1K Res2Net-50 26w4s (timm `res2net50_26w_4s` / official keys, fc "
               "dropped); ME and temporal shift convs are new (identity / shift init)",
))
def tea_r50(*, num_classes: int = 400, drop_rate: float = 0.5, frames: int = 16, size: int = 224) -> TSNModel:
    trunk = res2net50_trunk(
        me_layer=MotionExcitation,
        shift_layer=lambda width, i: TemporalConvShift(width, "shift" if i == 3 else "fixed"),
    )
    return TSNModel(trunk, num_classes, drop_rate)
