"""What each step of ``litevid.optimize`` buys, per model, on this machine: the layout rule's data.

Times three forms of every model in one process, interleaved round by round (so machine noise
is shared): ``plain`` (the model as registered), ``folded`` (every rewrite of ``litevid.optimize``
that the contiguous layout takes: BatchNorm folded, one-pass shifts, in-place activations,
oneDNN linears) and ``folded+cl`` (the same in channels-last, plus the 3D-ops-via-2D routes);
``optimized`` is whichever of the two the rule picks. Prints medians, ratios to plain and each
model's share of multiply-adds in convolutions; ``optimization.api.CONV_SHARE_FOR_CHANNELS_LAST``
comes from this table (docs/optimize.md). Runs under the bench's allocator settings (re-executes
itself on Linux)::

    python tools/optimize_ablation.py --json ablation.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import torch

import litevid


def main(argv: list[str] | None = None) -> int:
    from litevid.devices.host import allocator_settings, reexec_with_allocator_env

    if argv is None:
        reexec_with_allocator_env()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="all")
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iters", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    names = litevid.list_models() if args.models == "all" else args.models.split(",")
    shape = (3, args.frames, args.size, args.size)
    x = torch.randn(1, *shape)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, single clip "
          f"{args.frames}x{args.size}, fp32, {args.rounds} interleaved rounds x {args.iters}, "
          f"allocator {allocator_settings()}", flush=True)
    results = []
    for name in names:
        torch.manual_seed(0)
        plain = litevid.create_model(name, frames=args.frames, size=args.size).eval()
        forms = {
            "plain": plain,
            "folded": litevid.optimize(plain, input_shape=shape, layout="contiguous"),
            "folded+cl": litevid.optimize(plain, input_shape=shape, layout="channels_last"),
        }
        auto = litevid.optimize(plain, input_shape=shape)
        samples: dict[str, list[float]] = {k: [] for k in forms}
        with torch.inference_mode():
            ref = plain(x)
            for m in forms.values():
                for _ in range(args.warmup):
                    m(x)
            for _ in range(args.rounds):
                for k, m in forms.items():
                    for _ in range(args.iters):
                        t0 = time.perf_counter()
                        m(x)
                        samples[k].append((time.perf_counter() - t0) * 1e3)
            err = max(((ref - f(x)).abs().max() / ref.abs().max()).item()
                      for f in forms.values())
        med = {k: statistics.median(v) for k, v in samples.items()}
        chosen = "folded+cl" if auto.report.layout == "channels_last" else "folded"
        best = min(("folded", "folded+cl"), key=med.get)
        r = {"model": name, "conv_share": auto.report.conv_share, "median_ms": med,
             "folded_vs_plain": med["folded"] / med["plain"],
             "cl_vs_plain": med["folded+cl"] / med["plain"],
             "rule_layout": auto.report.layout, "faster_layout": best,
             "rule_right": chosen == best, "optimized_vs_plain": med[chosen] / med["plain"],
             "max_rel_err": err, "report": auto.report.to_dict()}
        results.append(r)
        print(f"{name:12s} conv {r['conv_share']:.2f}  plain {med['plain']:8.1f}  folded "
              f"{med['folded']:8.1f} ({r['folded_vs_plain']:.2f}x)  folded+cl "
              f"{med['folded+cl']:8.1f} ({r['cl_vs_plain']:.2f}x)  rule: {auto.report.layout}"
              f" ({'right' if r['rule_right'] else 'WRONG'}), optimized "
              f"{r['optimized_vs_plain']:.2f}x plain, max rel err {err:.1e}", flush=True)
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
