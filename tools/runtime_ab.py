"""Exported runtime vs eager PyTorch, interleaved in one process: the ratio without machine drift.

``litevid bench --runtime eager,executorch`` measures each (model, runtime) in its own process,
one after the other; on a shared VM the machine's speed drifts between those jobs by 10-30%,
which is as large as the differences being measured. This tool builds both steps in one process
(the artefact exported and parity-checked exactly as the bench does it, by
``export.runtime_step.prepare_runtime_step``) and alternates them round by round, so both see
the same machine; it reports both medians and their ratio. Run it with the bench's allocator
settings (``devices.host.ALLOCATOR_ENV``); it re-executes itself with them on Linux::

    python tools/runtime_ab.py --models movinet_a0,movinet_a2,x3d_xs,vtn_eff,mvit_s \\
        --runtime executorch --json ab.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time


def main(argv: list[str] | None = None) -> int:
    from litevid.devices.host import reexec_with_allocator_env

    reexec_with_allocator_env()

    import torch

    import litevid
    from litevid.bench.modes import make_inputs
    from litevid.export.runtime_step import prepare_runtime_step

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="movinet_a0,movinet_a2,x3d_xs,vtn_eff,mvit_s")
    ap.add_argument("--runtime", default="executorch")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--iters", type=int, default=3, help="steps per form per round")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, single clip, fp32, "
          f"eager vs {args.runtime}, {args.rounds} interleaved rounds x {args.iters}", flush=True)
    results = []
    for name in args.models.split(","):
        spec = litevid.model_spec(name)
        shape = (spec.in_chans, spec.frames, spec.size, spec.size)
        torch.manual_seed(0)
        model = litevid.create_model(name).eval()
        x, _ = make_inputs(shape, 1, 1, torch.device("cpu"))
        exported, facts = prepare_runtime_step(name, args.runtime, x, frames=spec.frames,
                                               size=spec.size)

        def eager(model=model, x=x) -> None:
            model(x)

        steps = {"eager": eager, args.runtime: exported.step}
        samples: dict[str, list[float]] = {k: [] for k in steps}
        with torch.inference_mode():
            for step in steps.values():
                for _ in range(args.warmup):
                    step()
            for _ in range(args.rounds):
                for k, step in steps.items():
                    for _ in range(args.iters):
                        t0 = time.perf_counter()
                        step()
                        samples[k].append((time.perf_counter() - t0) * 1e3)
        med = {k: statistics.median(v) for k, v in samples.items()}
        ratio = med[args.runtime] / med["eager"]
        results.append({"model": name, "runtime": args.runtime, "median_ms": med,
                        "ratio": ratio, "n": len(samples["eager"]), "export": facts})
        print(f"{name:12s} eager {med['eager']:8.1f} ms  {args.runtime} "
              f"{med[args.runtime]:8.1f} ms  ratio {ratio:.2f}", flush=True)
    if args.json:
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=1)
        os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
