"""Every registered model, present and future, runs correctly in ``channels_last_3d``.

The benchmark measures both memory layouts (depthwise 3D convs are several times faster on CPU in
channels-last), so a model must give the same logits when its parameters and input are converted.
Zero-initialised parameters (ReZero scalars, zero-init BN gammas, zero-init projections) are
perturbed first so that every branch contributes to the output being compared.
"""

from __future__ import annotations

import pytest
import torch

import litevid
from litevid.models import to_channels_last

SMALL = dict(frames=4, size=64)
NUM_CLASSES = 5


@pytest.mark.parametrize("name", litevid.list_models())
def test_channels_last_3d_matches_default_layout(name):
    model = litevid.create_model(name, num_classes=NUM_CLASSES, **SMALL).eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.numel() and not p.any():  # dead at init: wake it up so its branch is compared
                p.normal_(0, 0.02)
    spec = model.spec
    x = torch.randn(2, spec.in_chans, spec.frames, spec.size, spec.size)
    with torch.no_grad():
        ref = model(x)
        to_channels_last(model)
        x_cl = x.contiguous(memory_format=torch.channels_last_3d)
        assert x_cl.is_contiguous(memory_format=torch.channels_last_3d)
        assert not x_cl.is_contiguous()  # really another layout
        out = model(x_cl)
    assert out.shape == ref.shape == (2, NUM_CLASSES)
    scale = ref.abs().max().clamp_min(1.0)
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4 * scale.item())


def test_to_channels_last_converts_5d_and_4d_parameters():
    model = to_channels_last(litevid.create_model("movinet_a0", num_classes=3, **SMALL))
    conv5d = [p for p in model.parameters() if p.dim() == 5 and p.shape[2:].numel() > 1]
    assert conv5d and all(p.is_contiguous(memory_format=torch.channels_last_3d) for p in conv5d)
