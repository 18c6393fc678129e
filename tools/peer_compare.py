"""litevid (plain and optimized) against independent implementations of the same architectures.

Runs in one process, interleaved: each round times every form of a model for a few iterations
in turn (plain litevid, ``litevid.optimize`` form, the peer), so machine noise is shared by all
forms; the medians over all rounds are compared. Peers need torchvision, timm and pytorchvideo,
which litevid never depends on; run it from a separate environment, e.g.::

    python3 -m venv ../peers && ../peers/bin/pip install "torch==2.14.*" "torchvision==0.29.*" timm
    ../peers/bin/pip install --no-deps pytorchvideo fvcore iopath portalocker termcolor tabulate yacs
    PYTHONPATH=src ../peers/bin/python tools/peer_compare.py --mode single --json peers.json

Pairs (peer = the same architecture elsewhere; "per-frame" peers are the bare 2D backbone run on
all frames, without any temporal module, so they are a lower bound for the video model):

- x3d_xs: pytorchvideo ``create_x3d`` (X3D-XS widths and depth) at the same clip.
- swin_t: torchvision ``swin3d_t``.
- tsm_r50, vtn_r50: timm ``resnet50`` per frame; vtn_eff: timm ``efficientnet_b0`` per frame;
  vivit_fe: timm ``deit_small_patch16_224`` per frame.
- every other model: litevid plain only (its ratio is optimized / plain).

``--mode single`` times inference at batch 1 under ``torch.inference_mode``; ``--mode train``
times one SGD training step (forward, cross-entropy, backward, step) at batch 1 (the optimized
form is ``litevid.optimize(model, for_="training")``). On Linux the script re-executes itself
with the bench workers' glibc malloc settings (``litevid.devices.host.ALLOCATOR_ENV``), so
every form is timed as ``litevid bench`` would time it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from typing import Any, Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

PEERS = {
    "x3d_xs": "pytorchvideo create_x3d (XS)",
    "swin_t": "torchvision swin3d_t",
    "tsm_r50": "timm resnet50 per frame",
    "vtn_r50": "timm resnet50 per frame",
    "vtn_eff": "timm efficientnet_b0 per frame",
    "vivit_fe": "timm deit_small_patch16_224 per frame",
}
GOALS = {  # optimized / peer median for --mode single, from issue 13 (--mode train: <= 1.0)
    "x3d_xs": 0.90, "swin_t": 0.90, "tsm_r50": 1.0, "vtn_r50": 1.0, "vtn_eff": 1.0, "vivit_fe": 1.0,
}
TRAIN_GOAL = 1.0  # the training step no slower than the peer's
CONV_GOAL = 0.85  # optimized / plain for every convolutional model


class PerFrame(nn.Module):
    """A 2D backbone on every frame of a ``(B, C, T, H, W)`` clip, logits averaged over T."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, T, H, W = x.shape
        out = self.backbone(x.transpose(1, 2).reshape(B * T, C, H, W))
        return out.reshape(B, T, -1).mean(1)


def build_peer(name: str, frames: int, size: int) -> nn.Module:
    if name == "x3d_xs":
        from pytorchvideo.models.x3d import create_x3d

        return create_x3d(input_clip_length=frames, input_crop_size=size, depth_factor=2.2,
                          model_num_class=400)
    if name == "swin_t":
        from torchvision.models.video import swin3d_t

        return swin3d_t(num_classes=400)
    if name == "mvit_b":  # litevid's side: litevid.models.mvit.mvit_b (the MViT class)
        from torchvision.models.video import mvit_v1_b

        return mvit_v1_b(num_classes=400)
    import timm

    backbone = {"tsm_r50": "resnet50", "vtn_r50": "resnet50", "vtn_eff": "efficientnet_b0",
                "vivit_fe": "deit_small_patch16_224"}[name]
    kwargs = {"img_size": size} if name == "vivit_fe" else {}
    return PerFrame(timm.create_model(backbone, pretrained=False, num_classes=400, **kwargs))


def make_step(model: nn.Module, mode: str, x: torch.Tensor) -> Callable[[], Any]:
    if mode == "single":
        model.eval()

        def infer() -> None:
            with torch.inference_mode():
                model(x)

        return infer
    model.train()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-3,
                          momentum=0.9)
    target = torch.zeros(x.shape[0], dtype=torch.long)

    def train() -> None:
        out = model(x)
        out = out if torch.is_tensor(out) else next(iter(out.values()))
        F.cross_entropy(out, target % out.shape[-1]).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return train


def compare(name: str, mode: str, frames: int, size: int, rounds: int, iters: int,
            warmup: int, compile: bool, peers: bool = True) -> dict[str, Any]:
    import litevid

    torch.manual_seed(0)
    x = torch.randn(1, 3, frames, size, size)
    plain = litevid.create_model(name, frames=frames, size=size)
    forms: dict[str, nn.Module] = {"plain": plain}
    fast = litevid.optimize(plain, for_="inference" if mode == "single" else "training",
                            compile=compile, input_shape=(3, frames, size, size))
    forms["optimized"] = fast
    if peers and name in PEERS:
        forms["peer"] = build_peer(name, frames, size)
    if mode == "single":  # parity of the optimized form, reported with the timings
        with torch.inference_mode():
            a, b = plain.eval()(x), fast(x)
        a = a if torch.is_tensor(a) else next(iter(a.values()))
        b = b if torch.is_tensor(b) else next(iter(b.values()))
        parity = ((a - b).abs().max() / a.abs().max()).item()
    else:
        parity = None
    steps = {k: make_step(m, mode, x) for k, m in forms.items()}
    for step in steps.values():
        for _ in range(warmup):
            step()
    samples: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(rounds):
        for k, step in steps.items():
            for _ in range(iters):
                t0 = time.perf_counter()
                step()
                samples[k].append((time.perf_counter() - t0) * 1e3)
    med = {k: statistics.median(v) for k, v in samples.items()}
    out: dict[str, Any] = {
        "model": name, "mode": mode, "input": f"1x3x{frames}x{size}x{size}",
        "peer": PEERS.get(name), "median_ms": med, "n": {k: len(v) for k, v in samples.items()},
        "optimized_vs_plain": med["optimized"] / med["plain"],
        "optimize": fast.report.summary(), "parity_rel": parity,
        "conv_share": fast.report.conv_share,
    }
    if mode == "single" and fast.report.conv_share >= 0.5:  # a convolutional model
        out["goal_vs_plain"] = CONV_GOAL
    if "peer" in med:
        out["plain_vs_peer"] = med["plain"] / med["peer"]
        out["optimized_vs_peer"] = med["optimized"] / med["peer"]
        out["goal_vs_peer"] = GOALS[name] if mode == "single" else TRAIN_GOAL
    return out


def main(argv: list[str] | None = None) -> int:
    from litevid.devices.host import allocator_settings, reexec_with_allocator_env

    if argv is None:
        reexec_with_allocator_env()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="all", help="comma list (default: every registered model)")
    ap.add_argument("--mode", default="single", choices=("single", "train"))
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    ap.add_argument("--iters", type=int, default=2, help="timed steps per form per round")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--compile", action="store_true", help="optimized form with torch.compile")
    ap.add_argument("--no-peers", action="store_true",
                    help="plain vs optimized only (runs without torchvision/timm/pytorchvideo)")
    ap.add_argument("--json", help="write the results to this file")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    import litevid

    names = litevid.list_models() if args.models == "all" else args.models.split(",")
    results = []
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, mode {args.mode}, "
          f"{args.frames}x{args.size}, {args.rounds} rounds x {args.iters} iterations, "
          f"interleaved, allocator {allocator_settings()}", flush=True)
    for name in names:
        try:
            r = compare(name, args.mode, args.frames, args.size, args.rounds, args.iters,
                        args.warmup, args.compile, peers=not args.no_peers)
        except Exception as exc:  # a peer that does not build here: say so, go on
            print(f"{name}: error: {type(exc).__name__}: {exc}", flush=True)
            results.append({"model": name, "mode": args.mode,
                            "error": f"{type(exc).__name__}: {exc}"})
            continue
        results.append(r)
        med = r["median_ms"]
        line = (f"{name:12s} plain {med['plain']:9.1f} ms  optimized {med['optimized']:9.1f} ms "
                f"({r['optimized_vs_plain']:.2f}x plain"
                + (f", goal <= {r['goal_vs_plain']:.2f})" if "goal_vs_plain" in r else ")"))
        if "peer" in med:
            line += (f"  peer {med['peer']:9.1f} ms: plain {r['plain_vs_peer']:.2f}x, optimized "
                     f"{r['optimized_vs_peer']:.2f}x (goal <= {r['goal_vs_peer']:.2f})")
        print(line + f"  [{r['optimize']}]", flush=True)
    if args.json:
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"torch": torch.__version__, "threads": torch.get_num_threads(),
                       "allocator": allocator_settings(),
                       "args": vars(args), "results": results}, f, indent=1)
        os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
