"""Harness overhead of `litevid bench`: its timed loop against a bare perf_counter loop.

Compares the harness's timed loop (modes.prepare_step + its inference context + timing.run_timed
with a progress callback, exactly what runner.run_job does) against a bare perf_counter loop on
the same model object and the same input tensor. Blocks are interleaved (H, B, H, B, ...) so
machine load drifts hit both equally. Reports the ratio of median per-iteration samples and of
wall time per iteration (the latter includes the loop's own bookkeeping between samples).

Run: ROUNDS=10 OMP_NUM_THREADS=2 python tools/bench_overhead.py [model]
     (--noop-only: only the absolute per-iteration cost of the harness on an empty step)
"""

import statistics
import sys
import time

import torch

from litevid import create_model, list_models
from litevid.bench.modes import make_inputs, prepare_step
from litevid.bench.timing import StopRule, run_timed, warm_up
from litevid.devices import get_backend

CPU = get_backend("cpu")


def noop_overhead(n: int = 200_000) -> None:
    """Absolute cost the harness adds, free of model noise: time an empty step both ways."""
    step = lambda: None  # noqa: E731
    timer = CPU.timer()
    r = run_timed(step, timer, StopRule(min_iters=n, min_seconds=0.0, max_iters=n),
                  on_iter=lambda i: None)
    bare, t_start = [], time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        step()
        bare.append((time.perf_counter() - t0) * 1e3)
    b_wall = time.perf_counter() - t_start
    print(f"empty step, {n} iterations: median sample harness {statistics.median(r.samples_ms) * 1e3:.3f} us, "
          f"bare {statistics.median(bare) * 1e3:.3f} us; wall per iteration harness "
          f"{r.wall_s / n * 1e6:.3f} us, bare {b_wall / n * 1e6:.3f} us")


if "--noop-only" in sys.argv:
    noop_overhead()
    raise SystemExit(0)
sys.argv = [a for a in sys.argv if not a.startswith("--")]
name = sys.argv[1] if len(sys.argv) > 1 else next(
    n for n in ("vtn_eff", "x3d_xs", "movinet_a0", "tsm_r50") if n in list_models())
FRAMES, SIZE, ITERS, ROUNDS = 8, 112, 20, int(__import__("os").environ.get("ROUNDS", 6))
torch.manual_seed(0)
model = create_model(name, frames=FRAMES, size=SIZE)
x, target = make_inputs((3, FRAMES, SIZE, SIZE), 1, model.num_classes, torch.device("cpu"))

# harness path
prepared = prepare_step(model, "single", x, target, device=CPU, precision="fp32")
timer = CPU.timer()
progress_calls = []

def on_iter(n):  # what the CLI does per iteration (a cheap callback)
    progress_calls.append(n)

def harness_block():
    with prepared.context():
        r = run_timed(prepared.step, timer, StopRule(min_iters=ITERS, min_seconds=0.0,
                                                     max_iters=ITERS), on_iter=on_iter)
    return r.samples_ms, r.wall_s

def bare_block():
    samples = []
    t_start = time.perf_counter()
    with torch.inference_mode():
        for _ in range(ITERS):
            t0 = time.perf_counter()
            model(x)
            samples.append((time.perf_counter() - t0) * 1e3)
    return samples, time.perf_counter() - t_start

with prepared.context():
    warm_up(prepared.step, timer, 5)
h_samples, b_samples, h_wall, b_wall = [], [], 0.0, 0.0
for r in range(ROUNDS):
    first, second = (harness_block, bare_block) if r % 2 == 0 else (bare_block, harness_block)
    for fn in (first, second):
        s, w = fn()
        if fn is harness_block:
            h_samples += s; h_wall += w
        else:
            b_samples += s; b_wall += w

n = ROUNDS * ITERS
hm, bm = statistics.median(h_samples), statistics.median(b_samples)
print(f"model {name} at {FRAMES}x{SIZE}x{SIZE}, single mode, CPU, {torch.get_num_threads()} threads, "
      f"{ROUNDS} interleaved rounds x {ITERS} iterations per method")
print(f"median per-iteration: harness {hm:.3f} ms, bare {bm:.3f} ms, ratio {hm / bm:.4f}")
print(f"mean per-iteration:   harness {statistics.fmean(h_samples):.3f} ms, bare "
      f"{statistics.fmean(b_samples):.3f} ms, ratio "
      f"{statistics.fmean(h_samples) / statistics.fmean(b_samples):.4f}")
print(f"wall per iteration:   harness {h_wall / n * 1e3:.3f} ms, bare {b_wall / n * 1e3:.3f} ms, "
      f"ratio {(h_wall / n) / (b_wall / n):.4f}")
noop_overhead()
