"""Training-loop overhead of `litevid train`: its epoch loop against a bare fwd+bwd+step loop.

Both loops drive the same model and optimizer on the same in-memory clips: the harness runs
``Trainer._train_epoch`` (DataLoader over an in-memory dataset with per-clip seeding, device
transfer, autocast context, loss, gradient scaler, accumulation bookkeeping, the per-step loss
read-out and non-finite check, progress and logging), the bare loop indexes a pre-stacked batch
and calls forward, cross-entropy, backward, step, zero_grad. Blocks are interleaved (H, B, H, B,
...) so machine drift hits both; the ratio of the median per-step times is reported.

Run: OMP_NUM_THREADS=2 python tools/train_overhead.py [model] [rounds]
"""

import statistics
import sys
import tempfile
import time

import torch
import torch.nn.functional as F

from litevid.train import TrainConfig
from litevid.train.data import SeededClips
from litevid.train.loop import Trainer
from litevid.utils.console import JobProgress

model = sys.argv[1] if len(sys.argv) > 1 else "movinet_a0"
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 6
STEPS, BATCH = 8, 8


class InMemory(torch.utils.data.Dataset):
    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


with tempfile.TemporaryDirectory() as out:
    cfg = TrainConfig(model=model, dataset="synthetic", frames=8, size=64, batch_size=BATCH,
                      effective_batch=BATCH, num_clips=STEPS * BATCH, workers=0, out=out,
                      db=f"{out}/r.db", log_every=10**9)
    tr = Trainer(cfg, progress=JobProgress(live=False))
    items = [tr.train_ds.dataset[i] for i in range(STEPS * BATCH)]
    tr.train_ds = SeededClips(InMemory(items), cfg.seed)
    tr.steps_per_epoch = STEPS
    x_all = torch.stack([c for c, _ in items])
    y_all = torch.tensor([t for _, t in items])
    net, opt = tr.model, tr.optimizer
    net.train()

    def harness() -> float:
        tr.state.batch_in_epoch = 0
        t0 = time.perf_counter()
        tr._train_epoch(0, tr.progress)
        return (time.perf_counter() - t0) / STEPS

    def bare() -> float:
        t0 = time.perf_counter()
        for s in range(STEPS):
            x, y = x_all[s * BATCH:(s + 1) * BATCH], y_all[s * BATCH:(s + 1) * BATCH]
            loss = F.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
        return (time.perf_counter() - t0) / STEPS

    harness(), bare()  # warm-up: allocator, lazy init
    h, b = [], []
    for _ in range(rounds):
        h.append(harness())
        b.append(bare())
    hm, bm = statistics.median(h), statistics.median(b)
    print(f"{model}, {STEPS} steps of {BATCH} clips (8x64 px) per block, {rounds} rounds, "
          f"{torch.get_num_threads()} threads")
    print(f"per step: litevid train loop {hm * 1e3:.1f} ms, bare loop {bm * 1e3:.1f} ms, "
          f"ratio {hm / bm:.4f} (overhead {100 * (hm / bm - 1):+.2f}%)")
    print(f"blocks: harness {[round(v * 1e3, 1) for v in h]} ms, bare "
          f"{[round(v * 1e3, 1) for v in b]} ms")
