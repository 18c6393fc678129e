"""Attention-only models: ImageNet weight mapping, embedding resizing, Swin windows, MViT pooling.

Checkpoints are state dicts built here in the timm / Microsoft key layouts (DeiT, 2D Swin), with
the real key names and narrow widths so the tests stay fast; forward, backward and parameter
counts of the registered defaults are covered by ``test_models.py``.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import litevid
from litevid.layers.pos_embed import resample_pos_embed_1d, resample_pos_embed_2d
from litevid.models.video_swin import (
    SwinBlock3D,
    compute_shift_mask,
    get_window_size,
    relative_position_index,
)
from litevid.models.vivit import FrameViT

SMALL = dict(frames=4, size=64)
TINY_VIT = dict(embed_dim=32, depth=2, num_heads=2)
TINY_SWIN = dict(embed_dim=8, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4))


# ---- checkpoint layouts ------------------------------------------------------------------------


def _vit_state(dim: int, depth: int, grid: int = 14, classes: int = 1000) -> dict[str, torch.Tensor]:
    """A timm/DeiT ``deit_*_patch16_224`` state dict (real key names, width ``dim``)."""
    shapes = {
        "cls_token": (1, 1, dim), "pos_embed": (1, 1 + grid * grid, dim),
        "patch_embed.proj.weight": (dim, 3, 16, 16), "patch_embed.proj.bias": (dim,),
        "norm.weight": (dim,), "norm.bias": (dim,),
        "head.weight": (classes, dim), "head.bias": (classes,),
    }
    for i in range(depth):
        p = f"blocks.{i}."
        shapes.update({
            p + "norm1.weight": (dim,), p + "norm1.bias": (dim,),
            p + "attn.qkv.weight": (3 * dim, dim), p + "attn.qkv.bias": (3 * dim,),
            p + "attn.proj.weight": (dim, dim), p + "attn.proj.bias": (dim,),
            p + "norm2.weight": (dim,), p + "norm2.bias": (dim,),
            p + "mlp.fc1.weight": (4 * dim, dim), p + "mlp.fc1.bias": (4 * dim,),
            p + "mlp.fc2.weight": (dim, 4 * dim), p + "mlp.fc2.bias": (dim,),
        })
    return {k: torch.randn(s) * 0.1 for k, s in shapes.items()}


def _swin2d_state(embed: int, depths, heads, window: int = 7, classes: int = 1000) -> dict[str, torch.Tensor]:
    """Microsoft ``swin_tiny_patch4_window7_224.pth`` layout (``checkpoint['model']``)."""
    n = window * window
    s = {
        "patch_embed.proj.weight": torch.randn(embed, 3, 4, 4), "patch_embed.proj.bias": torch.randn(embed),
        "patch_embed.norm.weight": torch.randn(embed), "patch_embed.norm.bias": torch.randn(embed),
    }
    for i, (depth, h) in enumerate(zip(depths, heads)):
        c = embed * 2 ** i
        for j in range(depth):
            p = f"layers.{i}.blocks.{j}."
            s.update({
                p + "norm1.weight": torch.randn(c), p + "norm1.bias": torch.randn(c),
                p + "attn.relative_position_bias_table": torch.randn((2 * window - 1) ** 2, h),
                p + "attn.relative_position_index": torch.randint(0, (2 * window - 1) ** 2, (n, n)),
                p + "attn.qkv.weight": torch.randn(3 * c, c), p + "attn.qkv.bias": torch.randn(3 * c),
                p + "attn.proj.weight": torch.randn(c, c), p + "attn.proj.bias": torch.randn(c),
                p + "norm2.weight": torch.randn(c), p + "norm2.bias": torch.randn(c),
                p + "mlp.fc1.weight": torch.randn(4 * c, c), p + "mlp.fc1.bias": torch.randn(4 * c),
                p + "mlp.fc2.weight": torch.randn(c, 4 * c), p + "mlp.fc2.bias": torch.randn(c),
            })
            if j % 2 == 1 and i < len(depths) - 1:  # shifted blocks store their mask
                s[p + "attn_mask"] = torch.zeros(4, n, n)
        if i < len(depths) - 1:
            s[f"layers.{i}.downsample.reduction.weight"] = torch.randn(2 * c, 4 * c)
            s[f"layers.{i}.downsample.norm.weight"] = torch.randn(4 * c)
            s[f"layers.{i}.downsample.norm.bias"] = torch.randn(4 * c)
    c = embed * 2 ** (len(depths) - 1)
    s.update({"norm.weight": torch.randn(c), "norm.bias": torch.randn(c),
              "head.weight": torch.randn(classes, c), "head.bias": torch.randn(classes)})
    return s


def _to_timm_swin(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The same weights as timm >= 0.9 stores them (merging at the next stage, ``head.fc``)."""
    out = {}
    for k, v in state.items():
        if k.endswith(("relative_position_index", "attn_mask")):
            continue  # non-persistent buffers in timm
        parts = k.split(".")
        if parts[0] == "layers" and parts[2] == "downsample":
            parts[1] = str(int(parts[1]) + 1)
        if parts[0] == "head":
            parts.insert(1, "fc")
        out[".".join(parts)] = v
    return out


def _resized_grid(pos: torch.Tensor, old: int, new: int) -> torch.Tensor:
    grid = pos[:, 1:].reshape(1, old, old, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(new, new), mode="bicubic", align_corners=False)
    return grid.permute(0, 2, 3, 1).reshape(1, new * new, -1)


# ---- TimeSformer -------------------------------------------------------------------------------


def test_timesformer_loads_deit_base_layout():
    model = litevid.create_model("timesformer", num_classes=5, **SMALL, **TINY_VIT)
    state = _vit_state(32, 2)
    report = model.load_pretrained(state)
    assert not report.unexpected and not report.mismatched
    assert set(report.missing) == {"head.fc.weight", "head.fc.bias"}
    sd = model.state_dict()
    for i in range(2):
        for src, dst in (("attn.qkv", "temporal_attn.qkv"), ("attn.proj", "temporal_attn.proj"),
                         ("norm1", "temporal_norm1")):
            for t in ("weight", "bias"):
                assert torch.equal(sd[f"blocks.{i}.{src}.{t}"], state[f"blocks.{i}.{src}.{t}"])
                assert torch.equal(sd[f"blocks.{i}.{dst}.{t}"], state[f"blocks.{i}.{src}.{t}"])
        assert torch.equal(sd[f"blocks.{i}.mlp.fc2.weight"], state[f"blocks.{i}.mlp.fc2.weight"])
        assert not sd[f"blocks.{i}.temporal_fc.weight"].any() and not sd[f"blocks.{i}.temporal_fc.bias"].any()
    assert not sd["time_embed"].any() and sd["time_embed"].shape == (1, 4, 32)
    # 224 -> 64 pixels: the 14x14 patch grid is resized bicubic to 4x4; the CLS entry is kept
    assert sd["pos_embed"].shape == (1, 1 + 16, 32)
    assert torch.equal(sd["pos_embed"][:, :1], state["pos_embed"][:, :1])
    assert torch.allclose(sd["pos_embed"][:, 1:], _resized_grid(state["pos_embed"], 14, 4), atol=1e-6)
    assert torch.equal(sd["cls_token"], state["cls_token"])
    assert torch.equal(sd["patch_embed.proj.weight"], state["patch_embed.proj.weight"])


def test_timesformer_from_deit_equals_the_image_model_on_a_still_clip():
    # temporal_fc = 0 and time_embed = 0: on identical frames TimeSformer is DeiT applied per frame
    state = _vit_state(32, 2)
    video = litevid.create_model("timesformer", num_classes=0, **SMALL, **TINY_VIT).eval()
    video.load_pretrained(state)
    image = FrameViT(size=64, embed_dim=32, depth=2, num_heads=2).eval()
    image_state = {k: v for k, v in state.items() if not k.startswith("head.")}
    image_state["pos_embed"] = video.pos_embed.detach().clone()
    image.load_state_dict(image_state)
    frame = torch.randn(2, 3, 1, 64, 64)
    with torch.no_grad():
        expected = image(frame)[:, 0]  # (B, D)
        got = video(frame.expand(-1, -1, 4, -1, -1))
    assert torch.allclose(got, expected, atol=1e-5)


def test_timesformer_other_clip_shapes_and_embedding_resize():
    with torch.device("meta"):
        full = litevid.create_model("timesformer", frames=8, size=112)
    assert full.pos_embed.shape == (1, 1 + 7 * 7, 768) and full.time_embed.shape == (1, 8, 768)
    model = litevid.create_model("timesformer", num_classes=3, frames=8, size=112, **TINY_VIT).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 8, 112, 112)).shape == (1, 3)
        # an input other than the built one: embeddings are resized on the fly
        assert model(torch.randn(1, 3, 3, 64, 96)).shape == (1, 3)
    # a TimeSformer checkpoint for 8 frames loads into a 4-frame model (nearest in time)
    small = litevid.create_model("timesformer", num_classes=3, **SMALL, **TINY_VIT)
    sd = {k: v for k, v in model.state_dict().items()}
    sd["time_embed"] = torch.arange(8.0).reshape(1, 8, 1).expand(1, 8, 32).clone()
    report = small.load_pretrained(sd)
    assert not report.mismatched and not report.missing  # 3 classes: the classifier is kept
    assert any("time_embed resized from 8 to 4" in n for n in report.notes)
    assert small.time_embed[0, :, 0].tolist() == [0.0, 2.0, 4.0, 6.0]
    assert small.pos_embed.shape == (1, 17, 32)


def test_resample_helpers():
    pos = torch.randn(1, 1 + 14 * 14, 8)
    out = resample_pos_embed_2d(pos, (7, 5), 1)
    assert out.shape == (1, 1 + 35, 8) and torch.equal(out[:, :1], pos[:, :1])
    assert resample_pos_embed_2d(pos, (14, 14), 1) is pos
    const = torch.ones(1, 1 + 16, 8)
    assert torch.allclose(resample_pos_embed_2d(const, (6, 6), 1), torch.ones(1, 37, 8), atol=1e-5)
    with pytest.raises(ValueError, match="square"):
        resample_pos_embed_2d(torch.randn(1, 1 + 15, 8), (4, 4), 1)
    seq = torch.arange(4.0).reshape(1, 4, 1)
    assert resample_pos_embed_1d(seq, 8)[0, :, 0].tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    with_cls = torch.arange(5.0).reshape(1, 5, 1)
    assert resample_pos_embed_1d(with_cls, 2, num_prefix_tokens=1).shape == (1, 3, 1)


# ---- ViViT-FE ----------------------------------------------------------------------------------


def test_vivit_loads_deit_small_layout_into_spatial_encoder():
    model = litevid.create_model("vivit_fe", num_classes=5, temporal_depth=1, **SMALL, **TINY_VIT)
    state = _vit_state(32, 2)
    report = model.load_pretrained(state)
    assert not report.unexpected and not report.mismatched
    new = {k for k in model.state_dict() if k.startswith(("temporal_", "head."))}
    assert set(report.missing) == new  # everything else came from DeiT
    assert {k.split(".")[0] for k in report.loaded} == {"spatial"}
    sd = model.state_dict()
    for k in ("blocks.1.attn.qkv.weight", "blocks.0.mlp.fc1.bias", "norm.weight", "cls_token",
              "patch_embed.proj.weight"):
        assert torch.equal(sd[f"spatial.{k}"], state[k])
    assert torch.allclose(sd["spatial.pos_embed"][:, 1:], _resized_grid(state["pos_embed"], 14, 4), atol=1e-6)


def test_vivit_other_clip_lengths():
    model = litevid.create_model("vivit_fe", num_classes=3, frames=8, size=112, temporal_depth=1, **TINY_VIT)
    assert model.temporal_pos.shape == (1, 9, 32) and model.spatial.pos_embed.shape == (1, 50, 32)
    with torch.no_grad():
        assert model.eval()(torch.randn(2, 3, 8, 112, 112)).shape == (2, 3)
        assert model(torch.randn(1, 3, 5, 48, 48)).shape == (1, 3)  # resized on the fly


# ---- Video Swin --------------------------------------------------------------------------------


def _swin(**kwargs):
    return litevid.create_model("swin_t", num_classes=5, **dict(dict(SMALL, **TINY_SWIN), **kwargs))


def test_swin_inflates_microsoft_swin_tiny_layout():
    model = _swin()
    state = _swin2d_state(8, TINY_SWIN["depths"], TINY_SWIN["num_heads"])
    report = model.load_pretrained(state)
    assert not report.mismatched
    assert set(report.missing) == {"head.fc.weight", "head.fc.bias"}
    assert set(report.unexpected) == set()  # index and mask buffers are rebuilt, not loaded
    sd = model.state_dict()
    assert not any(k.endswith(("relative_position_index", "attn_mask")) for k in sd)
    w3 = sd["patch_embed.proj.weight"]
    assert w3.shape == (8, 3, 2, 4, 4)
    w2 = state["patch_embed.proj.weight"]
    assert torch.allclose(w3[:, :, 0], w2 / 2) and torch.allclose(w3[:, :, 1], w2 / 2)
    for i, depth in enumerate(TINY_SWIN["depths"]):
        for j in range(depth):
            key = f"layers.{i}.blocks.{j}.attn.relative_position_bias_table"
            table = sd[key]
            assert table.shape == (15 * 13 * 13, TINY_SWIN["num_heads"][i])
            for dt in range(15):  # every temporal offset sees the 2D bias
                assert torch.equal(table[dt * 169:(dt + 1) * 169], state[key])
            assert torch.equal(sd[f"layers.{i}.blocks.{j}.attn.qkv.weight"],
                               state[f"layers.{i}.blocks.{j}.attn.qkv.weight"])
        if i < 3:
            assert torch.equal(sd[f"layers.{i}.downsample.reduction.weight"],
                               state[f"layers.{i}.downsample.reduction.weight"])
    assert torch.equal(sd["norm.weight"], state["norm.weight"])
    # semantic check: the bias the block uses for offset (dt, dh, dw) is the 2D bias of (dh, dw)
    attn = model.layers[0].blocks[0].attn
    bias3 = attn.relative_position_bias((8, 7, 7))  # (heads, 392, 392)
    idx2 = relative_position_index((1, 7, 7), (1, 7, 7))  # a 2D index in the 3D formula
    bias2 = state["layers.0.blocks.0.attn.relative_position_bias_table"][idx2.reshape(-1)]
    bias2 = bias2.reshape(49, 49, -1).permute(2, 0, 1)
    assert torch.equal(bias3[:, :49, :49], bias2)  # frame 0 vs frame 0
    assert torch.equal(bias3[:, 49 * 5:49 * 6, :49], bias2)  # frame 5 vs frame 0


def test_swin_timm_layout_gives_the_same_weights():
    state = _swin2d_state(8, TINY_SWIN["depths"], TINY_SWIN["num_heads"])
    ms, timm_model = _swin(), _swin()
    ms.load_pretrained(state)
    report = timm_model.load_pretrained(_to_timm_swin(state))
    assert not report.unexpected and not report.mismatched
    assert set(report.missing) == {"head.fc.weight", "head.fc.bias"}
    a, b = ms.state_dict(), timm_model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a if not k.startswith("head."))


def test_swin_bias_table_is_resized_for_another_spatial_window():
    model = _swin(window=(4, 5, 5))
    state = _swin2d_state(8, TINY_SWIN["depths"], TINY_SWIN["num_heads"])
    report = model.load_pretrained(state)
    assert not report.mismatched and set(report.missing) == {"head.fc.weight", "head.fc.bias"}
    table = model.layers[1].blocks[0].attn.relative_position_bias_table
    assert table.shape == (7 * 9 * 9, 2)
    assert torch.equal(table[:81], table[81 * 6:])  # tiled over the 7 temporal offsets


def test_get_window_size_rule():
    # paper input: T' = 8 equals the temporal window -> no temporal shift; 7x7 maps not shifted
    assert get_window_size((8, 56, 56), (8, 7, 7), (4, 3, 3)) == ((8, 7, 7), (0, 3, 3))
    assert get_window_size((8, 7, 7), (8, 7, 7), (4, 3, 3)) == ((8, 7, 7), (0, 0, 0))
    assert get_window_size((16, 56, 56), (8, 7, 7), (4, 3, 3)) == ((8, 7, 7), (4, 3, 3))
    assert get_window_size((2, 4, 9), (8, 7, 7), (4, 3, 3)) == ((2, 4, 7), (0, 0, 3))


def _reference_window_attention(block: SwinBlock3D, x: torch.Tensor, window, shift) -> torch.Tensor:
    """Slow reference: roll, slice-filled region ids, window by window, explicit softmax, -inf mask."""
    B, T, H, W, C = x.shape
    attn = block.attn
    nh, hd = attn.num_heads, C // attn.num_heads
    Wt, Wh, Ww = attn.window
    xs = torch.roll(x, shifts=tuple(-s for s in shift), dims=(1, 2, 3))
    region = torch.zeros(T, H, W)
    cnt = 0
    slices = [((slice(0, L - w), slice(L - w, L - s), slice(L - s, L)) if s else (slice(0, L),))
              for L, w, s in zip((T, H, W), window, shift)]
    for st in slices[0]:
        for sh in slices[1]:
            for sw in slices[2]:
                region[st, sh, sw] = cnt
                cnt += 1
    out = torch.zeros_like(xs)
    table = attn.relative_position_bias_table
    for t0 in range(0, T, window[0]):
        for h0 in range(0, H, window[1]):
            for w0 in range(0, W, window[2]):
                pos = [(t, h, w) for t in range(t0, t0 + window[0]) for h in range(h0, h0 + window[1])
                       for w in range(w0, w0 + window[2])]
                tok = torch.stack([xs[:, t, h, w] for t, h, w in pos], dim=1)  # (B, N, C)
                q, k, v = attn.qkv(tok).reshape(B, len(pos), 3, nh, hd).permute(2, 0, 3, 1, 4)
                logits = q @ k.transpose(-1, -2) / math.sqrt(hd)
                for i, (ti, hi, wi) in enumerate(pos):
                    for j, (tj, hj, wj) in enumerate(pos):
                        row = ((ti - tj + Wt - 1) * (2 * Wh - 1) * (2 * Ww - 1)
                               + (hi - hj + Wh - 1) * (2 * Ww - 1) + (wi - wj + Ww - 1))
                        logits[:, :, i, j] += table[row]
                        if region[ti, hi, wi] != region[tj, hj, wj]:
                            logits[:, :, i, j] = float("-inf")
                o = (logits.softmax(-1) @ v).transpose(1, 2).reshape(B, len(pos), C)
                o = attn.proj(o)
                for n, (t, h, w) in enumerate(pos):
                    out[:, t, h, w] = o[:, n]
    return torch.roll(out, shifts=tuple(shift), dims=(1, 2, 3))


@pytest.mark.parametrize("grid, window, shift", [
    ((4, 6, 6), (2, 3, 3), (1, 1, 1)),  # shifted in all three dims
    ((1, 6, 6), (1, 3, 3), (0, 1, 1)),  # T smaller than the window: shrunk window, no time shift
    ((2, 2, 6), (2, 2, 3), (0, 0, 1)),  # H shrinks: the offsets of a 2x2x3 window, not a slice
    ((4, 6, 6), (2, 3, 3), (0, 0, 0)),  # plain windows
])
def test_swin_shifted_window_attention_matches_reference(grid, window, shift):
    block = SwinBlock3D(8, num_heads=2, window=(2, 3, 3), shift=(1, 1, 1) if any(shift) else (0, 0, 0)).eval()
    assert get_window_size(grid, block.window, block.shift) == (window, shift)
    x = torch.randn(2, *grid, 8)
    with torch.no_grad():
        got = block._attention(x)
        expected = _reference_window_attention(block, x, window, shift)
    assert torch.allclose(got, expected, atol=1e-5)


def test_swin_shift_mask_separates_regions():
    block = SwinBlock3D(8, num_heads=2, window=(2, 3, 3), shift=(1, 1, 1)).eval()
    x = torch.randn(1, 4, 6, 6, 8)
    x2 = x.clone()
    x2[0, 0, 0, 0] += 10.0  # rolled to the last corner window, region (2, 2, 2)
    with torch.no_grad():
        a, b = block._attention(x), block._attention(x2)
    changed = (a - b).abs().amax(-1)[0] > 1e-6  # (T, H, W)
    assert changed[0, 0, 0]
    # (3, 5, 5) shares the rolled window with (0, 0, 0) but lies in another region: untouched
    assert not changed[3, 5, 5]
    # (0, 0, 0) is alone in its region of that window, so no other token reacts
    assert changed.sum() == 1
    mask = compute_shift_mask((4, 6, 6), (2, 3, 3), (1, 1, 1))
    assert mask.shape == (8, 18, 18)
    assert set(mask.unique().tolist()) == {0.0, -100.0}
    assert not mask[0].any()  # the first window holds one region only


def test_swin_other_sizes_and_padding():
    model = _swin(frames=8, size=112).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 8, 112, 112)).shape == (1, 5)
        assert model(torch.randn(1, 3, 5, 70, 50)).shape == (1, 5)  # padded tubelets and windows
        feats = model.forward_features(torch.randn(1, 3, 8, 112, 112))
    assert feats.shape == (1, 4, 4, 4, 64)  # (B, T/2, H/32, W/32, 8C)


# ---- MViT-S ------------------------------------------------------------------------------------


def test_mvit_pooling_schedule_at_paper_input():
    with torch.device("meta"):
        model = litevid.create_model("mvit_s").eval()
        seen, kv = [], []
        hooks = [blk.register_forward_hook(lambda m, a, out: seen.append((out[1], tuple(out[0].shape))))
                 for blk in model.blocks]
        hooks += [blk.attn.pool_k.register_forward_hook(lambda m, a, out: kv.append(out[1]))
                  for blk in model.blocks]
        assert model(torch.zeros(1, 3, 16, 224, 224)).shape == (1, 400)
    for h in hooks:
        h.remove()
    thw = [s[0] for s in seen]
    assert thw == [(8, 28, 28)] * 3 + [(8, 14, 14)] * 7 + [(8, 7, 7)] * 6
    widths = [s[1][2] for s in seen]
    assert widths == [128, 128, 256] + [256] * 6 + [512] * 7
    assert [s[1][1] for s in seen] == [1 + math.prod(t) for t in thw]
    # SlowFast's adaptive K/V stride is divided at the query-pooling block itself, whose input is
    # still the larger grid: keys/values are 8x7x7 except in blocks 3 and 10 (8x14x14)
    assert kv == [(8, 7, 7)] * 3 + [(8, 14, 14)] + [(8, 7, 7)] * 6 + [(8, 14, 14)] + [(8, 7, 7)] * 5
    assert [b.attn.num_heads for b in model.blocks] == [1] * 3 + [2] * 7 + [4] * 6
    assert [b.attn.pool_k.pool.stride for b in model.blocks] == \
        [(1, 4, 4)] * 3 + [(1, 2, 2)] * 7 + [(1, 1, 1)] * 6
    assert [i for i, b in enumerate(model.blocks) if b.attn.pool_q is not None] == [3, 10]
    assert [i for i, b in enumerate(model.blocks) if b.proj is not None] == [2, 9]
    spec = litevid.model_spec("mvit_s")
    assert "MViT paper" in spec.paper_params_source
    assert spec.init.dataset is None and spec.init.from_scratch and "no public" in spec.init.notes


def test_mvit_small_clip_and_other_sizes():
    model = litevid.create_model("mvit_s", num_classes=3, **SMALL).eval()
    assert model.pos_embed_spatial.shape == (1, 64, 128) and model.pos_embed_temporal.shape == (1, 2, 128)
    with torch.no_grad():
        assert model(torch.randn(2, 3, 4, 64, 64)).shape == (2, 3)
        assert model(torch.randn(1, 3, 8, 96, 80)).shape == (1, 3)  # embeddings resized on the fly


@pytest.mark.parametrize("name, gflops", [("timesformer", 392.1), ("vivit_fe", 73.6),
                                          ("swin_t", 43.9), ("mvit_s", 29.9)])
def test_gflops_at_paper_input(name, gflops):
    from litevid.bench.flops import count_flops

    with torch.device("meta"):
        model = litevid.create_model(name)
    assert count_flops(model, (1, 3, 16, 224, 224)).gflops == pytest.approx(gflops, abs=0.1)


@pytest.mark.parametrize("name, kwargs", [
    ("timesformer", dict(embed_dim=32, depth=1, num_heads=2)),
    ("vivit_fe", dict(embed_dim=32, depth=1, temporal_depth=1, num_heads=2)),
    ("swin_t", dict(embed_dim=8, depths=(2, 2, 2, 2), num_heads=(1, 1, 2, 2))),
    ("mvit_s", dict(embed_dim=16, depth=11)),
])
def test_torch_export_matches_eager(name, kwargs):
    # no data-dependent control flow: shifts, masks, windows and pooled grids come from shapes
    model = litevid.create_model(name, num_classes=3, **SMALL, **kwargs).eval()
    x = torch.randn(1, 3, 4, 64, 64)
    exported = torch.export.export(model, (x,))
    with torch.no_grad():
        assert torch.allclose(exported.module()(x), model(x), atol=1e-5)
