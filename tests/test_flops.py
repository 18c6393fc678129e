"""FLOP counting against hand-computed multiply-adds (1 MAC = 1 FLOP)."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

import litevid
from litevid.layers import Attention


def test_conv2d_and_conv3d():
    # Conv2d 3->8, k3, pad 1 on 10x10: every output (8*10*10) costs 3*3*3 MACs.
    assert litevid.count_flops(nn.Conv2d(3, 8, 3, padding=1), (1, 3, 10, 10)).total == 8 * 100 * 27
    # Conv3d 4->6, k(3,1,1), no padding, T 5 -> 3 outputs in time, 7x7 space.
    conv3d = nn.Conv3d(4, 6, (3, 1, 1))
    assert litevid.count_flops(conv3d, (2, 4, 5, 7, 7)).total == 2 * 6 * 3 * 49 * (4 * 3)


def test_linear():
    assert litevid.count_flops(nn.Linear(16, 32), (4, 16)).total == 4 * 16 * 32


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_attention_counts_sdpa(device):
    # x (B=2, N=10, D=64), 4 heads: qkv 2*10*64*192, proj 2*10*64*64, and the two attention
    # matmuls (q k^T and attn v): 2 * B*heads*N*N*hd.
    attn = Attention(64, num_heads=4).to(device)
    counts = litevid.count_flops(attn, (2, 10, 64))
    linear = 2 * 10 * 64 * 192 + 2 * 10 * 64 * 64
    attention = 2 * (2 * 4 * 10 * 10 * 16)
    assert counts.total == linear + attention
    assert sum(v for k, v in counts.items() if "attention" in k or k == "bmm") == attention


def test_backward_is_counted():
    # The input is data (no grad), so backward of one linear layer is one more matmul of the same
    # size (grad weight); a second layer also needs grad input of its input: 2 more.
    fwd = litevid.count_flops(nn.Linear(16, 32), (4, 16)).total
    assert litevid.count_flops(nn.Linear(16, 32), (4, 16), backward=True).total == 2 * fwd
    two = nn.Sequential(nn.Linear(16, 32), nn.Linear(32, 8))
    f1, f2 = 4 * 16 * 32, 4 * 32 * 8
    assert litevid.count_flops(two, (4, 16), backward=True).total == 2 * f1 + 3 * f2


def test_sdpa_backward_on_cpu():
    attn = Attention(32, num_heads=2)
    fwd = litevid.count_flops(attn, (1, 6, 32)).total
    both = litevid.count_flops(attn, (1, 6, 32), backward=True).total
    assert both > 2 * fwd  # the CPU flash backward is registered, not counted as zero


def test_gflops_of_a_paper_model_on_meta():
    with torch.device("meta"):
        model = litevid.create_model("tsm_r50")
    # MODELS.md: 65.4 GFLOPs at 16x224x224 (TSM paper: 65 G for 16 frames).
    assert litevid.count_flops(model, (1, 3, 16, 224, 224)).gflops == pytest.approx(65.4, abs=0.1)


def test_grouped_conv_backward_counts_each_group_once():
    """torch's counter counts a grouped conv's weight gradient as if it were dense (``groups``
    times too much); litevid's count is forward-sized for the weight and input gradients."""
    for groups in (1, 4, 16):
        conv = nn.Conv3d(16, 16, 3, padding=1, groups=groups)
        fwd = litevid.count_flops(conv, (2, 16, 4, 8, 8)).total
        # input without grad: forward + weight gradient = 2 x forward, whatever the groups
        assert litevid.count_flops(conv, (2, 16, 4, 8, 8), backward=True).total == 2 * fwd
        net = nn.Sequential(nn.Conv3d(16, 16, 1), conv)  # the depthwise input needs a gradient
        both = litevid.count_flops(net, (2, 16, 4, 8, 8), backward=True).total
        assert both == 2 * litevid.count_flops(net[0], (2, 16, 4, 8, 8)).total + 3 * fwd
