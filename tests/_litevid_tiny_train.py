"""Tiny registered models for the training tests (imported with ``--import _litevid_tiny_train``).

No batch norm and no dropout: a step's result depends only on the clips in it, so one process
and two DDP processes with the same effective batch must agree. ``_tiny_train_slow`` sleeps in
every forward so a test can kill a run mid-epoch; ``_tiny_train_nan`` returns NaN logits from
its ``LITEVID_TEST_NAN_AFTER``-th training forward on.
"""

import os
import time

import torch
import torch.nn as nn

from litevid.models import InitSpec, ModelSpec, VideoModel, register_model


class TinyVideoNet(VideoModel):
    def __init__(self, num_classes=8, width=12, sleep_s=0.0, nan_after=None):
        super().__init__()
        self.conv1 = nn.Conv3d(3, width, 3, stride=(1, 2, 2), padding=1)
        self.norm1 = nn.GroupNorm(1, width)
        self.conv2 = nn.Conv3d(width, width, 3, stride=(1, 2, 2), padding=1)
        self.norm2 = nn.GroupNorm(1, width)
        self.sleep_s, self.nan_after, self.calls = sleep_s, nan_after, 0
        self.create_head(width, num_classes, pool=(2, 3, 4))

    def forward_features(self, x):
        if self.sleep_s:
            time.sleep(self.sleep_s)
        if self.training:
            self.calls += 1
        x = torch.relu(self.norm1(self.conv1(x)))
        x = torch.relu(self.norm2(self.conv2(x)))
        if self.nan_after is not None and self.calls >= self.nan_after:
            x = x * float("nan")
        return x  # (B, width, T, H/4, W/4)


def _spec():
    return ModelSpec(paper_name="tiny", category="baseline", frames=4, size=32,
                     init=InitSpec(dataset=None, method="scratch"))


@register_model(_spec())
def _tiny_train_net(**kwargs):
    return TinyVideoNet(**kwargs)


@register_model(_spec())
def _tiny_train_slow(**kwargs):
    return TinyVideoNet(sleep_s=float(os.environ.get("LITEVID_TEST_SLEEP", "0.05")), **kwargs)


@register_model(_spec())
def _tiny_train_nan(**kwargs):
    return TinyVideoNet(nan_after=int(os.environ.get("LITEVID_TEST_NAN_AFTER", "5")), **kwargs)


NAMES = ("_tiny_train_net", "_tiny_train_slow", "_tiny_train_nan")  # what this module registers
